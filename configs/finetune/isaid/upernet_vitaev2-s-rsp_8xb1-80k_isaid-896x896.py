# SAMRS fine-tuning row: UperNet ViTAEv2-S | RSP init | 100 % of the train crops
# iSAID (foreground mIoU).
# RSP weights: rsp-vitaev2-s-ckpt.pth from ViTAE-Transformer-Remote-Sensing, converted
# on load (docs/backbones.md); point SAMRS_VITAEV2_S_RSP at it.
_base_ = './upernet_vitaev2-s-imp_8xb1-80k_isaid-896x896.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_VITAEV2_S_RSP:pretrained/rsp-vitaev2-s-ckpt.pth}}')))
