# UperNet ResNet-50 for fine-tuning: mmseg's stock model (ResNetV1c, ImageNet = IMP init),
# the model of configs/sep/upernet_r50.py with stock heads, so the output of
# tools/convert_sep_checkpoint.py loads key for key. ResNet row of the paper's Table 7.
_base_ = ['mmseg::_base_/models/upernet_r50.py', '../../../_base_/schedules/adamw_80k.py']
