"""Mask2Former for multi-subset pre-training: shared decoders, one class embedding per subset.

The paper pre-trains Mask2Former (ResNet-50) on SAMRS too. Pixel decoder, transformer
decoder, queries and mask embedding are shared; only the query classifier differs per
subset (``subset_cls_embeds.<subset>``: ``num_classes + 1`` outputs, the last one being
"no object"). The whole mixed batch goes through the head once; the matching and the
losses run per subset with that subset's classes and class weights, and the losses are
summed (logged as ``<subset>.loss_cls`` etc.).

Checkpoint layout: every key of mmseg's ``Mask2FormerHead`` except ``cls_embed``, plus
``subset_cls_embeds.<subset>.weight/bias``.
"""
from __future__ import annotations

import contextlib
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.dist import get_world_size
from mmseg.models.decode_heads import Mask2FormerHead
from mmseg.registry import MODELS

from ..subset_routing import SAMRS_SUBSETS, SubsetRoutedClassifier, add_zero_term_for_absent_heads, route_by_subset
from .multi_head import MultiHeadDecodeHead


@MODELS.register_module()
class MultiSubsetMask2FormerHead(Mask2FormerHead):
    """mmseg's Mask2FormerHead with one query classifier per subset.

    Args:
        subsets (list[dict], optional): ``[dict(name=..., num_classes=...), ...]``;
            defaults to the SAMRS subsets sota (18), sior (20), fast (37).
        **kwargs: arguments of :class:`mmseg.models.decode_heads.Mask2FormerHead`.
            ``num_classes`` is ignored; ``loss_cls.class_weight`` only gives the weight of
            the "no object" class (its last entry), every real class weighs 1.0 as usual.
    """

    def __init__(self, subsets: Optional[Sequence[dict]] = None, **kwargs) -> None:
        self.class_counts = MultiHeadDecodeHead._parse_subsets(
            SAMRS_SUBSETS if subsets is None else subsets)
        self.subset_names = tuple(self.class_counts)
        max_classes = max(self.class_counts.values())
        # mmdet reads loss_cls.class_weight as an attribute: keep it a ConfigDict.
        loss_cls = ConfigDict(kwargs.get('loss_cls', {}))
        no_object_weight = (loss_cls.get('class_weight') or [0.1])[-1]
        loss_cls['class_weight'] = [1.0] * max_classes + [no_object_weight]
        kwargs.update(num_classes=max_classes, loss_cls=loss_cls)
        super().__init__(**kwargs)

        feat_channels = kwargs['feat_channels']
        del self.cls_embed
        self.subset_cls_embeds = nn.ModuleDict({
            name: nn.Linear(feat_channels, count + 1) for name, count in self.class_counts.items()})
        self.cls_embed = SubsetRoutedClassifier(self.subset_cls_embeds, self.class_counts,
                                                channel_dim=-1, trailing=1)
        # Per-subset classification targets: the "no object" label and the class weights.
        self._subset_loss_cls = {
            name: MODELS.build(ConfigDict(loss_cls, class_weight=[1.0] * count + [no_object_weight]))
            for name, count in self.class_counts.items()}
        self._fallback_subset: Optional[str] = None

    @contextlib.contextmanager
    def _targets_of(self, subset: str):
        """Temporarily make the head's loss code see only ``subset``'s classes."""
        saved = self.num_classes, self.class_weight, self.loss_cls
        self.num_classes = self.class_counts[subset]
        self.loss_cls = self._subset_loss_cls[subset]
        self.class_weight = self.loss_cls.class_weight
        try:
            yield
        finally:
            self.num_classes, self.class_weight, self.loss_cls = saved

    def forward(self, x, batch_data_samples):
        """Shared pixel / transformer decoders; each query classified by its sample's subset."""
        self.cls_embed.route = route_by_subset([s.metainfo for s in batch_data_samples],
                                               self.subset_names, self._fallback_subset)
        try:
            return super().forward(x, batch_data_samples)
        finally:
            self.cls_embed.route = None

    def loss(self, x, batch_data_samples, train_cfg) -> Dict[str, torch.Tensor]:
        """Per-subset matching and losses on one shared forward, summed."""
        batch_gt_instances, batch_img_metas = self._seg_data_to_instance_data(batch_data_samples)
        all_cls_scores, all_mask_preds = self(x, batch_data_samples)
        route = route_by_subset(batch_img_metas, self.subset_names)
        losses: Dict[str, torch.Tensor] = {}
        present: List[str] = []
        for subset in self.subset_names:
            indices = [i for i, name in enumerate(route) if name == subset]
            if not indices:
                if get_world_size() > 1:
                    # mmdet's mask losses all-reduce their normalisers: every process must
                    # compute every subset's loss or the processes deadlock.
                    raise RuntimeError(
                        f'MultiSubsetMask2FormerHead: this process got no sample of {subset!r}; '
                        'in distributed runs every per-process batch must hold every subset '
                        '(use a per-GPU batch where each subset share >= the number of GPUs)')
                continue
            present.append(subset)
            index = torch.as_tensor(indices, device=all_mask_preds[0].device)
            cls_scores = [self.cls_embed.select(c.index_select(0, index), subset) for c in all_cls_scores]
            mask_preds = [m.index_select(0, index) for m in all_mask_preds]
            with self._targets_of(subset):
                subset_losses = self.loss_by_feat(cls_scores, mask_preds,
                                                  [batch_gt_instances[i] for i in indices],
                                                  [batch_img_metas[i] for i in indices])
            losses.update({f'{subset}.{key}': value for key, value in subset_losses.items()})
        add_zero_term_for_absent_heads(losses, self.subset_cls_embeds, present)
        return losses

    def predict(self, x, batch_img_metas: List[dict], test_cfg) -> torch.Tensor:
        """Semantic logits; samples without a subset use ``test_cfg['subset']``."""
        fallback = (test_cfg or {}).get('subset', None)
        if fallback is not None and fallback not in self.class_counts:
            raise KeyError(f'test_cfg.subset={fallback!r} is not one of the heads '
                           f'{list(self.subset_names)}')
        self._fallback_subset = fallback
        try:
            return super().predict(x, batch_img_metas, test_cfg)
        finally:
            self._fallback_subset = None
