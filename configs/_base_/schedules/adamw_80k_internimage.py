# InternImage-T row of the paper's Table 7: as ViTAEv2-S (AdamW lr 6e-5, cosine to 0,
# hierarchical constructor with layer decay 1.0: no weight decay on norms, biases and layer
# scales) but with weight decay 5e-2.
_base_ = './adamw_80k_vitaev2.py'
optim_wrapper = dict(optimizer=dict(weight_decay=5e-2))
