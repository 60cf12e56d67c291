# SAMRS-MAE pre-training data (paper A.4): the SAMRS training images cut to 384 x 384 with
# stride 300 by tools/dataset_converters/samrs_mae.py (609,707 crops on the full release),
# read by mmpretrain's CustomDataset from the tool's crop list. Layout under
# $SAMRS_MAE_DATA_ROOT (default data/samrs_mae):
#   sota/*.png  sior/*.png  fast/*.png  train.txt (one crop per line, relative to the root)
# Augmentation of the RVSA MAE recipe (= MAE's): random resized crop to 224 with scale
# (0.2, 1.0), bicubic, horizontal flip; ImageNet mean / std.
data_root = '{{$SAMRS_MAE_DATA_ROOT:data/samrs_mae}}'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# Per-process batch; the RVSA recipe's global batch is 2048 = 8 GPUs x 256.
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, ann_file='train.txt',
                 data_prefix='', with_label=False, pipeline=train_pipeline))
