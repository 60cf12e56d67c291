# DOTA-v1.0 rotated-box detection on 1024 x 1024 patches (gap 200) made by
# tools/split_images.py in mmrotate's layout (images/ + labelTxt/ without header lines,
# names like P0706__1024__824___0), read by mmrotate's DOTADataset:
#   python tools/split_images.py --source dota --ann-dir DOTA-v1.0/train/labelTxt \
#       --img-dir DOTA-v1.0/train/images --out-dir $DOTA_V1_SPLIT_ROOT/train --patch-size 1024 --gap 200
#   (the same for val/)
# Trains on train/, evaluates on val/ with DOTAMetric (mAP, IoU 0.5). For the test server,
# switch the test loader to the test patches and the evaluator to
# dict(type='DOTAMetric', format_only=True, merge_patches=True, outfile_prefix=...).
dataset_type = 'DOTADataset'
data_root = '{{$DOTA_V1_SPLIT_ROOT:data/DOTA-v1.0-split}}/'
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),  # patches are all 1024 x 1024
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='mmdet.PackDetInputs'),
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),  # patches are all 1024 x 1024
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train/labelTxt/',
                 data_prefix=dict(img_path='train/images/'), img_shape=(1024, 1024),
                 filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='val/labelTxt/',
                 data_prefix=dict(img_path='val/images/'), img_shape=(1024, 1024), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
