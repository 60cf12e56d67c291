"""Which released file is it: the formats of the authors' checkpoints and how each is recognised.

A released file is recognised by its keys alone (the authors' files carry no architecture
name): the top-level parts of the state dict say what kind of model it is, the encoder's
characteristic keys (and widths) which backbone, the decoder's which decoder. Each known
combination is a :class:`ReleasedFormat` naming the package config that builds that
architecture and the keys the conversion leaves out on purpose (``drops``). A file matching no
format gets :class:`ReleaseError` naming the nearest format and how the keys differ.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch

__all__ = ['ReleaseError', 'Encoder', 'ReleasedFormat', 'ENCODERS', 'FORMATS', 'SUBSET_OF_HEAD', 'TRAINING_STATE',
           'recognise', 'encoder_family', 'split_parts']

# semseghead_1/2/3 (SAMRS, MTP) and the per-set layers <name>1/2/3 (MTP) are SOTA, SIOR, FAST.
SUBSET_OF_HEAD = {'1': 'sota', '2': 'sior', '3': 'fast'}

# what a file's training state holds besides the weights (never converted, named in the summary)
TRAINING_STATE = ('optimizer', 'scheduler', 'loss_pretrain', 'loss_finetune', 'scaler', 'args', 'epoch',
                  'iteration')


class ReleaseError(ValueError):
    """A file that is not (or not a complete) released checkpoint; the message is one line."""


@dataclass(frozen=True)
class Encoder:
    """A released backbone: its converter (``samrs_mm.models.backbones.pretrained``) and the keys
    of the authors' module that are left out on purpose (regex, reason)."""
    name: str
    title: str
    converter: str
    markers: Tuple[str, ...]
    drops: Tuple[Tuple[str, str], ...] = ()


_RVSA_DROPS = (
    (r'blocks\.\d+\.attn\.relative_position_index', 'index buffer the model rebuilds'),
    (r'norm\.(weight|bias)', "final LayerNorm of the authors' RVSA module, never used by its forward"),
)
ENCODERS: Dict[str, Encoder] = {e.name: e for e in [
    Encoder('resnet50', 'ResNet-50 (mmseg ResNet, torchvision stem)', 'resnet',
            ('conv1.weight', 'bn1.running_mean', 'layer1.0.conv1.weight', 'layer4.2.conv3.weight')),
    Encoder('swin_t', 'Swin-T (segmentation Swin, output norms norm0-3)', 'swin',
            ('patch_embed.proj.weight', 'layers.0.blocks.0.attn.qkv.weight', 'layers.3.blocks.1.mlp.fc2.weight',
             'norm3.weight')),
    Encoder('vitaev2_s', 'ViTAEv2-S', 'vitaev2',
            ('layers.0.RC.PRM.convs.0.0.weight', 'layers.3.NC.1.attn.qkv.weight'),
            ((r'norm[0-3]\.(weight|bias)', 'output norms the SAMRS ViTAEv2-S defines but never applies'),
             (r'layers\.\d+\.(RC\.attn\.attn|NC\.\d+\.attn)\.relative_position_index',
              'index buffer the model rebuilds'),
             (r'layers\.\d+\.(RC\.attn\.attn|NC\.\d+\.attn)\.relative_position_bias_table',
              'relative position tables ViTAEv2-S creates but never uses (relative_pos=False)'))),
    Encoder('internimage_t', 'InternImage-T', 'internimage',
            ('patch_embed.conv1.weight', 'levels.0.blocks.0.dcn.offset.weight', 'levels.2.blocks.17.mlp.fc1.weight')),
    Encoder('internimage_xl', 'InternImage-XL', 'internimage',
            ('patch_embed.conv1.weight', 'levels.0.blocks.0.dcn.offset.weight', 'levels.2.blocks.23.mlp.fc1.weight')),
    Encoder('vit_adapter_b', 'ViT-Adapter-B', 'vit_adapter',
            ('spm.stem.0.weight', 'interactions.0.injector.gamma', 'blocks.0.gamma1', 'level_embed', 'norm4.weight')),
    Encoder('vit_b', 'ViT-B (absolute position embedding, simple feature pyramid on the last layer)', 'vit_rvsa',
            ('pos_embed', 'blocks.0.attn.qkv.weight', 'blocks.11.mlp.fc2.weight', 'fpn1.0.weight', 'norm.weight')),
    Encoder('vit_b_rvsa', 'ViT-B + RVSA (SAMRS: no position embedding)', 'vit_rvsa',
            ('blocks.0.attn.sampling_offsets.2.weight', 'blocks.11.mlp.fc2.weight', 'fpn1.0.weight'), _RVSA_DROPS),
    Encoder('vit_b_rvsa_mtp', 'ViT-B + RVSA (MTP: position embedding, global relative positions)', 'vit_rvsa',
            ('pos_embed', 'blocks.0.attn.sampling_offsets.2.weight', 'blocks.2.attn.full_attn_rel_pos_h',
             'blocks.11.mlp.fc2.weight', 'fpn1.0.weight'), _RVSA_DROPS),
    Encoder('vit_l_rvsa_mtp', 'ViT-L + RVSA (MTP: position embedding, global relative positions)', 'vit_rvsa',
            ('pos_embed', 'blocks.0.attn.sampling_offsets.2.weight', 'blocks.5.attn.full_attn_rel_pos_h',
             'blocks.23.mlp.fc2.weight', 'fpn1.0.weight'), _RVSA_DROPS),
    Encoder('mae_vit_b', 'MAE ViT-B (SAMRS-MAE pre-training checkpoint, decoder included)', 'vit_rvsa',
            ('cls_token', 'pos_embed', 'blocks.0.attn.qkv.weight', 'blocks.11.mlp.fc2.weight', 'decoder_embed.weight',
             'mask_token'),
            ((r'(decoder_\w+|decoder_blocks\.\d+)\..*|decoder_\w+|mask_token', 'MAE decoder (pre-training only)'),
             (r'cls_token', 'class token (ViT-B + RVSA has none)'),
             (r'pos_embed', 'absolute position embedding (the ViT-B + RVSA of SAMRS has none)'),
             (r'norm\.(weight|bias)', 'final ViT norm (outputs go through the feature pyramid)'))),
]}


