"""The keys of a released file -> this package's keys (one rule per key, nothing left over).

The encoder goes through the backbone converters of :mod:`samrs_mm.models.backbones.pretrained`
(the same rules that load the official ImageNet / MAE files), told the target model's keys so
that layer kinds (RVSA windows, global layers) follow the config. Decoders and per-set layers
are renamed here:

=============================================  =========================================================
released key                                   package key
=============================================  =========================================================
``encoder.*``                                  ``backbone.*`` (the backbone's converter)
``decoder.*`` (SEP UperNet)                    ``decode_head.shared_decoder.*``
``decoder.blocks.i.convj.0|1.*`` (UNet)        ``decode_head.shared_decoder.blocks.i.convj.conv|bn.*``
``decoder.*`` (Mask2Former)                    ``decode_head.*``
``semseghead_k.1.*`` / ``semseghead_k.0.*``    ``decode_head.subset_heads.<subset>.*``
``semseghead_k.cls_embed.*``                   ``decode_head.subset_cls_embeds.<subset>.*``
``decoder.*``, ``semseghead.1|0.*``            ``decode_head.*``, ``decode_head.conv_seg.*`` (fine-tuned)
``semsegdecoder.decode_head.*`` (MTP)          ``decode_head.shared_decoder.*``
``inssegdecoder.{neck,rpn_head,roi_head}.*``   ``instance.{neck,rpn_head,roi_head}.*``
``inssegroiboxhead_fc_cls|fc_regk.*``          ``instance.roi_head.bbox_head.fc_cls|fc_reg.subset_heads.<subset>.*``
``inssegroimaskhead_convk.*``                  ``instance.roi_head.mask_head.conv_logits.subset_heads.<subset>.*``
``rotdetdecoder.{neck,rpn_head,roi_head}.*``   ``rotated.{neck,rpn_head,roi_head}.*``
``rotdetroiboxhead_fc_cls|fc_regk.*``          ``rotated.roi_head.bbox_head.fc_cls|fc_reg.subset_heads.<subset>.*``
=============================================  =========================================================

``k`` = 1, 2, 3 are SOTA, SIOR, FAST. Keys matching a documented drop (``Encoder.drops``,
``ReleasedFormat.drops``) are left out with their reason; any other key that no rule maps
raises :class:`~.formats.ReleaseError` naming it.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from ..backbones.pretrained import CONVERTERS, UnmappableKeysError
from .formats import ENCODERS, SUBSET_OF_HEAD, ReleasedFormat, ReleaseError

__all__ = ['MappedRelease', 'map_released_state_dict']

Rule = Tuple[str, Callable[[re.Match], str]]
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'


def _subset(match: re.Match, group: str = 'k') -> str:
    return SUBSET_OF_HEAD[match.group(group)]


def _rules(fmt: ReleasedFormat) -> List[Rule]:
    """Renaming rules for the non-encoder keys of ``fmt`` (regex on the full key -> new key)."""
    if fmt.kind == 'mtp':
        return [
            (r'semsegdecoder\.decode_head\.(?P<rest>.+)', lambda m: f'decode_head.shared_decoder.{m["rest"]}'),
            (r'semseghead_(?P<k>[123])\.1\.(?P<p>weight|bias)',
             lambda m: f'decode_head.subset_heads.{_subset(m)}.{m["p"]}'),
            (r'inssegdecoder\.(?P<rest>(neck|rpn_head|roi_head)\..+)', lambda m: f'instance.{m["rest"]}'),
            (r'inssegroiboxhead_(?P<fc>fc_cls|fc_reg)(?P<k>[123])\.(?P<p>weight|bias)',
             lambda m: f'instance.roi_head.bbox_head.{m["fc"]}.subset_heads.{_subset(m)}.{m["p"]}'),
            (r'inssegroimaskhead_conv(?P<k>[123])\.(?P<p>weight|bias)',
             lambda m: f'instance.roi_head.mask_head.conv_logits.subset_heads.{_subset(m)}.{m["p"]}'),
            (r'rotdetdecoder\.(?P<rest>(neck|rpn_head|roi_head)\..+)', lambda m: f'rotated.{m["rest"]}'),
            (r'rotdetroiboxhead_(?P<fc>fc_cls|fc_reg)(?P<k>[123])\.(?P<p>weight|bias)',
             lambda m: f'rotated.roi_head.bbox_head.{m["fc"]}.subset_heads.{_subset(m)}.{m["p"]}'),
        ]
    sep = fmt.kind == 'sep'
    decoder = 'decode_head.shared_decoder' if sep and fmt.decoder != 'mask2former' else 'decode_head'
    if fmt.decoder == 'unet':
        decoder_rules: List[Rule] = [
            (r'decoder\.blocks\.(?P<i>\d+)\.(?P<c>conv[12])\.0\.weight',
             lambda m: f'{decoder}.blocks.{m["i"]}.{m["c"]}.conv.weight'),
            (r'decoder\.blocks\.(?P<i>\d+)\.(?P<c>conv[12])\.1\.' + _BN,
             lambda m: f'{decoder}.blocks.{m["i"]}.{m["c"]}.bn.{m.group(3)}'),
        ]
    else:
        decoder_rules = [(r'decoder\.(?P<rest>.+)', lambda m: f'{decoder}.{m["rest"]}')]
    classifier = {'upernet': r'1\.', 'unet': r'0\.', 'mask2former': r'cls_embed\.'}[fmt.decoder]
    if sep:
        target = 'subset_cls_embeds' if fmt.decoder == 'mask2former' else 'subset_heads'
        head_rules: List[Rule] = [(r'semseghead_(?P<k>[123])\.' + classifier + r'(?P<p>weight|bias)',
                                   lambda m: f'decode_head.{target}.{_subset(m)}.{m["p"]}')]
    else:
        target = 'cls_embed' if fmt.decoder == 'mask2former' else 'conv_seg'
        head_rules = [(r'semseghead\.' + classifier + r'(?P<p>weight|bias)',
                       lambda m: f'decode_head.{target}.{m["p"]}')]
    return decoder_rules + head_rules


@dataclass
class MappedRelease:
    """A released state dict in the package's key names, what was left out (key -> reason) and
    where the renamed decoder / head keys came from (new key -> released key)."""
    state_dict: 'OrderedDict[str, torch.Tensor]'
    dropped: Dict[str, str] = field(default_factory=dict)
    origin: Dict[str, str] = field(default_factory=dict)


def _drop(key: str, drops: Sequence[Tuple[str, str]]) -> Optional[str]:
    for pattern, reason in drops:
        if re.fullmatch(pattern, key):
            return reason
    return None


def _convert_encoder(encoder_state: Mapping[str, torch.Tensor], fmt: ReleasedFormat, prefix: str,
                     backbone_keys: Optional[Iterable[str]]) -> MappedRelease:
    """The encoder's tensors as ``backbone.*``; its documented drops left out, the rest must map."""
    family = ENCODERS[fmt.encoder]
    kept, dropped = OrderedDict(), {}
    for key, value in encoder_state.items():
        reason = _drop(key, family.drops)
        if reason is None:
            kept[key] = value
        else:
            dropped[prefix + key] = reason
    try:
        converted = CONVERTERS[family.converter](kept, target_keys=backbone_keys)
    except UnmappableKeysError as error:
        raise ReleaseError(f'{len(error.keys)} key(s) of the {family.title} encoder match no rule: '
                           f'{", ".join(prefix + k for k in error.keys[:5])}') from None
    if converted.dropped:
        # the converter left a key out (a classifier, a parameter the config lacks): not a released file's key
        key, reason = next(iter(converted.dropped.items()))
        raise ReleaseError(f'{prefix}{key} has no place in the {family.title} of {fmt.config} ({reason}); '
                           f'{len(converted.dropped)} such key(s)')
    state = OrderedDict(('backbone.' + k, v) for k, v in converted.state_dict.items())
    return MappedRelease(state, dropped)


