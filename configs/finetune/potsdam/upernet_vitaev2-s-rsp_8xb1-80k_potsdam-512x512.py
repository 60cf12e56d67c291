# SAMRS fine-tuning row: UperNet ViTAEv2-S | RSP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1).
# RSP weights: rsp-vitaev2-s-ckpt.pth from ViTAE-Transformer-Remote-Sensing, converted
# on load (docs/backbones.md); point SAMRS_VITAEV2_S_RSP at it.
_base_ = './upernet_vitaev2-s-imp_8xb1-80k_potsdam-512x512.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_VITAEV2_S_RSP:pretrained/rsp-vitaev2-s-ckpt.pth}}')))
