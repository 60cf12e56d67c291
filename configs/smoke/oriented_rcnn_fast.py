# Oriented R-CNN smoke run (a minute on 2 CPU cores): configs/rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py
# with a ResNet-18 of 16 base channels, 32-channel FPN and heads, fewer proposals and sampled RoIs, one
# epoch of one image per step, then DOTA mAP on the validation list. Data: the SAMRS FAST rotated boxes
# under $SAMRS_DATA_ROOT/fast, as the real config (`make demo` writes them):
#   SAMRS_DATA_ROOT=work_dirs/demo/samrs python tools/train.py configs/smoke/oriented_rcnn_fast.py \
#     --work-dir work_dirs/smoke/oriented_rcnn
# `make demo` trains this config (step 8). docs/smoke_configs.md.
_base_ = ['../rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py']
c = 32  # the width of the FPN and every head
model = dict(
    backbone=dict(depth=18, init_cfg=None, stem_channels=16, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=c),
    rpn_head=dict(in_channels=c, feat_channels=c),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=c), bbox_head=dict(in_channels=c, fc_out_channels=128)),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rpn_proposal=dict(nms_pre=500, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    # a random model scores ~1 / classes: a low threshold keeps a few predictions to evaluate
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=50), rcnn=dict(max_per_img=20, score_thr=0.01)))
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
