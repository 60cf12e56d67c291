# SAMRS fine-tuning row: UperNet ViT-B | BEiT init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1).
# BEiT weights: convert the official BEiT ViT-B checkpoint to mmseg ViT keys with
# tools/model_converters and point SAMRS_BEIT_VIT_B at it.
_base_ = './upernet_vit-b-imp_8xb1-80k_potsdam-512x512.py'
model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint='{{$SAMRS_BEIT_VIT_B:pretrained/beit_vit_b.pth}}')))
