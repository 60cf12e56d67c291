# SEP: UperNet ViTAEv2-S (IMP init: the official ImageNet ViTAEv2-S, converted on load),
# SOTA+SIOR+FAST, 80k iterations, global batch 96 (8 GPUs x 12), crop 224, AdamW lr 6e-5 /
# wd 1e-2 / cosine to 0 (paper Table 7), no weight decay on norms, biases, position tables.
#   tools/dist_train.sh configs/sep/upernet_vitaev2.py 8
# The ImageNet ViTAEv2-S checkpoint (ViTAEv2-S.pth.tar) is not auto-downloadable: see
# docs/backbones.md, then put it at pretrained/ or point SAMRS_VITAEV2_S_IMP at it.
_base_ = [
    '../_base_/models/upernet_vitaev2_s.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_vitaev2.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
