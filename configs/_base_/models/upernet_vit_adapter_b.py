# UperNet ViT-Adapter-B (IMP init: DeiT-B, its ViT part converted on load), stock heads.
# The adapter outputs the 4 levels itself: no neck. The position embedding stays at its 224
# pre-training grid and is resized in the forward pass, so any crop size works.
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