@dataclass(frozen=True)
class ReleasedFormat:
    """One kind of released file: what it is, how its parts are named, the config building it."""
    name: str
    title: str
    kind: str  # 'sep', 'finetune', 'mtp', 'encoder', 'mae'
    encoder: str
    decoder: Optional[str]  # 'upernet', 'unet', 'mask2former'; None for backbone-only files
    config: str
    classes: Optional[int] = None  # fine-tuned models: 5 (Potsdam) or 16 (iSAID)
    # keys outside the encoder left out on purpose (regex on the full key, reason); the
    # encoder's own are ENCODERS[encoder].drops
    drops: Tuple[Tuple[str, str], ...] = field(default=())

    @property
    def backbone_only(self) -> bool:
        """Whether the file holds the encoder alone (``*_encoder.pth``, SAMRS-MAE)."""
        return self.kind in ('encoder', 'mae')

    @property
    def markers(self) -> Tuple[str, ...]:
        """Keys every file of this format has (used to name the nearest format of an unknown file)."""
        encoder = ENCODERS[self.encoder].markers
        if self.backbone_only:
            return encoder
        return tuple('encoder.' + m for m in encoder) + _DECODER_MARKERS[(self.kind, self.decoder)]


_DECODER_MARKERS = {
    ('sep', 'upernet'): ('decoder.psp_modules.0.1.conv.weight', 'decoder.fpn_bottleneck.conv.weight',
                         'semseghead_1.1.weight', 'semseghead_3.1.weight'),
    ('sep', 'unet'): ('decoder.blocks.0.conv1.0.weight', 'decoder.blocks.3.conv2.1.weight', 'semseghead_1.0.weight',
                      'semseghead_3.0.weight'),
    ('sep', 'mask2former'): ('decoder.pixel_decoder.encoder.layers.0.self_attn.sampling_offsets.weight',
                             'decoder.transformer_decoder.layers.0.cross_attn.attn.in_proj_weight',
                             'decoder.query_feat.weight', 'semseghead_1.cls_embed.weight'),
    ('finetune', 'upernet'): ('decoder.psp_modules.0.1.conv.weight', 'decoder.fpn_bottleneck.conv.weight',
                              'semseghead.1.weight'),
    ('finetune', 'unet'): ('decoder.blocks.0.conv1.0.weight', 'semseghead.0.weight'),
    ('finetune', 'mask2former'): ('decoder.pixel_decoder.encoder.layers.0.self_attn.sampling_offsets.weight',
                                  'decoder.query_feat.weight', 'semseghead.cls_embed.weight'),
    ('mtp', 'upernet'): ('semsegdecoder.decode_head.fpn_bottleneck.conv.weight', 'semseghead_1.1.weight',
                         'inssegdecoder.neck.lateral_convs.0.conv.weight',
                         'inssegdecoder.roi_head.bbox_head.shared_fcs.0.weight', 'inssegroiboxhead_fc_cls1.weight',
                         'inssegroimaskhead_conv1.weight', 'rotdetdecoder.rpn_head.rpn_reg.weight',
                         'rotdetroiboxhead_fc_reg1.weight'),
}

