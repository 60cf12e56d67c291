# UperNet ResNet-50 for fine-tuning: mmseg's stock model (ResNetV1c, ImageNet = IMP init),
# i.e. configs/sep/upernet_r50.py with its MultiHeadDecodeHeads back to UPerHead / FCNHead,
# so the output of tools/convert_sep_checkpoint.py loads key for key. ResNet optimiser of
# the paper's Table 7 (schedules/adamw_80k.py).
_base_ = ['mmseg::_base_/models/upernet_r50.py', '../schedules/adamw_80k.py']
