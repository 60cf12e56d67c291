# UperNet ViTAEv2-S (IMP init: the official ImageNet ViTAEv2-S, converted on load), stock
# heads. The ImageNet checkpoint (ViTAEv2-S.pth.tar) is not auto-downloadable: see
# docs/backbones.md, then put it at pretrained/ or point SAMRS_VITAEV2_S_IMP at it.
_base_ = './upernet_swin_t.py'
model = dict(
    backbone=dict(
        _delete_=True, type='ViTAEv2', drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_VITAEV2_S_IMP:pretrained/ViTAEv2-S.pth.tar}}')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
