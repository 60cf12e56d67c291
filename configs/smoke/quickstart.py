# Quickstart smoke run (seconds on a CPU): configs/quickstart/upernet_r18_4xb4-20k_image-folder-512x512.py
# with 16-channel heads, 64 px crops (no random scale / colour jitter), 4 iterations of 2 images,
# checkpoints every 2. Point it at an image folder (img_dir/{train,val}, ann_dir/{train,val}):
#   python tools/train.py configs/smoke/quickstart.py --work-dir work_dirs/smoke/quickstart --cfg-options \
#     train_dataloader.dataset.data_root=DATA val_dataloader.dataset.data_root=DATA \
#     test_dataloader.dataset.data_root=DATA
_base_ = ['../quickstart/upernet_r18_4xb4-20k_image-folder-512x512.py']
crop_size = (64, 64)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(channels=16),
    auxiliary_head=dict(channels=16))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
randomness = dict(seed=0)