def map_released_state_dict(state_dict: Mapping[str, torch.Tensor], fmt: ReleasedFormat,
                            target_keys: Optional[Iterable[str]] = None) -> MappedRelease:
    """Rename every key of a released ``state_dict`` of format ``fmt`` (see the module docstring).

    ``target_keys``: the keys of the model ``fmt.config`` builds; the encoder's converter reads
    the layer kinds from them (give them whenever the model is at hand). Raises
    :class:`~.formats.ReleaseError` for a key no rule maps (named) or two keys mapped to one.
    """
    backbone_keys = None
    if target_keys is not None:
        backbone_keys = [k[len('backbone.'):] for k in target_keys if k.startswith('backbone.')]
    if fmt.backbone_only:
        return _convert_encoder(state_dict, fmt, '', backbone_keys)
    encoder = OrderedDict((k[len('encoder.'):], v) for k, v in state_dict.items() if k.startswith('encoder.'))
    result = _convert_encoder(encoder, fmt, 'encoder.', backbone_keys)
    rules = [(re.compile(pattern), rename) for pattern, rename in _rules(fmt)]
    unknown = []
    for key, value in state_dict.items():
        if key.startswith('encoder.'):
            continue
        reason = _drop(key, fmt.drops)
        if reason is not None:
            result.dropped[key] = reason
            continue
        for pattern, rename in rules:
            match = pattern.fullmatch(key)
            if match is not None:
                new_key = rename(match)
                if new_key in result.state_dict:
                    raise ReleaseError(f'{key} maps to {new_key}, which another key already took')
                result.state_dict[new_key] = value
                result.origin[new_key] = key
                break
        else:
            unknown.append(key)
    if unknown:
        raise ReleaseError(f'{len(unknown)} key(s) of the {fmt.title} file match no rule: {", ".join(unknown[:5])}')
    return result
