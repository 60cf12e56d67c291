# UperNet ViT-B/16 for fine-tuning (IMP init; mmseg's ViT + multi-level neck): the model of
# configs/sep/upernet_vit_b.py with stock heads. Leaf configs set backbone.img_size to the
# crop size; tools/convert_sep_checkpoint.py --config resizes the SEP position embedding.
# ViT optimiser of the paper's Table 7: AdamW lr 6e-5, wd 5e-2, cosine to 0, layer-wise lr
# decay 0.9; no weight decay on norms, biases, position embedding and class token.
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py', '../schedules/adamw_80k.py']
model = dict(
    pretrained='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/vit/vit_base_patch16_224.pth',  # noqa
    backbone=dict(drop_path_rate=0.1, final_norm=True))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
