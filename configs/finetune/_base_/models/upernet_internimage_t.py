# UperNet InternImage-T for fine-tuning (IMP init: the official internimage_t_1k_224.pth,
# converted on load): the model of configs/sep/upernet_internimage_t.py with stock heads.
# Optimiser of the paper's Table 7: AdamW lr 6e-5, wd 5e-2, cosine to 0, layer decay 1.0.
_base_ = './upernet_swin_t.py'
model = dict(
    backbone=dict(
        _delete_=True, type='InternImage', channels=64, depths=[4, 4, 18, 4],
        groups=[4, 8, 16, 32], mlp_ratio=4., drop_path_rate=0.2, layer_scale=1.0,
        offset_scale=1.0, post_norm=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_INTERNIMAGE_T_IMP:pretrained/internimage_t_1k_224.pth}}')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=5e-2),
    constructor='HierarchicalLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=1.0))
