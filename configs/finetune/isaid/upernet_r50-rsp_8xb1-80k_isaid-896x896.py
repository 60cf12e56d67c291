# SAMRS fine-tuning row: UperNet R-50 | RSP init | 100 % of the train crops
# iSAID (foreground mIoU).
# RSP weights: convert the official checkpoint with tools/model_converters and point
# SAMRS_RSP_R50 at it (the backbone is the plain ResNet-50 the RSP weights fit).
_base_ = './upernet_r50-imp_8xb1-80k_isaid-896x896.py'
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', init_cfg=dict(
        type='Pretrained', checkpoint='{{$SAMRS_RSP_R50:pretrained/rsp_resnet50.pth}}')))
