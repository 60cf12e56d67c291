# ViTAEv2-S row of the paper's Table 7: Swin's lr 6e-5, wd 1e-2, cosine to 0, with the
# hierarchical constructor (layer decay 1.0), which also keeps weight decay off norms,
# biases and position tables of this package's backbones.
_base_ = './adamw_80k_swin.py'
optim_wrapper = dict(
    constructor='HierarchicalLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=1.0))