# architecture (encoder, decoder) -> the file name of its configs under configs/released/{sep,finetune/*}
_ARCHITECTURES = {
    ('resnet50', 'unet'): ('unet_r50', 'UNet ResNet-50'),
    ('resnet50', 'upernet'): ('upernet_r50', 'UperNet ResNet-50'),
    ('swin_t', 'upernet'): ('upernet_swin_t', 'UperNet Swin-T'),
    ('vitaev2_s', 'upernet'): ('upernet_vitaev2_s', 'UperNet ViTAEv2-S'),
    ('internimage_t', 'upernet'): ('upernet_internimage_t', 'UperNet InternImage-T'),
    ('vit_b', 'upernet'): ('upernet_vit_b', 'UperNet ViT-B'),
    ('vit_adapter_b', 'upernet'): ('upernet_vit_adapter_b', 'UperNet ViT-Adapter-B'),
    ('vit_b_rvsa', 'upernet'): ('upernet_vit_rvsa_b', 'UperNet ViT-B + RVSA'),
    ('resnet50', 'mask2former'): ('mask2former_r50', 'Mask2Former ResNet-50'),
}
_INITS = {'unet_r50': 'IMP / RSP', 'upernet_r50': 'IMP / RSP', 'upernet_vit_b': 'IMP / BEiT',
          'upernet_vit_rvsa_b': 'MAE / SAMRS-MAE'}
_MTP = {
    'vit_b_rvsa_mtp': ('mtp_vit_rvsa_b', 'MAE + MTP ViT-B + RVSA'),
    'vit_l_rvsa_mtp': ('mtp_vit_rvsa_l', 'MAE + MTP ViT-L + RVSA'),
    'internimage_xl': ('mtp_internimage_xl', 'IMP + MTP InternImage-XL'),
}
_FINETUNE_DATASETS = {5: 'potsdam', 16: 'isaid'}
_MTP_DROPS = ((r'semsegdecoder\.decode_head\.conv_seg\.(weight|bias)',
               "MTP's 1-class conv_seg, never used (the per-set semseghead_k classify)"),)


def _formats() -> Dict[str, ReleasedFormat]:
    formats = []
    for (encoder, decoder), (name, title) in _ARCHITECTURES.items():
        init = _INITS.get(name, 'IMP')
        formats.append(ReleasedFormat(f'sep_{name}', f'SAMRS SEP {title} ({init} + SEP)', 'sep', encoder, decoder,
                                      f'configs/released/sep/{name}.py'))
        for classes, dataset in _FINETUNE_DATASETS.items():
            formats.append(ReleasedFormat(
                f'finetune_{dataset}_{name}', f'SAMRS fine-tuned {title} ({"Potsdam" if classes == 5 else "iSAID"})',
                'finetune', encoder, decoder, f'configs/released/finetune/{dataset}/{name}.py', classes=classes))
    for encoder, (name, _) in {enc: arch for (enc, dec), arch in _ARCHITECTURES.items()
                               if dec == 'upernet'}.items():
        formats.append(ReleasedFormat(
            f'encoder_{encoder}', f'SAMRS {ENCODERS[encoder].title} encoder (*_encoder.pth)', 'encoder', encoder,
            None, f'configs/released/sep/{name}.py'))
    for encoder, (name, title) in _MTP.items():
        formats.append(ReleasedFormat(f'mtp_{encoder}', f'{title} (model weights)', 'mtp', encoder, 'upernet',
                                      f'configs/released/mtp/{name}.py', drops=_MTP_DROPS))
        formats.append(ReleasedFormat(f'mtp_encoder_{encoder}', f'{title} (backbone weights, *_encoder.pth)',
                                      'encoder', encoder, None, f'configs/released/mtp/{name}.py'))
    formats.append(ReleasedFormat('mae_vit_b', 'SAMRS-MAE ViT-B (MAE on SAMRS, with or without clipping)', 'mae',
                                  'mae_vit_b', None, 'configs/sep/upernet_vit_rvsa_b_samrs_mae.py'))
    return {f.name: f for f in formats}


