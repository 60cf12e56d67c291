# Mask R-CNN Swin-T-FPN on SAMRS SOTA instances, the backbone initialised from SEP
# (configs/sep/upernet_swin_t.py). The backbone is mmseg's SwinTransformer, the very module
# SEP trains, so the converted checkpoint loads key for key; neck, RPN and RoI heads start
# fresh. Make the init (docs/samrs_tasks.md):
#   python tools/convert_sep_checkpoint.py work_dirs/upernet_swin_t/iter_80000.pth \
#       checkpoints/sep_init/mask-rcnn_swin-t-sep.pth --target detector \
#       --config configs/instance/mask-rcnn_swin-t-sep_fpn_1x_sota.py
# and point $SAMRS_SEP_INIT at it (or --cfg-options load_from=...). AdamW as mmdet's Swin-T
# Mask R-CNN (lr 1e-4, wd 0.05, no decay on norms and position tables).
_base_ = './mask-rcnn_r50_fpn_1x_sota.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/mask-rcnn_swin-t-sep.pth}}'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        use_abs_pos_embed=False,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]))
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)}),
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
