# SEP: UperNet ViT-B/16 (IMP init, mmseg's ViT + multi-level neck), 80k iterations, global
# batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine to 0, layer-wise lr decay
# 0.9 (paper Table 7); no weight decay on position embedding, class token, norms and biases.
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/sep_80k_adamw.py', '../_base_/default_runtime.py'
]
model = dict(
    pretrained='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/vit/vit_base_patch16_224.pth',  # noqa
    data_preprocessor=dict(size=(224, 224)),
    backbone=dict(img_size=(224, 224), drop_path_rate=0.1, final_norm=True),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
