"""One shared decoder, one classifier per subset: the SEP head of the SAMRS paper (Sec. 4.1).

``MultiHeadDecodeHead`` wraps any mmseg decode head config (UPerHead, FCNHead, the
paper's UNet head, ...) as the shared decoder and owns one final classifier per SAMRS
subset (1x1, or the kernel of the wrapped head's ``conv_seg``). The wrapped head's own
``conv_seg`` is replaced by a routing classifier that sends every sample through its
subset's classifier, so whatever the wrapped head does after its classifier (e.g. the UNet
head's upsampling and ReLU) still happens, and the whole mixed batch goes through backbone
and decoder once.

Logits of samples from subsets with fewer classes are padded to the largest class count
with ``PAD_LOGIT`` (a large negative number; finite, so resizing never makes NaNs), which
keeps ``argmax`` on real classes and lets mmseg's segmentor post-processing work unchanged.

Checkpoint layout (stable; ``tools/convert_sep_checkpoint.py`` relies on it):
``<head>.shared_decoder.<wrapped head's keys, no conv_seg>`` and
``<head>.subset_heads.<subset>.weight/bias``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

# The routing lives in one module shared with the multi-task RoI heads; the names stay
# importable from here.
from ..subset_routing import (  # noqa: F401
    PAD_LOGIT,
    SAMRS_SUBSETS,
    SubsetRoutedClassifier,
    add_zero_term_for_absent_heads,
    parse_subsets,
    route_by_subset,
)


@MODELS.register_module()
class MultiHeadDecodeHead(BaseModule):
    """A decode head with one classifier per subset on top of one shared decoder.

    The shared decoder is given either as ``decoder=dict(type='UPerHead', ...)`` or flat, as
    ``decoder_type='UPerHead'`` plus that head's own arguments, so a stock config turns into
    a SEP config by changing ``type`` and adding ``decoder_type`` and ``subsets``, and leaf
    configs keep overriding ``decode_head.in_channels`` etc. as usual.

    Args:
        subsets (list[dict], optional): ``[dict(name='sota', num_classes=18), ...]`` in head
            order; a sample's ``metainfo['subset']`` picks its head. Defaults to the three
            SAMRS subsets in paper order: sota (18), sior (20), fast (37).
        decoder (dict, optional): config of any mmseg decode head (``num_classes`` ignored).
        decoder_type (str, optional): registry name of the decode head, with its arguments
            passed as the remaining keyword arguments (``num_classes`` ignored).
        subset_loss_weights (dict, optional): loss weight per subset name (default 1.0).
        init_cfg: mmengine init config.

    Training: loss = sum over the subsets present in the batch of that subset's loss
    (the wrapped head's ``loss_decode``, averaged over that subset's pixels), logged as
    ``<subset>.<loss name>`` and ``<subset>.acc_seg``. Inference: each sample by its own
    subset; samples without one use ``test_cfg['subset']`` (name a head in the config's
    ``model.test_cfg`` to segment new images).
    """

    def __init__(self, subsets: Optional[Sequence[dict]] = None, decoder: Optional[dict] = None,
                 decoder_type: Optional[str] = None,
                 subset_loss_weights: Optional[Dict[str, float]] = None,
                 init_cfg: Optional[dict] = None, **decoder_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        self.class_counts = self._parse_subsets(SAMRS_SUBSETS if subsets is None else subsets)
        self.subset_names: Tuple[str, ...] = tuple(self.class_counts)
        self.subset_loss_weights = dict(subset_loss_weights or {})
        unknown = set(self.subset_loss_weights) - set(self.subset_names)
        if unknown:
            raise ValueError(f'subset_loss_weights names unknown subsets {sorted(unknown)}; '
                             f'heads are {list(self.subset_names)}')

        if (decoder is None) == (decoder_type is None):
            raise ValueError('MultiHeadDecodeHead needs exactly one of decoder=dict(type=...) or '
                             'decoder_type=... (with the head arguments alongside)')
        if decoder is not None and decoder_kwargs:
            raise ValueError('with decoder=dict(...), put the head arguments inside it; got extra '
                             f'arguments {sorted(decoder_kwargs)}')
        decoder = dict(decoder) if decoder is not None else dict(type=decoder_type, **decoder_kwargs)
        decoder['num_classes'] = max(self.class_counts.values())
        decoder.pop('out_channels', None)
        self.shared_decoder = MODELS.build(decoder)
        channels = self._classifier_in_channels(self.shared_decoder)
        # the wrapped head's classifier shape (1x1; the released UNet's is 3x3)
        kernel, padding = self.shared_decoder.conv_seg.kernel_size, self.shared_decoder.conv_seg.padding
        self.subset_heads = nn.ModuleDict({
            name: nn.Conv2d(channels, count, kernel_size=kernel, padding=padding)
            for name, count in self.class_counts.items()
        })
        for head in self.subset_heads.values():
            nn.init.normal_(head.weight, mean=0.0, std=0.01)
            nn.init.zeros_(head.bias)
        self.router = SubsetRoutedClassifier(self.subset_heads, self.class_counts)
        # Replacing conv_seg keeps the wrapped head's forward (dropout, post-classifier ops).
        self.shared_decoder.conv_seg = self.router

        # Attributes EncoderDecoder reads from its decode head.
        self.align_corners = self.shared_decoder.align_corners
        self.num_classes = self.router.max_classes
        self.out_channels = self.router.max_classes
        self.ignore_index = self.shared_decoder.ignore_index
        self.threshold = getattr(self.shared_decoder, 'threshold', None)

    @staticmethod
    def _parse_subsets(subsets: Sequence[dict]) -> Dict[str, int]:
        try:
            return parse_subsets(subsets)
        except ValueError as error:
            raise ValueError(f'MultiHeadDecodeHead: {error}') from None

    @staticmethod
    def _classifier_in_channels(decoder: nn.Module) -> int:
        conv_seg = getattr(decoder, 'conv_seg', None)
        if not isinstance(conv_seg, nn.Conv2d):
            raise TypeError(f'MultiHeadDecodeHead cannot wrap {type(decoder).__name__}: it has no '
                            'conv_seg classifier (an mmseg BaseDecodeHead subclass is needed)')
        return conv_seg.in_channels

    # ------------------------------------------------------------------ routing
    def _route(self, metas: Sequence[dict], fallback: Optional[str]) -> List[str]:
        return route_by_subset(metas, self.subset_names, fallback)

    def forward(self, inputs, route: Sequence[str]) -> Tensor:
        """Shared decoder once for the batch, then each sample's own classifier."""
        self.router.route = list(route)
        try:
            return self.shared_decoder(inputs)
        finally:
            self.router.route = None

    # ------------------------------------------------------------------ training
    def loss(self, inputs, batch_data_samples, train_cfg) -> Dict[str, Tensor]:
        """Sum of per-subset losses for a mixed batch, each logged under its subset name."""
        route = self._route([sample.metainfo for sample in batch_data_samples], fallback=None)
        seg_logits = self.forward(inputs, route)
        losses: Dict[str, Tensor] = {}
        present = []
        for subset in self.subset_names:
            indices = [i for i, name in enumerate(route) if name == subset]
            if not indices:
                continue
            present.append(subset)
            index = torch.as_tensor(indices, device=seg_logits.device)
            logits = self.router.select(seg_logits.index_select(0, index), subset)
            subset_losses = self.shared_decoder.loss_by_feat(
                logits, [batch_data_samples[i] for i in indices])
            weight = self.subset_loss_weights.get(subset, 1.0)
            for key, value in subset_losses.items():
                losses[f'{subset}.{key}'] = value * weight if 'loss' in key else value
        add_zero_term_for_absent_heads(losses, self.subset_heads, present)
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, inputs, batch_img_metas: List[dict], test_cfg) -> Tensor:
        """Logits resized to the input, each sample through its subset's (or test_cfg's) head."""
        fallback = (test_cfg or {}).get('subset', None)
        if fallback is not None and fallback not in self.class_counts:
            raise KeyError(f'test_cfg.subset={fallback!r} is not one of the heads '
                           f'{list(self.subset_names)}')
        seg_logits = self.forward(inputs, self._route(batch_img_metas, fallback))
        return self.shared_decoder.predict_by_feat(seg_logits, batch_img_metas)
