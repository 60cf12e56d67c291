# Swin-T row of the paper's Table 7: AdamW lr 6e-5, wd 1e-2, cosine to 0; no weight decay on
# norms and position tables (mmseg's Swin recipe).
_base_ = './adamw_80k.py'
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
