# Oriented R-CNN R-50-FPN le90 with the ResNet-50 of SEP (mmseg's ResNetV1c: deep stem),
# ImageNet init (open-mmlab://resnet50_v1c, SEP's IMP init). A SEP R-50 checkpoint converted
# with tools/convert_sep_checkpoint.py --target detector loads into it key for key.
_base_ = './oriented-rcnn-le90_r50_fpn.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')))
