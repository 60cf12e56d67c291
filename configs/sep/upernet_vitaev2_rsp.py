# SEP: UperNet ViTAEv2-S initialised from RSP (MillionAID) weights (paper Tables 3 / 9).
# Get rsp-vitaev2-s-ckpt.pth from ViTAE-Transformer-Remote-Sensing (docs/backbones.md);
# the official file is converted on load.
_base_ = './upernet_vitaev2.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_VITAEV2_S_RSP:pretrained/rsp-vitaev2-s-ckpt.pth}}')))
