# Mask R-CNN smoke run (a minute on 2 CPU cores): configs/instance/mask-rcnn_r50_fpn_1x_sota.py with a
# ResNet-18 of 16 base channels, 32-channel FPN and heads, fewer proposals and sampled RoIs, images at
# half size, one epoch of one image per step, then COCO bbox / segm mAP on the validation list.
# Data: the SAMRS SOTA instances under $SAMRS_DATA_ROOT/sota, as the real config (`make demo` writes them):
#   SAMRS_DATA_ROOT=work_dirs/demo/samrs python tools/train.py configs/smoke/mask_rcnn_sota.py \
#     --work-dir work_dirs/smoke/mask_rcnn
# `make demo` trains this config (step 7). docs/smoke_configs.md.
_base_ = ['../instance/mask-rcnn_r50_fpn_1x_sota.py']
c = 32  # the width of the FPN and every head
model = dict(
    backbone=dict(depth=18, init_cfg=None, stem_channels=16, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=c),
    rpn_head=dict(in_channels=c, feat_channels=c),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=c), bbox_head=dict(in_channels=c, fc_out_channels=128),
                  mask_roi_extractor=dict(out_channels=c), mask_head=dict(in_channels=c, conv_out_channels=c)),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rpn_proposal=dict(nms_pre=500, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    # a random model scores ~1 / classes: a low threshold keeps a few predictions to evaluate
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=50), rcnn=dict(max_per_img=20, score_thr=0.01)))
# The SOTA patches (1024 px) at half size.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale_factor=0.5, keep_ratio=True),
    dict(type='RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale_factor=0.5, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
