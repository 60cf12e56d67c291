# SEP: UperNet ViTAEv2-S (IMP init: the official ImageNet ViTAEv2-S, converted on load),
# SOTA+SIOR+FAST, 80k iterations, global batch 96 (8 GPUs x 12), crop 224, AdamW lr 6e-5 /
# wd 1e-2 / cosine to 0 (paper Table 7), no weight decay on norms, biases, position tables.
#   tools/dist_train.sh configs/sep/upernet_vitaev2.py 8
# The ImageNet ViTAEv2-S checkpoint (ViTAEv2-S.pth.tar) is not auto-downloadable: see
# docs/backbones.md, then put it at pretrained/ or point SAMRS_VITAEV2_S_IMP at it.
_base_ = './upernet_swin_t.py'
model = dict(
    backbone=dict(
        _delete_=True, type='ViTAEv2', drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_VITAEV2_S_IMP:pretrained/ViTAEv2-S.pth.tar}}')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
optim_wrapper = dict(
    constructor='HierarchicalLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=1.0))
