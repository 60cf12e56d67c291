# ViT-Adapter-B row of the paper's Table 7: the ViT schedule (AdamW lr 6e-5, cosine to 0,
# LayerDecayOptimWrapperConstructor) with weight decay 1e-2 and layer decay 0.95.
_base_ = './adamw_80k_vit.py'
optim_wrapper = dict(optimizer=dict(weight_decay=1e-2), paramwise_cfg=dict(layer_decay_rate=0.95))
