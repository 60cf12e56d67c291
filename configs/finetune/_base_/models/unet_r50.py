# The paper's UNet variant with ResNet-50 for fine-tuning: the model of
# configs/sep/unet_r50.py with the plain UNetHead instead of the MultiHeadDecodeHead.
# ResNet row of the paper's Table 7.
_base_ = ['../../../_base_/models/unet_r50.py', '../../../_base_/schedules/adamw_80k.py']
