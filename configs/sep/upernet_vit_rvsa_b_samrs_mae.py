# SEP: UperNet ViT-B + RVSA initialised from SAMRS-MAE (paper Tables 3 / 9, "SAMRS-MAE + SEP"):
# the MAE ViT-B/16 of configs/mae/mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py,
# pre-trained on the SAMRS training crops. Point SAMRS_MAE_VITB_SAMRS at its checkpoint
# (converted with tools/model_converters/convert_official.py vit_rvsa, or the raw
# mmpretrain file: converted on load). Everything else as configs/sep/upernet_vit_rvsa_b.py.
_base_ = './upernet_vit_rvsa_b.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_MAE_VITB_SAMRS:pretrained/samrs-mae_vit-b.pth}}')))
