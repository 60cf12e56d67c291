# SAMRS rotated-box detection (mmrotate 1.0.0rc1): one subset (SOTA here; the SIOR / FAST
# configs change the dataset type and folder), the SEP layout under $SAMRS_DATA_ROOT
# (default data/samrs): <subset>/images/, <subset>/instances/ (or the release's ins/),
# <subset>/train.txt, <subset>/val.txt. Boxes: le90, from the source annotation
# (rbox_source='annotation'; 'mask' = min-area rectangle of the SAM mask). The pipelines are
# mmrotate's DOTA ones (objects arrive as qbox, converted to rbox); images keep their
# native size (SOTA 1024, SIOR 800, FAST 600). Evaluation: mmrotate's DOTAMetric (mAP, IoU 0.5).
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='mmdet.PackDetInputs'),
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),
    # loaded after Resize so the ground truth stays in the image frame (as mmrotate does)
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type='SOTARotatedDataset',
        data_root=data_root + '/sota',
        ann_file='train.txt',
        data_prefix=dict(img_path='images', ins='instances'),
        rbox_source='annotation',
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SOTARotatedDataset',
        data_root=data_root + '/sota',
        ann_file='val.txt',
        data_prefix=dict(img_path='images', ins='instances'),
        rbox_source='annotation',
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
