# Fine-tuning smoke run (under a minute on 2 CPU cores): the Potsdam UperNet-R50 (IMP) row,
# configs/finetune/potsdam/upernet_r50-imp_8xb1-80k_potsdam-512x512.py, with a ResNet-18, 16-channel
# heads, the real augmentations at a 64 px crop, 4 iterations of 2 crops, whole-image testing.
# Data: Potsdam crops (tools/dataset_converters/potsdam.py) under $POTSDAM_ROOT, as the real config:
#   POTSDAM_ROOT=data/potsdam python tools/train.py configs/smoke/finetune_potsdam.py --work-dir work_dirs/smoke/ft
# docs/smoke_configs.md. The tests train this config.
_base_ = ['../finetune/potsdam/upernet_r50-imp_8xb1-80k_potsdam-512x512.py']
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
crop_size = (64, 64)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=64, base_channels=64),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=16),
    auxiliary_head=dict(in_channels=256, channels=16),
    test_cfg=dict(mode='whole'))
# The fine-tuning augmentations of configs/_base_/datasets/potsdam_512x512.py at 64 px.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90', prob=0.75),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
max_iters = 4
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=max_iters, save_best=None))
randomness = dict(seed=0)
