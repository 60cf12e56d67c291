# UperNet ResNet-18 on a plain image folder (see configs/_base_/datasets/image_folder.py),
# mmseg's 20k SGD schedule. Point it at your data with --cfg-options, e.g.:
#   python tools/train.py configs/quickstart/upernet_r18_4xb4-20k_image-folder-512x512.py \
#     --cfg-options train_dataloader.dataset.data_root=DATA val_dataloader.dataset.data_root=DATA \
#                   test_dataloader.dataset.data_root=DATA
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', '../_base_/datasets/image_folder.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
num_classes = 2
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=128, num_classes=num_classes),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=num_classes))
