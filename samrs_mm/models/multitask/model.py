"""Multi-task pre-training (MTP) on SAMRS as one registered mmseg model.

:class:`MultiTaskEncoderDecoder` is mmseg's ``EncoderDecoder`` (any backbone, optional neck,
the semantic branch as a ``MultiHeadDecodeHead`` and optionally an auxiliary head, exactly as
the SEP configs build them) plus two detection branches (:mod:`.detection_branch`): instance
segmentation (mmdet's Mask R-CNN) and rotated-box detection (mmrotate's Oriented R-CNN), each
with per-subset last layers on shared bodies. A mixed batch goes through the backbone (and
neck) once; every branch reads those features:

* semantic: the whole batch through the shared decoder once, each sample through its
  subset's classifier, the loss summed over subsets (``MultiHeadDecodeHead``);
* instance / rotated: per subset present in the batch, that subset's samples through the
  branch (its FPN, RPN and RoI heads, with the subset's last layers), losses per subset.

Loss = sum over tasks and subsets of ``task_loss_weights[task] * subset_loss_weights[subset]
* loss``, logged as ``<task>.<subset>.<loss>`` (semantic: ``semantic.decode.<subset>.loss_ce``,
``semantic.aux.<subset>.loss_ce``). A task of weight 0 is switched off: not computed in
training (its parameters get exactly zero gradients, so DDP still sees them used) and not
predicted. ``background=True`` gives every semantic classifier one more class for the pixels
no mask covers (MTP's choice); ``False`` ignores them (SAMRS's labels, 255).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from samrs_mm.datasets.multitask_sample import store_predictions, task_view

from ..decode_heads.multi_head import MultiHeadDecodeHead
from ..subset_routing import SAMRS_SUBSETS, add_zero_term, parse_subsets, route_by_subset
from .data_preprocessor import MultiTaskDataPreprocessor
from .detection_branch import build_detection_branch, subset_layers, subset_routing

__all__ = ['MultiTaskEncoderDecoder', 'TASKS']

TASKS = ('semantic', 'instance', 'rotated')


def _scaled(value, weight: float):
    """A loss (tensor or list of per-level tensors) times ``weight``."""
    if weight == 1.0:
        return value
    if isinstance(value, (list, tuple)):
        return [v * weight for v in value]
    return value * weight


@MODELS.register_module()
class MultiTaskEncoderDecoder(EncoderDecoder):
    """Semantic segmentation, instance segmentation and rotated-box detection on one backbone.

    Args:
        backbone, neck, auxiliary_head, train_cfg, test_cfg, pretrained, init_cfg: as mmseg's
            ``EncoderDecoder`` (the SEP model bases are used as they are; mmseg scope).
        decode_head (dict): the semantic branch, a ``MultiHeadDecodeHead`` (``subsets`` and
            ``subset_loss_weights`` are set from this model's).
        instance (dict, optional): the instance branch: an mmdet two-stage detector config
            with masks (``type='MaskRCNN'``, ``neck``, ``rpn_head``, ``roi_head``,
            ``train_cfg``, ``test_cfg``; no backbone), in mmdet's scope.
        rotated (dict, optional): the rotated-box branch: mmrotate's Oriented R-CNN model
            config without backbone, in mmrotate's scope (mmrotate is imported only then).
        subsets (list[dict], optional): ``[dict(name=..., num_classes=...)]``, default the
            SAMRS subsets sota (18), sior (20), fast (37). A sample's ``metainfo['subset']``
            picks its layers in every branch.
        background (bool): semantic heads get a background class 0 for uncovered pixels
            (MTP) instead of ignoring them (SAMRS). Needs ``MultiTaskDataPreprocessor``.
            Predictions are given in the dataset's labels either way (background -> 255).
        task_loss_weights (dict, optional): weight per task name (``TASKS``), default 1.0.
        subset_loss_weights (dict, optional): weight per subset name, default 1.0, for every
            task.
        data_preprocessor (dict): a ``MultiTaskDataPreprocessor`` config.
    """

    def __init__(self, backbone: dict, decode_head: dict, instance: Optional[dict] = None,
                 rotated: Optional[dict] = None, neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None, subsets: Optional[Sequence[dict]] = None,
                 background: bool = False, task_loss_weights: Optional[Dict[str, float]] = None,
                 subset_loss_weights: Optional[Dict[str, float]] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None, init_cfg: Optional[dict] = None) -> None:
        self.class_counts = parse_subsets(SAMRS_SUBSETS if subsets is None else subsets)
        self.subset_names: Tuple[str, ...] = tuple(self.class_counts)
        self.background = bool(background)
        weights = dict(task_loss_weights or {})
        unknown = set(weights) - set(TASKS)
        if unknown:
            raise ValueError(f'model.task_loss_weights names unknown tasks {sorted(unknown)}; tasks are {TASKS}')
        self.task_loss_weights = {task: float(weights.get(task, 1.0)) for task in TASKS}
        self.subset_loss_weights = {name: float((subset_loss_weights or {}).get(name, 1.0))
                                    for name in self.subset_names}
        unknown = set(subset_loss_weights or {}) - set(self.subset_names)
        if unknown:
            raise ValueError(f'model.subset_loss_weights names unknown subsets {sorted(unknown)}; '
                             f'subsets are {list(self.subset_names)}')
        if (test_cfg or {}).get('mode', 'whole') != 'whole':
            raise ValueError("MultiTaskEncoderDecoder predicts whole images: model.test_cfg.mode must be 'whole' "
                             f"(got {test_cfg['mode']!r}; the detection branches have no sliding window)")
        semantic_subsets = [dict(name=name, num_classes=count + int(self.background))
                            for name, count in self.class_counts.items()]

        def semantic_head(cfg):
            return None if cfg is None else dict(cfg, subsets=semantic_subsets,
                                                 subset_loss_weights=self.subset_loss_weights)

        if isinstance(auxiliary_head, (list, tuple)):
            auxiliary_head = [semantic_head(cfg) for cfg in auxiliary_head]
        else:
            auxiliary_head = semantic_head(auxiliary_head)
        with DefaultScope.overwrite_default_scope('mmseg'):
            if isinstance(data_preprocessor, dict):
                data_preprocessor = MODELS.build(data_preprocessor)
            super().__init__(backbone=backbone, decode_head=semantic_head(decode_head), neck=neck,
                             auxiliary_head=auxiliary_head, train_cfg=train_cfg, test_cfg=test_cfg,
                             data_preprocessor=data_preprocessor, pretrained=pretrained, init_cfg=init_cfg)
        if not isinstance(self.decode_head, MultiHeadDecodeHead):
            raise TypeError(f'model.decode_head must be a MultiHeadDecodeHead (the semantic branch), got '
                            f'{type(self.decode_head).__name__}')
        if not isinstance(self.data_preprocessor, MultiTaskDataPreprocessor):
            raise TypeError('model.data_preprocessor must be a MultiTaskDataPreprocessor (it pads and shifts '
                            'the semantic maps of multi-task samples), got '
                            f'{type(self.data_preprocessor).__name__}')
        self.data_preprocessor.background = self.background
        self.branches: List[str] = []
        for task, cfg in (('instance', instance), ('rotated', rotated)):
            if cfg is not None:
                setattr(self, task, build_detection_branch(cfg, task, self.class_counts))
                self.branches.append(task)

    # ------------------------------------------------------------------ helpers
    def active(self, task: str) -> bool:
        """Whether ``task`` is built and has a non-zero loss weight."""
        built = task == 'semantic' or task in self.branches
        return built and self.task_loss_weights[task] != 0.0

    def _auxiliary_heads(self) -> List[torch.nn.Module]:
        if not self.with_auxiliary_head:
            return []
        aux = self.auxiliary_head
        return list(aux) if isinstance(aux, torch.nn.ModuleList) else [aux]

    def _task_modules(self, task: str) -> List[torch.nn.Module]:
        if task == 'semantic':
            return [self.decode_head] + self._auxiliary_heads()
        return [getattr(self, task)]

    def _route(self, data_samples) -> List[str]:
        return route_by_subset([s.metainfo for s in data_samples], self.subset_names,
                               (self.test_cfg or {}).get('subset', None))

    def _groups(self, route: Sequence[str]) -> List[Tuple[str, List[int]]]:
        """``[(subset, sample indices)]`` for the subsets present, in subset order."""
        groups = []
        for subset in self.subset_names:
            indices = [i for i, name in enumerate(route) if name == subset]
            if indices:
                groups.append((subset, indices))
        return groups

    @staticmethod
    def _select(feats: Tuple[Tensor, ...], indices: List[int], batch: int) -> Tuple[Tensor, ...]:
        if len(indices) == batch:
            return tuple(feats)
        index = torch.as_tensor(indices, device=feats[0].device)
        return tuple(f.index_select(0, index) for f in feats)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Sum of the weighted per-task, per-subset losses of a mixed batch (one backbone pass)."""
        feats = self.extract_feat(inputs)
        losses: Dict[str, Tensor] = {}
        switched_off = []
        for task in TASKS:
            if task != 'semantic' and task not in self.branches:
                continue
            if not self.active(task):
                switched_off += self._task_modules(task)
                continue
            if task == 'semantic':
                task_losses = self._semantic_loss(feats, data_samples)
            else:
                task_losses = self._detection_loss(task, feats, data_samples)
            weight = self.task_loss_weights[task]
            losses.update({k: _scaled(v, weight) if 'loss' in k else v for k, v in task_losses.items()})
        if not losses:
            raise ValueError('every task has loss weight 0: nothing to train')
        add_zero_term(losses, switched_off)
        return losses

    def _semantic_loss(self, feats, data_samples) -> Dict[str, Tensor]:
        losses = add_prefix(self.decode_head.loss(feats, data_samples, self.train_cfg), 'semantic.decode')
        heads = self._auxiliary_heads()
        for index, head in enumerate(heads):
            prefix = 'semantic.aux' if len(heads) == 1 else f'semantic.aux_{index}'
            losses.update(add_prefix(head.loss(feats, data_samples, self.train_cfg), prefix))
        return losses

    def _detection_loss(self, task: str, feats, data_samples) -> Dict[str, Tensor]:
        detector = getattr(self, task)
        route = route_by_subset([s.metainfo for s in data_samples], self.subset_names)
        losses: Dict[str, Tensor] = {}
        groups = self._groups(route)
        for subset, indices in groups:
            views = [task_view(data_samples[i], task, require_gt=True) for i in indices]
            with subset_routing(detector, subset):
                group_losses = detector.loss(self._select(feats, indices, len(data_samples)), views)
            weight = self.subset_loss_weights[subset]
            for key, value in group_losses.items():
                losses[f'{task}.{subset}.{key}'] = _scaled(value, weight) if 'loss' in key else value
        present = {subset for subset, _ in groups}
        add_zero_term(losses, [layer for subset in self.subset_names if subset not in present
                               for layer in subset_layers(detector, subset)])
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: Tensor, data_samples=None):
        """Every active task's predictions, in the samples' original frames.

        Sets ``pred_sem_seg`` (dataset labels; 255 where the background class wins),
        ``pred_instances`` (boxes, scores, labels, masks) and ``pred_rotated_instances``.
        """
        if data_samples is None:
            raise ValueError('MultiTaskEncoderDecoder.predict needs the data samples (subset and image sizes)')
        feats = self.extract_feat(inputs)
        if self.active('semantic'):
            self._semantic_predict(feats, data_samples)
        route = self._route(data_samples)
        for task in self.branches:
            if not self.active(task):
                continue
            detector = getattr(self, task)
            for subset, indices in self._groups(route):
                views = [task_view(data_samples[i], task) for i in indices]
                with subset_routing(detector, subset):
                    detector.predict(self._select(feats, indices, len(data_samples)), views, rescale=True)
                store_predictions([data_samples[i] for i in indices], views, task)
        return data_samples

    def _semantic_predict(self, feats, data_samples) -> None:
        """Labels at each sample's original size: mmdet pads at the bottom / right, so the
        logits are cut to the image before they are resized back."""
        metas = [dict(s.metainfo) for s in data_samples]
        batch_shape = tuple(metas[0]['batch_input_shape'])
        for meta in metas:
            meta['pad_shape'] = batch_shape  # MultiHeadDecodeHead resizes the logits to it
        seg_logits = self.decode_head.predict(feats, metas, self.test_cfg)
        for logits, sample, meta in zip(seg_logits, data_samples, metas):
            height, width = meta['img_shape'][:2]
            logits = resize(logits[None, :, :height, :width], size=tuple(meta['ori_shape'][:2]), mode='bilinear',
                            align_corners=self.align_corners, warning=False)[0]
            label = logits.argmax(dim=0, keepdim=True)
            if self.background:
                label = torch.where(label == 0, torch.full_like(label, 255), label - 1)
            sample.pred_sem_seg = PixelData(data=label)

    def _forward(self, inputs: Tensor, data_samples=None):
        """Raw outputs (tensor mode): the semantic logits, each sample through its subset's head."""
        feats = self.extract_feat(inputs)
        if data_samples is None:
            fallback = (self.test_cfg or {}).get('subset', None)
            if fallback is None:
                raise ValueError('tensor mode without data samples needs model.test_cfg.subset')
            route = [fallback] * inputs.shape[0]
        else:
            route = self._route(data_samples)
        return self.decode_head.forward(feats, route)
