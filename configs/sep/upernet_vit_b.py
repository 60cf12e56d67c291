# SEP: UperNet ViT-B/16 (IMP init, mmseg's ViT + multi-level neck), 80k iterations, global
# batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine to 0, layer-wise lr decay
# 0.9 (paper Table 7); no weight decay on position embedding, class token, norms and biases.
_base_ = [
    '../_base_/models/upernet_vit_b.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_vit.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    backbone=dict(img_size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
