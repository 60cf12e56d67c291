# SAMRS pre-training data (paper Sec. 4.1): SOTA + SIOR + FAST mixed in proportional
# batches by MultiSourceSampler. Layout under $SAMRS_DATA_ROOT (default data/samrs):
#   sota/images/*.png  sota/semantic/*.png  sota/train.txt  sota/val.txt
#   sior/images/*.jpg  sior/semantic/*.png  sior/train.txt  sior/val.txt
#   fast/images/*.png  fast/semantic/*.png  fast/train.txt  fast/val.txt
# (tools/samrs_annotate.py + tools/make_splits.py write it; for the official SAMRS release
# see docs/sep.md). Augmentation: random scale, crop 224, h/v flip, rot90, colour jitter
# or gamma. Validation: 512x512 centre crops, mIoU per subset (Table 9).
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
crop_size = (224, 224)
val_crop_size = (512, 512)
# The subsets have different class lists: ConcatDataset must not insist they agree.
concat_ignore_keys = ['classes', 'palette', 'label_map', 'reduce_zero_label']
subset_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                    'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                    'subset', 'subset_index')
augment = [
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90', prob=0.5),
    dict(type='RandomApply', prob=0.3, transforms=[
        dict(type='RandomChoice', transforms=[
            [dict(type='PhotoMetricDistortion', brightness_delta=18, contrast_range=(0.9, 1.1),
                  saturation_range=(0.9, 1.1), hue_delta=9)],
            [dict(type='RandomGamma', gamma_range=(0.8, 1.2), prob=1.0)],
        ])
    ]),
    dict(type='PackSegInputs', meta_keys=subset_meta_keys),
]
load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
# Random scale in [0.5, 2] of each subset's native image size.
sota_train_pipeline = load + [
    dict(type='TagSubset', subset='sota', subset_index=0),
    dict(type='RandomResize', scale=(1024, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
] + augment
sior_train_pipeline = load + [
    dict(type='TagSubset', subset='sior', subset_index=1),
    dict(type='RandomResize', scale=(800, 800), ratio_range=(0.5, 2.0), keep_ratio=True),
] + augment
fast_train_pipeline = load + [
    dict(type='TagSubset', subset='fast', subset_index=2),
    dict(type='RandomResize', scale=(600, 600), ratio_range=(0.5, 2.0), keep_ratio=True),
] + augment
val_tail = [
    dict(type='EvalCenterCrop', crop_size=val_crop_size),
    dict(type='PackSegInputs', meta_keys=subset_meta_keys),
]
sota_val_pipeline = load + [dict(type='TagSubset', subset='sota', subset_index=0)] + val_tail
sior_val_pipeline = load + [dict(type='TagSubset', subset='sior', subset_index=1)] + val_tail
fast_val_pipeline = load + [dict(type='TagSubset', subset='fast', subset_index=2)] + val_tail

sota_train = dict(type='SOTADataset', data_root=data_root + '/sota', ann_file='train.txt',
                  data_prefix=dict(img_path='images', seg_map_path='semantic'),
                  pipeline=sota_train_pipeline)
sior_train = dict(type='SIORDataset', data_root=data_root + '/sior', ann_file='train.txt',
                  data_prefix=dict(img_path='images', seg_map_path='semantic'),
                  pipeline=sior_train_pipeline)
fast_train = dict(type='FASTDataset', data_root=data_root + '/fast', ann_file='train.txt',
                  data_prefix=dict(img_path='images', seg_map_path='semantic'),
                  pipeline=fast_train_pipeline)
train_dataloader = dict(
    batch_size=12,  # per GPU, and MultiSourceSampler's: the paper's global batch 96 = 8 x 12
    # One worker decodes + augments 48-70 SEP samples/s (bench/loader_throughput.py): 8 feed a
    # 12-sample step every 21-31 ms per GPU. Pinned batches (~6.6 MB a step) copy to the GPU
    # at the bus's speed (docs/sep.md, "Loader settings").
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # mmengine builds `sampler` first and hands it to the batch sampler, which takes only its
    # dataset and seed: MultiSourceSampler draws the order itself.
    sampler=dict(type='InfiniteSampler', shuffle=False),
    # Every batch holds each subset in proportion to its size (B_i = L_i / sum L * B);
    # mode='avg' gives equal shares, subset_weights=[...] other proportions.
    batch_sampler=dict(type='MultiSourceSampler', mode='ratio'),
    dataset=dict(type='ConcatDataset', ignore_keys=concat_ignore_keys,
                 datasets=[sota_train, sior_train, fast_train]))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', ignore_keys=concat_ignore_keys, datasets=[
        dict(sota_train, ann_file='val.txt', pipeline=sota_val_pipeline),
        dict(sior_train, ann_file='val.txt', pipeline=sior_val_pipeline),
        dict(fast_train, ann_file='val.txt', pipeline=fast_val_pipeline),
    ]))
test_dataloader = val_dataloader
val_evaluator = dict(type='PerSubsetIoUMetric', subsets=['sota', 'sior', 'fast'])
test_evaluator = val_evaluator
