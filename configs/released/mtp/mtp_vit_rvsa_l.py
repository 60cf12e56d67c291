# MTP as released: MAE + MTP ViT-L + RVSA (the authors' run: 448 px, 32 GPUs x 3, 80k
# iterations): ViT-L/16 (1024 wide, 24 layers, 16 heads) + RVSA, global attention with
# decomposed relative positions in layers 5, 11, 17, 23, pyramid from layers 7, 11, 15, 23,
# absolute position embedding (1, 784, 1024); the decoders of ./mtp_vit_rvsa_b.py.
# Converted by tools/model_converters/convert_released.py (docs/model_zoo.md); every task per
# subset: python tools/test.py configs/released/mtp/mtp_vit_rvsa_l.py CONVERTED.pth
_base_ = './mtp_vit_rvsa_b.py'
vit_l_channels = [1024, 1024, 1024, 1024]
model = dict(
    backbone=dict(img_size=448, embed_dims=1024, num_layers=24, num_heads=16, interval=6,
                  out_indices=(7, 11, 15, 23)),
    decode_head=dict(in_channels=vit_l_channels),
    instance=dict(neck=dict(in_channels=vit_l_channels)),
    rotated=dict(neck=dict(in_channels=vit_l_channels)))
