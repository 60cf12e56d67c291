# UperNet ViT-Adapter-B for fine-tuning (IMP init: DeiT-B, converted on load): the model of
# configs/sep/upernet_vit_adapter_b.py with stock heads. The position embedding stays at its
# 224 pre-training grid and is resized in the forward pass, so any crop size works.
# Optimiser of the paper's Table 7: AdamW lr 6e-5, wd 1e-2, cosine to 0, layer decay 0.95.
_base_ = './upernet_vit_b.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='ViTAdapter', img_size=224, drop_path_rate=0.3,
        conv_norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth')),
    neck=None,
    auxiliary_head=dict(in_index=2))
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=1e-2),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.95))
