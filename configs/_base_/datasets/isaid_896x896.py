# iSAID, SAMRS fine-tuning protocol (paper A.6): 896 x 896 crops at stride 512 made by
# tools/dataset_converters/isaid.py (33,620 train / 11,533 val crops), 16 classes trained
# (background + 15 foreground), mIoU over the 15 foreground classes (iSAIDMetric).
# Data folder: $ISAID_ROOT (default data/iSAID).
dataset_type = 'iSAIDFinetuneDataset'
data_root = '{{$ISAID_ROOT:data/iSAID}}'
crop_size = (896, 896)
# Augmentation of the authors' fine-tuning: random scale 0.5-2, crop, h/v flips, rot90.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    # prob 0.75 with k in {1, 2, 3}: each of the four orientations is equally likely.
    dict(type='RandomRot90', prob=0.75),
    dict(type='PackSegInputs'),
]
# Test crops are used at their size; models infer with a sliding window (model.test_cfg).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# Paper: batch 8 in total (8 GPUs x 1); on fewer GPUs raise batch_size to keep 8.
train_dataloader = dict(
    batch_size=1,
    # One worker decodes + augments an iSAID crop in 29-35 ms (bench/loader_throughput.py): 4 feed
    # a one-sample step every 7-9 ms (docs/sep.md, "Loader settings").
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    # mmengine's InfiniteSampler (same order) that a resume starts mid-stream.
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='iSAIDMetric')
test_evaluator = val_evaluator
