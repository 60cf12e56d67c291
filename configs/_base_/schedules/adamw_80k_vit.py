# ViT-B row of the paper's Table 7 (ViT, BEiT, ViT-B + RVSA): AdamW lr 6e-5, wd 5e-2, cosine
# to 0, layer-wise lr decay 0.9; no weight decay on position embeddings / tables, class
# token, norms, biases and layer scales (LayerDecayOptimWrapperConstructor).
_base_ = './adamw_80k.py'
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