FORMATS: Dict[str, ReleasedFormat] = _formats()


# ----------------------------------------------------------------------------- recognition
def split_parts(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, Dict[str, torch.Tensor]]:
    """The state dict grouped by its first key component (``encoder``, ``decoder``, ...)."""
    parts: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        head, _, rest = key.partition('.')
        parts.setdefault(head, {})[rest] = value
    return parts


def _shape(state: Mapping[str, torch.Tensor], key: str) -> Optional[Tuple[int, ...]]:
    value = state.get(key)
    return None if value is None else tuple(value.shape)


def encoder_family(state: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The :data:`ENCODERS` entry a backbone state dict (no prefix) belongs to, or None."""
    keys = set(state)
    if {'conv1.weight', 'layer4.0.conv1.weight'} <= keys:
        return 'resnet50' if 'layer3.5.conv1.weight' in keys and 'layer3.6.conv1.weight' not in keys else None
    if 'spm.stem.0.weight' in keys:
        return 'vit_adapter_b'
    if any(k.startswith('layers.0.RC.') for k in keys):
        return 'vitaev2_s'
    if 'layers.0.blocks.0.attn.relative_position_bias_table' in keys:
        return 'swin_t' if _shape(state, 'patch_embed.proj.weight') == (96, 3, 4, 4) else None
    if 'levels.0.blocks.0.dcn.offset.weight' in keys:
        width = (_shape(state, 'patch_embed.conv2.weight') or (0, ))[0]
        return {64: 'internimage_t', 192: 'internimage_xl'}.get(width)
    if 'blocks.0.attn.qkv.weight' in keys:
        width = _shape(state, 'blocks.0.attn.qkv.weight')[1]
        if 'decoder_embed.weight' in keys:
            return 'mae_vit_b' if width == 768 else None
        rvsa = any('.attn.sampling_offsets.' in k for k in keys)
        global_rel_pos = any(k.endswith('.attn.full_attn_rel_pos_h') for k in keys)
        if rvsa and global_rel_pos:
            return {768: 'vit_b_rvsa_mtp', 1024: 'vit_l_rvsa_mtp'}.get(width)
        if rvsa:
            return 'vit_b_rvsa' if width == 768 else None
        if 'fpn1.0.weight' in keys and 'pos_embed' in keys:
            return 'vit_b' if width == 768 else None
    return None


def _decoder_kind(decoder: Mapping[str, torch.Tensor]) -> Optional[str]:
    if 'fpn_bottleneck.conv.weight' in decoder:
        return 'upernet'
    if 'blocks.0.conv1.0.weight' in decoder:
        return 'unet'
    if any(k.startswith('pixel_decoder.') for k in decoder):
        return 'mask2former'
    return None


def _find(kind: str, encoder: Optional[str], decoder: Optional[str], classes: Optional[int] = None
          ) -> Optional[ReleasedFormat]:
    for fmt in FORMATS.values():
        if (fmt.kind, fmt.encoder, fmt.decoder) == (kind, encoder, decoder) and fmt.classes == classes:
            return fmt
    return None


def _finetune_classes(parts: Mapping[str, Mapping[str, torch.Tensor]]) -> Optional[int]:
    head = parts.get('semseghead', {})
    for key in ('1.weight', '0.weight', 'cls_embed.weight'):
        if key in head:
            return head[key].shape[0] - (1 if key == 'cls_embed.weight' else 0)
    return None


def recognise(state_dict: Mapping[str, torch.Tensor]) -> ReleasedFormat:
    """The format of a released state dict (``module.`` prefixes already removed).

    Raises :class:`ReleaseError` naming the nearest format and how the keys differ.
    """
    parts = split_parts(state_dict)
    if {'semsegdecoder', 'inssegdecoder', 'rotdetdecoder'} & set(parts):
        fmt = _find('mtp', encoder_family(parts.get('encoder', {})), 'upernet')
    elif 'encoder' in parts and 'decoder' in parts and 'semseghead' in parts:
        fmt = _find('finetune', encoder_family(parts['encoder']), _decoder_kind(parts['decoder']),
                    _finetune_classes(parts))
    elif 'encoder' in parts and 'decoder' in parts:
        fmt = _find('sep', encoder_family(parts['encoder']), _decoder_kind(parts['decoder']))
    else:
        family = encoder_family(state_dict)
        fmt = _find('mae', family, None) or _find('encoder', family, None)
    if fmt is not None and all(m in state_dict for m in fmt.markers) and (
            set(parts) <= EXPECTED_PARTS[fmt.kind] if not fmt.backbone_only else not _extra_keys(state_dict, fmt)):
        return fmt
    raise ReleaseError(_nearest_message(state_dict, parts))


_HEADS = ('1', '2', '3')
# the top-level parts of each kind of full file
EXPECTED_PARTS = {
    'sep': {'encoder', 'decoder'} | {f'semseghead_{k}' for k in _HEADS},
    'finetune': {'encoder', 'decoder', 'semseghead'},
    'mtp': ({'encoder', 'semsegdecoder', 'inssegdecoder', 'rotdetdecoder'}
            | {f'{name}{k}' for k in _HEADS for name in (
                'semseghead_', 'inssegroiboxhead_fc_cls', 'inssegroiboxhead_fc_reg', 'inssegroimaskhead_conv',
                'rotdetroiboxhead_fc_cls', 'rotdetroiboxhead_fc_reg')}),
}


def _nearest_message(state_dict: Mapping[str, torch.Tensor], parts: Mapping[str, dict]) -> str:
    """"not a released file; nearest: <format> (<config>), which it differs from: <keys>"."""
    def score(fmt: ReleasedFormat) -> Tuple[float, int, float]:
        """The encoder first, then the kind of file (its parts), then the decoder."""
        prefix = '' if fmt.backbone_only else 'encoder.'
        encoder = ENCODERS[fmt.encoder].markers
        encoder_hits = sum(prefix + m in state_dict for m in encoder) / len(encoder)
        expected = EXPECTED_PARTS.get(fmt.kind, set())
        part_mismatch = len(set(parts) ^ expected) if expected else len(parts) > 1
        return encoder_hits, -part_mismatch, sum(m in state_dict for m in fmt.markers) / len(fmt.markers)

    nearest = max(FORMATS.values(), key=score)
    missing = [m for m in nearest.markers if m not in state_dict]
    if nearest.backbone_only:
        extra = _extra_keys(state_dict, nearest)
    else:
        extra = [f'{p}.*' for p in sorted(set(parts) - EXPECTED_PARTS[nearest.kind])]
    differences = []
    for verb, keys in (('lacks', missing), ('has', extra)):
        if keys:
            differences.append(f'{verb} {", ".join(keys[:3])}' + (f' (+{len(keys) - 3} more)' if len(keys) > 3 else ''))
    if not differences:
        differences.append('its tensors have other widths or depths')
    hint = ''
    if any(k in state_dict for k in ('fc.weight', 'head.weight', 'conv_head.0.weight')):
        hint = ' (an ImageNet / RSP classifier? tools/model_converters/convert_official.py converts those)'
    return (f'not a released SAMRS / MTP checkpoint of a known architecture ({len(state_dict)} tensors); nearest: '
            f'{nearest.title} ({nearest.config}), which this file differs from: it {"; it ".join(differences)}'
            + hint)


def _extra_keys(state_dict: Mapping[str, torch.Tensor], fmt: ReleasedFormat) -> List[str]:
    """Keys typical of other checkpoints (classifiers, pre-training parts) in a backbone-only file."""
    telltales = ('fc.weight', 'head.weight', 'conv_head.0.weight', 'decoder_embed.weight', 'cls_token', 'norm.weight',
                 'backbone.patch_embed.proj.weight', 'model.patch_embed.proj.weight')
    encoder = ENCODERS[fmt.encoder]
    return [k for k in telltales if k in state_dict and k not in encoder.markers
            and not any(re.fullmatch(p, k) for p, _ in encoder.drops)]
