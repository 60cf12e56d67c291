# SEP: the paper's UNet variant with ResNet-50 (IMP init): 4-level decoder whose last block
# is one 2x bilinear upsampling; head = 1x1 conv, 2x bilinear upsampling, ReLU. 80k
# iterations, global batch 96 (8 x 12), crop 224, AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4.
_base_ = [
    '../_base_/models/unet_r50.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UNetHead'))
