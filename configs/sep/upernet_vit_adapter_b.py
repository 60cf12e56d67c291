# SEP: UperNet ViT-Adapter-B (IMP init: DeiT-B, its ViT part converted on load), 80k
# iterations, global batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 1e-2 / cosine to 0,
# layer decay 0.95 (paper Table 7), no weight decay on norms, biases, embeddings.
#   tools/dist_train.sh configs/sep/upernet_vit_adapter_b.py 8
# The adapter outputs the 4 levels itself: no neck.
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
