# UperNet ViT-B + RVSA (MAE init: the MillionAID MAE ViT-B of the RVSA paper,
# vit-b-checkpoint-1599.pth, converted on load), stock heads. The backbone ends in its own
# simple feature pyramid (4 levels): no neck. No absolute position embedding (window
# attention with relative positions): any crop size.
_base_ = './upernet_vit_b.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='ViTRVSA', img_size=224, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_MAE_VITB_MILLIONAID:pretrained/vit-b-checkpoint-1599.pth}}')),
    neck=None,
    auxiliary_head=dict(in_index=2))
