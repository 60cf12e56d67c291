"""A detection task of multi-task pre-training: a stock two-stage detector on the shared features.

A branch is the stock mmdet / mmrotate detector of its task (mmdet's ``MaskRCNN``; mmrotate's
Oriented R-CNN, an mmdet ``FasterRCNN`` with rotated parts) built from its own config, with
two changes:

* its backbone is :class:`SharedFeatures`, which hands on what it is given, so the branch's
  ``loss`` / ``predict`` take the shared backbone's features instead of images and the
  detector's own code (neck, RPN, RoI heads, its train and test settings) runs unchanged;
* the last layers of its RoI heads become per-subset layers (:func:`install_subset_layers`):
  class scores (``fc_cls``), box regression where it is class-specific (``fc_reg``) and mask
  logits (``conv_logits``), each a :class:`~samrs_mm.models.subset_routing.SubsetRoutedClassifier`
  owning one layer per subset. Everything else (FPN, RPN, the box and mask head bodies,
  class-agnostic regression) is shared by the subsets; ``per_subset_regression=True`` in the
  branch config gives class-agnostic regression one layer per subset too (MTP's released
  Oriented R-CNN has one 5-output ``fc_reg`` per set).

Checkpoint keys are the stock detector's under the branch name (``instance.neck.*``,
``instance.rpn_head.*``, ``instance.roi_head.*``), the per-subset layers at
``<branch>.roi_head.bbox_head.fc_cls.subset_heads.<subset>.*`` (and ``fc_reg``,
``mask_head.conv_logits``).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Dict, Iterator, List

import torch.nn as nn
from mmcv.cnn import build_conv_layer
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import MODELS, DefaultScope

from ..subset_routing import PAD_LOGIT, SubsetRoutedClassifier

__all__ = ['SharedFeatures', 'build_detection_branch', 'install_subset_layers', 'subset_routing', 'subset_layers',
           'BRANCH_SCOPES']

# The registry scope each detection task's config is written in (its package's own).
BRANCH_SCOPES = {'instance': 'mmdet', 'rotated': 'mmrotate'}


@MMDET_MODELS.register_module()
class SharedFeatures(nn.Module):
    """The backbone of a task branch: returns its input, the shared backbone's feature maps."""

    def forward(self, feats):
        """``feats`` unchanged (a tuple of ``(B, C_i, H_i, W_i)`` maps)."""
        return feats


def _subset_layers(build, class_counts: Dict[str, int]) -> nn.ModuleDict:
    return nn.ModuleDict({name: build(count) for name, count in class_counts.items()})


def install_subset_layers(roi_head: nn.Module, class_counts: Dict[str, int],
                          per_subset_regression: bool = False) -> List[SubsetRoutedClassifier]:
    """Replace the class-dependent last layers of an mmdet RoI head by per-subset layers.

    The heads must have been built for ``max(class_counts)`` classes (background index =
    that number for every subset: each subset's scores are padded between its classes and
    its background score). ``per_subset_regression``: a class-agnostic ``fc_reg`` becomes
    per-subset too (same width for all). Returns the routers, whose ``route`` selects the subset.
    """
    routers = []
    bbox_head = getattr(roi_head, 'bbox_head', None)
    if bbox_head is None or not hasattr(bbox_head, 'fc_cls'):
        raise TypeError(f'{type(roi_head).__name__}: a multi-task detection branch needs an mmdet RoI head '
                        'with a box head that has fc_cls / fc_reg (BBoxHead family)')
    if getattr(bbox_head, 'custom_cls_channels', False):
        raise ValueError(f'{type(bbox_head.loss_cls).__name__} has its own class channels: not supported by '
                         'per-subset classifiers')
    if bbox_head.with_cls:
        in_features = bbox_head.fc_cls.in_features
        heads = _subset_layers(lambda n: MMDET_MODELS.build(dict(bbox_head.cls_predictor_cfg, in_features=in_features,
                                                                 out_features=n + 1)), class_counts)
        bbox_head.fc_cls = SubsetRoutedClassifier(heads, class_counts, channel_dim=1, trailing=1, own_heads=True)
        routers.append(bbox_head.fc_cls)
    if bbox_head.with_reg and (per_subset_regression or not bbox_head.reg_class_agnostic):
        in_features, box_dim = bbox_head.fc_reg.in_features, bbox_head.bbox_coder.encode_size
        per_class = not bbox_head.reg_class_agnostic
        widths = {name: (count if per_class else 1) * box_dim for name, count in class_counts.items()}
        heads = nn.ModuleDict({name: MMDET_MODELS.build(dict(bbox_head.reg_predictor_cfg, in_features=in_features,
                                                             out_features=width)) for name, width in widths.items()})
        # Deltas of classes a subset lacks are 0: decoded, they are the proposal itself.
        bbox_head.fc_reg = SubsetRoutedClassifier(heads, widths, channel_dim=1, pad_value=0.0, own_heads=True)
        routers.append(bbox_head.fc_reg)
    mask_head = getattr(roi_head, 'mask_head', None) if getattr(roi_head, 'with_mask', False) else None
    if mask_head is not None and not getattr(mask_head, 'class_agnostic', True):
        in_channels = mask_head.conv_logits.in_channels

        def conv(count: int) -> nn.Module:
            layer = build_conv_layer(mask_head.predictor_cfg, in_channels, count, 1)
            # FCNMaskHead.init_weights initialises conv_logits only when it has a weight,
            # so its initialisation is applied to every subset's layer here.
            nn.init.kaiming_normal_(layer.weight, mode='fan_out', nonlinearity='relu')
            nn.init.constant_(layer.bias, 0)
            return layer

        mask_head.conv_logits = SubsetRoutedClassifier(_subset_layers(conv, class_counts), class_counts,
                                                       channel_dim=1, pad_value=PAD_LOGIT, own_heads=True)
        routers.append(mask_head.conv_logits)
    return routers


