# SEP: UperNet ViT-B + RVSA (MAE init: the MillionAID MAE ViT-B of the RVSA paper,
# vit-b-checkpoint-1599.pth, converted on load), 80k iterations, global batch 96 (8 x 12),
# crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine to 0, layer decay 0.9 (paper Table 7).
#   tools/dist_train.sh configs/sep/upernet_vit_rvsa_b.py 8
# The backbone ends in its own simple feature pyramid (4 levels): no neck.
_base_ = [
    '../_base_/models/upernet_vit_rvsa_b.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_vit.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
