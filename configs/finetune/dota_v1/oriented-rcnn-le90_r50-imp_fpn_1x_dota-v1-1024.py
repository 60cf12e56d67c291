# DOTA-v1.0 rotated-box detection (15 classes, 1024 x 1024 patches, gap 200): Oriented R-CNN
# R-50-FPN le90 with SEP's ResNet-50 (ResNetV1c), ImageNet init; 1x schedule (SGD 0.005 as
# mmrotate's DOTA config). Data: configs/_base_/datasets/dota_v1_patches.py ($DOTA_V1_SPLIT_ROOT).
_base_ = [
    '../../_base_/models/oriented-rcnn-le90_r50-v1c_fpn.py', '../../_base_/datasets/dota_v1_patches.py',
    'mmrotate::_base_/schedules/schedule_1x.py', '../../_base_/rotated_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=15)))
optim_wrapper = dict(optimizer=dict(lr=0.005))
