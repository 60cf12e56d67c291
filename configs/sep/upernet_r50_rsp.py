# SEP: UperNet ResNet-50 initialised from RSP (MillionAID) weights (paper Tables 3 / 9).
# RSP checkpoints are not downloadable automatically: convert the official one with
# tools/model_converters (docs/backbones.md) and point SAMRS_RSP_R50 at it.
_base_ = './upernet_r50.py'
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', init_cfg=dict(
        type='Pretrained', checkpoint='{{$SAMRS_RSP_R50:pretrained/rsp_resnet50.pth}}')))
