# The released SAMRS UNet ResNet-50 (IMP + SEP, RSP + SEP; ViTAE-Transformer/SAMRS
# Encoder_Decoder/unet.py): mmseg's plain ResNet-50, four decoder blocks (512, 256, 128, 64;
# the fourth without skip, to stride 2), 2x bilinear upsampling, a 3x3 classifier at the
# input resolution without activation; no auxiliary head. (The paper's text describes the
# variant of configs/_base_/models/unet_r50.py.)
_base_ = '../../../_base_/models/unet_r50.py'
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', depth=50, norm_eval=False),
    decode_head=dict(decoder_channels=(512, 256, 128, 64), classifier_kernel_size=3, logit_activation=None,
                     dropout_ratio=0.0))
