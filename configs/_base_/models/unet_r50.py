# The paper's UNet variant with ResNet-50 (IMP init): 4-level decoder whose last block is
# one 2x bilinear upsampling; head = 1x1 conv, 2x bilinear upsampling, ReLU. No auxiliary
# head. The ResNet-50 and data preprocessor are mmseg's UperNet R-50's.
_base_ = 'mmseg::_base_/models/upernet_r50.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='UNetHead',
        in_channels=[256, 512, 1024, 2048],
        decoder_channels=(256, 128, 64),
        logit_activation='ReLU',
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)
