# SEP: UperNet ResNet-50 (IMP init), SOTA+SIOR+FAST, 80k iterations, global batch 96
# (8 GPUs x 12), crop 224, AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4 (paper Table 7).
#   tools/dist_train.sh configs/sep/upernet_r50.py 8
# CPU smoke run (2 iterations on a tiny set): see docs/sep.md.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k.py', '../_base_/sep_runtime.py'
]
# The SEP heads: mmseg's decode and auxiliary heads as MultiHeadDecodeHeads (one shared
# decoder, one 1x1 classifier per SAMRS subset: sota 18, sior 20, fast 37).
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
