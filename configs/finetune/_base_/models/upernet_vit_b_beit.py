# UperNet ViT-B with BEiT's backbone for fine-tuning (BEiT init: the official
# beit_base_patch16_224_pt22k_ft22k.pth from $SAMRS_BEIT_B, converted on load): the model of
# configs/sep/upernet_vit_b_beit.py with stock heads -- mmseg's BEiT (relative position bias
# per block, layer scale, q/v biases) as BEiTBackbone, Feature2Pyramid neck, UperNet + FCN.
# mmseg's BEiT runs at one input size: leaf configs set backbone.img_size to the crop size
# and slide at it. Its 224 relative position tables are resized to that grid on load
# (official file), or by tools/convert_sep_checkpoint.py --config (SEP checkpoint).
# ViT optimiser of the paper's Table 7: AdamW lr 6e-5, wd 5e-2, cosine to 0, layer-wise lr
# decay 0.9; no weight decay on norms, biases, layer scales, class token, position tables.
_base_ = ['mmseg::_base_/models/upernet_beit.py', '../schedules/adamw_80k.py']
model = dict(
    backbone=dict(
        type='BEiTBackbone',
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_BEIT_B:pretrained/beit_base_patch16_224_pt22k_ft22k.pth}}')))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
