# Multi-task pre-training model with ViT-B + RVSA (MAE init: the MillionAID MAE ViT-B of the
# RVSA paper, vit-b-checkpoint-1599.pth, converted on load): ./mtp_upernet_r50.py with the
# backbone and decoder inputs of ./upernet_vit_rvsa_b.py (a test keeps the backbones equal).
# The backbone ends in its own simple feature pyramid (4 levels of 768 channels): no neck;
# the FPNs of the detection branches take those 4 levels.
_base_ = './mtp_upernet_r50.py'
vit_channels = [768, 768, 768, 768]
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='ViTRVSA', img_size=224, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_MAE_VITB_MILLIONAID:pretrained/vit-b-checkpoint-1599.pth}}')),
    decode_head=dict(in_channels=vit_channels),
    instance=dict(neck=dict(in_channels=vit_channels)),
    rotated=dict(neck=dict(in_channels=vit_channels)))
