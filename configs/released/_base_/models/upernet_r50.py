# The released SAMRS UperNet ResNet-50 (IMP + SEP, RSP + SEP; ViTAE-Transformer/SAMRS
# Encoder_Decoder/models.py): mmseg's plain ResNet-50 (torchvision stem, not ResNetV1c),
# UperNet as wide as the encoder's third output (512 channels), no auxiliary head, SyncBN.
# Stock heads here; configs/released/sep/ and configs/released/finetune/ set them.
_base_ = 'mmseg::_base_/models/upernet_r50.py'
model = dict(
    pretrained=None,
    backbone=dict(type='ResNet', depth=50, norm_eval=False),
    decode_head=dict(channels=512),
    auxiliary_head=None)
