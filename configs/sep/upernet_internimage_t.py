# SEP: UperNet InternImage-T (IMP init: the official internimage_t_1k_224.pth, converted on
# load), 80k iterations, global batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine
# to 0, layer decay 1.0 (paper Table 7), no weight decay on norms, biases and layer scales.
#   tools/dist_train.sh configs/sep/upernet_internimage_t.py 8
# DCNv3 runs in pure PyTorch unless InternImage's compiled `DCNv3` extension is importable.
_base_ = [
    '../_base_/models/upernet_internimage_t.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_internimage.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