def build_detection_branch(cfg: dict, task: str, class_counts: Dict[str, int]) -> nn.Module:
    """Build the stock detector of ``cfg`` as a branch (see the module docstring).

    ``cfg`` is the detector's model config without ``backbone`` (and without
    ``data_preprocessor``: the multi-task model has one), written in the scope of the task's
    package (``BRANCH_SCOPES``), plus optionally ``per_subset_regression`` (see
    :func:`install_subset_layers`). Class counts of the RoI heads are set from ``class_counts``.
    """
    cfg = copy.deepcopy(dict(cfg))
    per_subset_regression = bool(cfg.pop('per_subset_regression', False))
    for key in ('backbone', 'data_preprocessor'):
        if cfg.get(key) is not None:
            raise ValueError(f'model.{task}.{key}: a task branch takes the shared backbone\'s features and '
                             f'the model\'s data preprocessor; remove {key} from the branch config')
    if 'type' not in cfg or 'roi_head' not in cfg:
        raise ValueError(f'model.{task} needs the two-stage detector\'s type, neck, rpn_head, roi_head, '
                         f'train_cfg and test_cfg (got keys {sorted(cfg)})')
    cfg['backbone'] = dict(type='mmdet.SharedFeatures')
    max_classes = max(class_counts.values())
    roi_head = cfg['roi_head'] = dict(cfg['roi_head'])
    for head in ('bbox_head', 'mask_head'):
        if roi_head.get(head) is not None:
            roi_head[head] = dict(roi_head[head], num_classes=max_classes)
    if task == 'rotated':
        from samrs_mm.compat import import_mmrotate
        import_mmrotate()
        # mmrotate's modules register on import of its model / transform / metric modules.
        from mmrotate.utils import register_all_modules
        register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(BRANCH_SCOPES[task]):
        detector = MODELS.build(cfg)
        routers = install_subset_layers(detector.roi_head, class_counts, per_subset_regression)
    # A plain list: the routers are already registered where they replaced the stock layers.
    object.__setattr__(detector, 'subset_routers', routers)
    return detector


@contextlib.contextmanager
def subset_routing(detector: nn.Module, subset: str) -> Iterator[None]:
    """Make every per-subset layer of ``detector`` use ``subset``'s layer inside the block."""
    routers = detector.subset_routers
    for router in routers:
        router.route = subset
    try:
        yield
    finally:
        for router in routers:
            router.route = None


def subset_layers(detector: nn.Module, subset: str) -> List[nn.Module]:
    """``subset``'s own layers in ``detector`` (for the zero terms of absent subsets)."""
    return [router.heads[subset] for router in detector.subset_routers]
