# MTP as released: IMP + MTP InternImage-XL (448 px): InternImage-XL (channels 192, depths
# 5 / 5 / 24 / 5, groups 12 / 24 / 48 / 96, layer scale 1e-5, offset scale 2, post-norm, drop
# path 0.2); the decoders of ./mtp_vit_rvsa_b.py on its 192 / 384 / 768 / 1536 outputs.
# Converted by tools/model_converters/convert_released.py (docs/model_zoo.md); every task per
# subset: python tools/test.py configs/released/mtp/mtp_internimage_xl.py CONVERTED.pth
_base_ = './mtp_vit_rvsa_b.py'
xl_channels = [192, 384, 768, 1536]
model = dict(
    backbone=dict(
        _delete_=True, type='InternImage', channels=192, depths=(5, 5, 24, 5), groups=(12, 24, 48, 96),
        mlp_ratio=4., drop_path_rate=0.2, layer_scale=1e-5, offset_scale=2.0, post_norm=True),
    decode_head=dict(in_channels=xl_channels),
    instance=dict(neck=dict(in_channels=xl_channels)),
    rotated=dict(neck=dict(in_channels=xl_channels)))
# the authors' MTP optimiser for InternImage-XL: AdamW lr 2e-5, wd 5e-2, layer decay 0.94 over
# its 39 blocks (the hierarchical constructor), cosine to 0
optim_wrapper = dict(
    optimizer=dict(lr=2e-5, weight_decay=5e-2),
    constructor='HierarchicalLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.94))
