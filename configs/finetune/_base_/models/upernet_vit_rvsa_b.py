# UperNet ViT-B + RVSA for fine-tuning (MAE init: the MillionAID MAE ViT-B of the RVSA paper,
# converted on load): the model of configs/sep/upernet_vit_rvsa_b.py with stock heads. No
# absolute position embedding (window attention with relative positions): any crop size.
# Optimiser of the paper's Table 7: AdamW lr 6e-5, wd 5e-2, cosine to 0, layer decay 0.9.
_base_ = './upernet_vit_b.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='ViTRVSA', img_size=224, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_MAE_VITB_MILLIONAID:pretrained/vit-b-checkpoint-1599.pth}}')),
    neck=None,
    auxiliary_head=dict(in_index=2))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.9))
