# SEP: UperNet ViT-B + RVSA (MAE init: the MillionAID MAE ViT-B of the RVSA paper,
# vit-b-checkpoint-1599.pth, converted on load), 80k iterations, global batch 96 (8 x 12),
# crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine to 0, layer decay 0.9 (paper Table 7).
#   tools/dist_train.sh configs/sep/upernet_vit_rvsa_b.py 8
# The backbone ends in its own simple feature pyramid (4 levels): no neck.
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
