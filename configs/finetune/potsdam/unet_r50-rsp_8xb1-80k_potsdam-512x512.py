# SAMRS fine-tuning row: UNet R-50 | RSP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1).
# RSP weights: convert the official checkpoint with tools/model_converters and point
# SAMRS_RSP_R50 at it (the backbone is the plain ResNet-50 the RSP weights fit).
_base_ = './unet_r50-imp_8xb1-80k_potsdam-512x512.py'
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', init_cfg=dict(
        type='Pretrained', checkpoint='{{$SAMRS_RSP_R50:pretrained/rsp_resnet50.pth}}')))
