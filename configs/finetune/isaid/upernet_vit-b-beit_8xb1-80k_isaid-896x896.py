# SAMRS fine-tuning row: UperNet ViT-B | BEiT init | 100 % of the train crops
# iSAID (foreground mIoU).
# BEiT weights: convert the official BEiT ViT-B checkpoint to mmseg ViT keys with
# tools/model_converters and point SAMRS_BEIT_VIT_B at it.
_base_ = './upernet_vit-b-imp_8xb1-80k_isaid-896x896.py'
model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint='{{$SAMRS_BEIT_VIT_B:pretrained/beit_vit_b.pth}}')))
