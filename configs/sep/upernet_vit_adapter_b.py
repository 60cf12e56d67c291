# SEP: UperNet ViT-Adapter-B (IMP init: DeiT-B, its ViT part converted on load), 80k
# iterations, global batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 1e-2 / cosine to 0,
# layer decay 0.95 (paper Table 7), no weight decay on norms, biases, embeddings.
#   tools/dist_train.sh configs/sep/upernet_vit_adapter_b.py 8
# The adapter outputs the 4 levels itself: no neck.
_base_ = [
    '../_base_/models/upernet_vit_adapter_b.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_vit_adapter.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
