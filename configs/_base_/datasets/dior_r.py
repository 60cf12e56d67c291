# DIOR-R rotated-box detection (mmrotate's DIORDataset, le90): train + val images for
# training, test for evaluation, as mmrotate's DIOR config. $DIOR_ROOT (default data/DIOR):
#   JPEGImages-trainval/ JPEGImages-test/ Annotations/Oriented Bounding Boxes/*.xml
#   ImageSets/Main/{train,val,test}.txt
# 20 classes (the SIOR order), 800 x 800 images kept at their size, flips h / v / diagonal;
# DOTAMetric mAP.
dataset_type = 'DIORDataset'
data_root = '{{$DIOR_ROOT:data/DIOR}}/'
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),  # DIOR images are all 800 x 800
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='mmdet.PackDetInputs'),
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),  # DIOR images are all 800 x 800
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_split = dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='JPEGImages-trainval'),
                   filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(type='ConcatDataset', ignore_keys=['DATASET_TYPE'], datasets=[
        dict(train_split, ann_file='ImageSets/Main/train.txt'),
        dict(train_split, ann_file='ImageSets/Main/val.txt'),
    ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/test.txt',
                 data_prefix=dict(img_path='JPEGImages-test'), test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
