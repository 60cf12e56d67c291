"""Tiny random-weight models of the scene tests: configs written to files and their checkpoints."""
import os.path as osp

NORM = "dict(type='BN', requires_grad=True)"
PREPROCESSOR = ("dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], "
                "bgr_to_rgb=True, pad_val=0, seg_pad_val=255)")


def segmentor_config(path, num_classes=5, crop=(64, 64), stride=(40, 40), mode='slide'):
    """A tiny mmseg EncoderDecoder (ResNetV1c-18 at 8 channels, FCN head) sliding ``crop`` / ``stride``."""
    test_cfg = (f"dict(mode='slide', crop_size={tuple(crop)!r}, stride={tuple(stride)!r})" if mode == 'slide'
                else "dict(mode='whole')")
    text = f"""default_scope = 'mmseg'
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
model = dict(
    type='EncoderDecoder',
    data_preprocessor={PREPROCESSOR},
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, out_indices=(0, 1, 2, 3),
                  norm_cfg={NORM}, contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=64, in_index=3, channels=16, num_convs=1, concat_input=False,
                     dropout_ratio=0.0, num_classes={num_classes}, norm_cfg={NORM}, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg={test_cfg})
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def sep_config(path, crop=(64, 64), stride=(40, 40)):
    """A tiny SEP model: the same body with one classifier per SAMRS subset (MultiHeadDecodeHead)."""
    text = f"""default_scope = 'mmseg'
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
model = dict(
    type='EncoderDecoder',
    data_preprocessor={PREPROCESSOR},
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, out_indices=(0, 1, 2, 3),
                  norm_cfg={NORM}, contract_dilation=True),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead', in_channels=64, in_index=3, channels=16,
                     num_convs=1, concat_input=False, dropout_ratio=0.0, num_classes=18, norm_cfg={NORM},
                     align_corners=False, loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size={tuple(crop)!r}, stride={tuple(stride)!r}))
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def build_and_save(config_path, checkpoint_path, seed=0, perturb_bn=True):
    """Build the config's model with random weights (seeded), save a checkpoint; return the model (eval)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import samrs_mm  # noqa: F401
    cfg = Config.fromfile(config_path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    scope = cfg.get('default_scope', 'mmseg')
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    elif scope == 'mmrotate':
        from samrs_mm.compat import import_mmrotate
        import_mmrotate()
        from mmrotate.registry import MODELS
    else:
        from mmseg.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if perturb_bn:
        # Random running statistics, so the batch-norm layers are not the identity.
        gen = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint_path)
    return model.eval()





SMALL_DETECTOR = """
model = dict(
    backbone=dict(depth=18, init_cfg=None, stem_channels=16, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=32), bbox_head=dict(in_channels=32, fc_out_channels=64)
                  {mask}),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=40), rcnn=dict(max_per_img=15, score_thr=0.01)))
"""
MASK_PARTS = (", mask_roi_extractor=dict(out_channels=32), "
              "mask_head=dict(in_channels=32, conv_out_channels=32)")


def detector_config(path, repo_root, kind='instance'):
    """A tiny Mask R-CNN (``kind='instance'``) or Oriented R-CNN (``'rotated'``) on the SOTA configs."""
    base = {'instance': 'configs/instance/mask-rcnn_r50_fpn_1x_sota.py',
            'rotated': 'configs/rotated/oriented-rcnn-le90_r50_fpn_1x_sota.py'}[kind]
    text = f"_base_ = [{osp.join(repo_root, base)!r}]\n" + SMALL_DETECTOR.format(
        mask=MASK_PARTS if kind == 'instance' else '')
    with open(path, 'w') as f:
        f.write(text)
    return path
