# MTP smoke run (a minute or two on 2 CPU cores): configs/mtp/mtp_r50.py with a ResNet-18 of 16 base
# channels, 16-channel UperNet / FPN / RPN / RoI heads, fewer proposals and sampled RoIs, MTP's own
# augmentations at a 64 px crop, 2 iterations of 3 images (one per subset), then every task validated
# per subset. Data: the SAMRS layout with instance files under $SAMRS_DATA_ROOT (`make demo` writes one):
#   SAMRS_DATA_ROOT=work_dirs/demo/samrs python tools/train.py configs/smoke/mtp.py --work-dir work_dirs/smoke/mtp
# docs/smoke_configs.md, docs/mtp.md. The tests train this config.
_base_ = ['../mtp/mtp_r50.py']
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
crop_size = (64, 64)
meta_keys = ('img_id', 'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'subset', 'subset_index')
load = [dict(type='LoadImageFromFile'),
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_mask=True, with_seg=True),
        dict(type='LoadRotatedBoxes')]
augment = [
    dict(type='mmdet.RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True,
         resize_type='mmdet.Resize'),
    dict(type='mmdet.RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomRot90', prob=0.5),
    dict(type='mmdet.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs', meta_keys=meta_keys)]
val_tail = [dict(type='mmdet.Resize', scale=crop_size, keep_ratio=True),
            dict(type='mmdet.LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
            dict(type='LoadRotatedBoxes'),
            dict(type='PackMultiTaskInputs', meta_keys=meta_keys + ('instances',))]
kinds = [('sota', 'SOTAMultiTaskDataset'), ('sior', 'SIORMultiTaskDataset'), ('fast', 'FASTMultiTaskDataset')]
train_sets = [dict(type=kind, data_root=data_root + '/' + name, ann_file='train.txt', serialize_data=False,
                   pipeline=load + [dict(type='TagSubset', subset=name, subset_index=i)] + augment)
              for i, (name, kind) in enumerate(kinds)]
val_sets = [dict(type=kind, data_root=data_root + '/' + name, ann_file='val.txt', test_mode=True,
                 serialize_data=False,
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='TagSubset', subset=name, subset_index=i)]
                 + val_tail)
            for i, (name, kind) in enumerate(kinds)]
c = 16  # the width of every head
channels = [16, 32, 64, 128]  # the ResNet-18's stages at 16 base channels
detector = dict(neck=dict(in_channels=channels, out_channels=c), rpn_head=dict(in_channels=c, feat_channels=c),
                train_cfg=dict(rpn=dict(sampler=dict(num=32)), rpn_proposal=dict(nms_pre=100, max_per_img=50),
                               rcnn=dict(sampler=dict(num=16))),
                # a random model scores ~1 / classes: a low threshold keeps a few predictions to evaluate
                test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=20), rcnn=dict(max_per_img=10, score_thr=0.01)))
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=channels, channels=c),
    instance=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c),
                                          bbox_head=dict(in_channels=c, fc_out_channels=32),
                                          mask_roi_extractor=dict(out_channels=c),
                                          mask_head=dict(num_convs=1, in_channels=c, conv_out_channels=c))),
    rotated=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c),
                                         bbox_head=dict(in_channels=c, fc_out_channels=32))))
train_dataloader = dict(batch_size=3, num_workers=0, persistent_workers=False, pin_memory=False,
                        batch_sampler=dict(mode='avg', subset_weights=None),
                        dataset=dict(datasets=train_sets))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(datasets=val_sets))
test_dataloader = val_dataloader
max_iters = 2
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=max_iters))
randomness = dict(seed=0)
