# SEP as released: Mask2Former ResNet-50 (IMP + SEP), one query classifier per subset (the
# recipe of configs/sep/mask2former_r50.py on the released architecture).
# Converted by tools/model_converters/convert_released.py (docs/model_zoo.md). Evaluate per
# SAMRS subset (Table 9: 512 x 512 centre crops) or continue SEP training with load_from:
#   python tools/test.py configs/released/sep/mask2former_r50.py CONVERTED.pth
_base_ = '../../sep/mask2former_r50.py'
model = dict(backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), init_cfg=None))
