# UperNet ViTAEv2-S for fine-tuning (IMP init: the official ImageNet ViTAEv2-S, converted on
# load; see docs/backbones.md): the model of configs/sep/upernet_vitaev2.py with stock
# heads. Optimiser of the paper's Table 7: AdamW lr 6e-5, wd 1e-2, cosine to 0, no weight
# decay on norms, biases and position tables.
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
