# SEP as released: UperNet ViT-Adapter-B (IMP + SEP), one 1x1 classifier per subset.
# Converted by tools/model_converters/convert_released.py (docs/model_zoo.md). Evaluate per
# SAMRS subset (Table 9: 512 x 512 centre crops) or continue SEP training with load_from:
#   python tools/test.py configs/released/sep/upernet_vit_adapter_b.py CONVERTED.pth
_base_ = [
    '../_base_/models/upernet_vit_adapter_b.py', '../../_base_/datasets/samrs_sep.py',
    '../../_base_/schedules/adamw_80k_vit_adapter.py', '../../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'))
