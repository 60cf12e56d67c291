# SEP: UperNet Swin-T (IMP init), 80k iterations, global batch 96 (8 x 12), crop 224,
# AdamW lr 6e-5 / wd 1e-2 / cosine to 0, no weight decay on norms and position tables
# (paper Table 7).
_base_ = [
    '../_base_/models/upernet_swin_t.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_swin.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
