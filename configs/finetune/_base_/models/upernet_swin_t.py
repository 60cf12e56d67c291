# UperNet Swin-T for fine-tuning (IMP init): the model of configs/sep/upernet_swin_t.py with
# stock heads. Swin optimiser of the paper's Table 7: AdamW lr 6e-5, wd 1e-2, cosine to 0,
# no weight decay on norms and position tables.
_base_ = ['mmseg::_base_/models/upernet_swin.py', '../schedules/adamw_80k.py']
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth'  # noqa
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7,
        use_abs_pos_embed=False, drop_path_rate=0.3, patch_norm=True),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=1e-2),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
