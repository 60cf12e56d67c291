# SEP: the paper's UNet variant with ResNet-50 (IMP init): 4-level decoder whose last block
# is one 2x bilinear upsampling; head = 1x1 conv, 2x bilinear upsampling, ReLU. 80k
# iterations, global batch 96 (8 x 12), crop 224, AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/sep_80k_adamw.py', '../_base_/default_runtime.py'
]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(
        _delete_=True,
        type='MultiHeadDecodeHead',
        decoder=dict(
            type='UNetHead',
            in_channels=[256, 512, 1024, 2048],
            decoder_channels=(256, 128, 64),
            logit_activation='ReLU',
            dropout_ratio=0.0,
            num_classes=1,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))),
    auxiliary_head=None)
