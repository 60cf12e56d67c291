# SAMRS instance segmentation (mmdet): one subset (SOTA here; the SIOR / FAST configs change
# the dataset type and folder), the SEP layout under $SAMRS_DATA_ROOT (default data/samrs):
#   <subset>/images/   <subset>/instances/<name>.json (tools/samrs_annotate.py) or the
#   release's ins/<name>.pkl   <subset>/train.txt   <subset>/val.txt (tools/make_splits.py)
# Images stay at their native size (SOTA 1024, SIOR 800, FAST 600); flips h / v / diagonal.
# Evaluation: mmdet's CocoMetric (bbox + segm) on the val list, ground truth from the dataset.
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # 'instances' carries the ground truth to CocoMetric (no COCO json for a name list).
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='SOTAInstanceDataset',
        data_root=data_root + '/sota',
        ann_file='train.txt',
        data_prefix=dict(img='images', ins='instances'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SOTAInstanceDataset',
        data_root=data_root + '/sota',
        ann_file='val.txt',
        data_prefix=dict(img='images', ins='instances'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=None, metric=['bbox', 'segm'], format_only=False,
                     backend_args=backend_args)
test_evaluator = val_evaluator
