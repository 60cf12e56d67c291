"""Published checkpoints -> this package's key names, and loading them into a backbone.

Each ``convert_*`` function maps the state dict of one official code base to the key names
of the backbone that consumes it and returns a :class:`ConvertedCheckpoint`: the new state
dict plus every official key that was deliberately left out, with the reason (classifier
heads, MAE decoders, buffers the model rebuilds, ...). A key that no rule knows raises
:class:`UnmappableKeysError` naming the keys: a wrong file is reported, never half-loaded.

Formats (``CONVERTERS``):

=================  ===================================================  ==========================
format             official source                                      target
=================  ===================================================  ==========================
``resnet``         torchvision / RSP ResNet-50 (``conv1``, ``layer1``)    mmseg ``ResNet`` (V1b)
``swin``           Microsoft / RSP Swin (``layers.i.blocks.j``)          mmseg ``SwinTransformer``
``vit``            timm-style ViT: DeiT, MAE, BEiT (``blocks.i``)        mmseg ``VisionTransformer``
``vit_adapter``    same ViT checkpoints                                 :class:`ViTAdapter`
``beit``           microsoft/unilm BEiT (``blocks.i``, ``q_bias``,        mmseg ``BEiT`` /
                   ``relative_position_bias_table``, ``gamma_1``)         :class:`BEiTBackbone`
``vit_rvsa``       MAE ViT (MillionAID; mmpretrain's SAMRS-MAE),         :class:`ViTRVSA`
                   RVSA / SAMRS RVSA checkpoints
``vitaev2``        ViTAEv2 (ImageNet) / RSP ViTAEv2 (``layers.i.RC``)    :class:`ViTAEv2`
``internimage``    InternImage (``levels.i.blocks.j.dcn``)              :class:`InternImage`
=================  ===================================================  ==========================
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

__all__ = [
    'ConvertedCheckpoint', 'UnmappableKeysError', 'CheckpointShapeError', 'CONVERTERS', 'convert_checkpoint',
    'extract_state_dict', 'load_pretrained_weights'
]

Tensor = torch.Tensor


class UnmappableKeysError(KeyError):
    """Raised when a checkpoint has keys that no conversion rule of the chosen format knows."""

    def __init__(self, fmt: str, keys: Sequence[str]):
        self.keys = list(keys)
        shown = ', '.join(self.keys[:20]) + (f' ... (+{len(self.keys) - 20} more)' if len(self.keys) > 20 else '')
        super().__init__(f'{len(self.keys)} key(s) of the checkpoint cannot be mapped by the {fmt!r} '
                         f'converter (is it the right file / format?): {shown}')

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class CheckpointShapeError(ValueError):
    """Raised when converted tensors do not fit the model (a different architecture variant)."""


@dataclass
class ConvertedCheckpoint:
    """A converted state dict and the official keys deliberately left out (key -> reason)."""
    state_dict: 'OrderedDict[str, Tensor]'
    dropped: Dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers
_WRAPPER_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema', 'module')


def extract_state_dict(checkpoint: Mapping) -> 'OrderedDict[str, Tensor]':
    """Find the weights in a checkpoint file's content and strip wrapper prefixes.

    Handles ``{'state_dict'|'model'|'state_dict_ema'|'module': ...}`` wrappers, DDP's
    ``module.`` prefix, and segmentor checkpoints (only the ``backbone.`` part is kept).
    """
    state = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state:
        raise ValueError('no state dict found in the checkpoint')
    state = OrderedDict((k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
    if all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    if any(k.startswith('backbone.') for k in state):
        state = OrderedDict((k[len('backbone.'):], v) for k, v in state.items() if k.startswith('backbone.'))
    return state


# the state of a BatchNorm
_BN_FIELDS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
Rule = Tuple[str, object]  # (regex, replacement template | callable(match, tensor) -> dict | None=drop reason)


def _apply_rules(fmt: str, state_dict: Mapping[str, Tensor], rules: Sequence[Rule],
                 drops: Sequence[Tuple[str, str]]) -> ConvertedCheckpoint:
    """Rename keys with the first matching rule; drop keys matching ``drops``; fail on the rest."""
    compiled_rules = [(re.compile(p + r'\Z'), r) for p, r in rules]
    compiled_drops = [(re.compile(p + r'\Z'), reason) for p, reason in drops]
    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    dropped: Dict[str, str] = {}
    unknown: List[str] = []
    for key, value in state_dict.items():
        for pattern, reason in compiled_drops:
            if pattern.match(key):
                dropped[key] = reason
                break
        else:
            for pattern, target in compiled_rules:
                match = pattern.match(key)
                if match is None:
                    continue
                if callable(target):
                    out.update(target(match, value))
                else:
                    out[match.expand(target)] = value
                break
            else:
                unknown.append(key)
    if unknown:
        raise UnmappableKeysError(fmt, unknown)
    return ConvertedCheckpoint(out, dropped)


def _drop_missing_targets(result: ConvertedCheckpoint, target_keys: Optional[Iterable[str]]) -> ConvertedCheckpoint:
    """Move converted keys the target model does not have into ``dropped``."""
    if target_keys is None:
        return result
    target = set(target_keys)
    kept = OrderedDict()
    for key, value in result.state_dict.items():
        if key in target:
            kept[key] = value
        else:
            result.dropped[key] = 'no such parameter in this model configuration'
    result.state_dict = kept
    return result


# ----------------------------------------------------------------------------- ResNet
def convert_resnet(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """torchvision-layout ResNet (IMP ``resnet50-19c8e357.pth``, RSP ResNet-50) -> mmseg ``ResNet``.

    mmseg's ``ResNet`` (not ``ResNetV1c``, whose deep stem has no torchvision counterpart) uses
    the torchvision names, so the conversion validates the keys and drops the classifier.
    """
    rules = [(r'(conv1|bn1)\.(.+)', r'\1.\2'),
             (r'(layer\d+\.\d+\.(?:conv\d|bn\d|downsample\.[01]))\.(.+)', r'\1.\2')]
    drops = [(r'fc\.(weight|bias)', 'ImageNet/MillionAID classifier')]
    return _drop_missing_targets(_apply_rules('resnet', state_dict, rules, drops), target_keys)


# ----------------------------------------------------------------------------- Swin
def _swin_merge_order(tensor: Tensor) -> Tensor:
    """Reorder the 4C patch-merging channels from the official concat order to nn.Unfold's.

    Official Swin concatenates the 2x2 neighbours as (0,0), (1,0), (0,1), (1,1) blocks of C
    channels; mmseg's ``PatchMerging`` unfolds them channel-major, (row, col) inner.
    """
    lead = tensor.shape[:-1]
    channels = tensor.shape[-1] // 4
    # last dim is (col, row, C) in the official layout -> (C, row, col)
    return tensor.reshape(*lead, 2, 2, channels).movedim(-1, -3).transpose(-1, -2).reshape(*lead, 4 * channels)


def convert_swin(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """Official Swin (IMP ``swin_tiny_patch4_window7_224.pth``, RSP Swin-T) or the segmentation
    Swin of SAMRS's encoders (``norm0``-``norm3`` on the outputs) -> mmseg ``SwinTransformer``."""
    blk = r'layers\.(\d+)\.blocks\.(\d+)\.'
    new_blk = r'stages.\1.blocks.\2.'

    def merge(match, value):
        return {f'stages.{match.group(1)}.downsample.{match.group(2)}.{match.group(3)}': _swin_merge_order(value)}

    rules = [
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (r'patch_embed\.norm\.(weight|bias)', r'patch_embed.norm.\1'),
        (blk + r'(norm1|norm2)\.(weight|bias)', new_blk + r'\3.\4'),
        (blk + r'attn\.(qkv|proj)\.(weight|bias)', new_blk + r'attn.w_msa.\3.\4'),
        (blk + r'attn\.(relative_position_bias_table|relative_position_index)', new_blk + r'attn.w_msa.\3'),
        (blk + r'mlp\.fc1\.(weight|bias)', new_blk + r'ffn.layers.0.0.\3'),
        (blk + r'mlp\.fc2\.(weight|bias)', new_blk + r'ffn.layers.1.\3'),
        (r'layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)', merge),
        # the official final norm normalises the last stage, as mmseg's norm3 does
        (r'norm\.(weight|bias)', r'norm3.\1'),
        # segmentation Swin (SAMRS's encoder): one norm per output stage, mmseg's names
        (r'norm([0-3])\.(weight|bias)', r'norm\1.\2'),
    ]
    drops = [(r'head\.(weight|bias)', 'classifier'), (blk + r'attn_mask', 'buffer rebuilt by the model')]
    return _drop_missing_targets(_apply_rules('swin', state_dict, rules, drops), target_keys)


# ----------------------------------------------------------------------------- ViT family
def _vit_block_rules(block: str, new_block: str, attn: Callable[[str], str]) -> List[Rule]:
    """Rules for one timm-style ViT block; ``attn(name)`` gives the target attention key."""
    def qkv_weight(match, value):
        return {attn(match, 'qkv.weight'): value}

    def qkv_bias(match, value):
        return {attn(match, 'qkv.bias'): value}

    def q_bias(match, value):
        # BEiT stores q and v biases (k has none); they are merged when both are seen.
        return {f'__beit_q_bias__{match.group(1)}': value}

    def v_bias(match, value):
        return {f'__beit_v_bias__{match.group(1)}': value}

    def proj(match, value):
        return {attn(match, f'proj.{match.group(2)}'): value}

    return [
        (block + r'norm1\.(weight|bias)', new_block + r'ln1.\2'),
        (block + r'norm2\.(weight|bias)', new_block + r'ln2.\2'),
        (block + r'attn\.qkv\.weight', qkv_weight),
        (block + r'attn\.qkv\.bias', qkv_bias),
        (block + r'attn\.q_bias', q_bias),
        (block + r'attn\.v_bias', v_bias),
        (block + r'attn\.proj\.(weight|bias)', proj),
        (block + r'mlp\.fc1\.(weight|bias)', new_block + r'ffn.layers.0.0.\2'),
        (block + r'mlp\.fc2\.(weight|bias)', new_block + r'ffn.layers.1.\2'),
        (block + r'(?:gamma_1|gamma1|ls1\.gamma)', new_block + 'gamma1'),
        (block + r'(?:gamma_2|gamma2|ls2\.gamma)', new_block + 'gamma2'),
        (block + r'attn\.relative_position_bias_table', new_block + 'attn.relative_position_bias_table'),
    ]


_VIT_DROPS = [
    (r'head\.(weight|bias)', 'classifier'),
    (r'fc_norm\.(weight|bias)', 'classifier pooling norm'),
    (r'(decoder_\w+|decoder_blocks\.\d+)\..*|decoder_\w+|mask_token', 'MAE/BEiT pre-training decoder'),
    (r'lm_head\..*', 'BEiT pre-training head'),
    (r'blocks\.\d+\.attn\.relative_position_index', 'buffer rebuilt by the model'),
    (r'rel_pos_bias\.relative_position_(bias_table|index)', 'BEiT shared relative position bias (not used)'),
    (r'dist_token', 'DeiT distillation token'),
    (r'head_dist\.(weight|bias)', 'DeiT distillation head'),
]


def _merge_beit_qv_bias(result: ConvertedCheckpoint, attn_key: Callable[[int, str], str]) -> ConvertedCheckpoint:
    """Replace BEiT's separate q/v biases by one qkv bias with a zero k part."""
    state = result.state_dict
    for key in [k for k in state if k.startswith('__beit_q_bias__')]:
        index = key[len('__beit_q_bias__'):]
        q = state.pop(key)
        v = state.pop(f'__beit_v_bias__{index}', None)
        if v is None:
            raise UnmappableKeysError('vit', [f'blocks.{index}.attn.q_bias (without v_bias)'])
        state[attn_key(int(index), 'qkv.bias')] = torch.cat([q, torch.zeros_like(q), v])
    stray = [k for k in state if k.startswith('__beit_v_bias__')]
    if stray:
        raise UnmappableKeysError('vit', [f'blocks.{k.rsplit("__", 1)[-1]}.attn.v_bias (without q_bias)'
                                          for k in stray])
    return result


def _mmseg_attn_key(index: int, name: str) -> str:
    """Key of a timm attention tensor in mmseg's ``TransformerEncoderLayer`` (nn.MultiheadAttention)."""
    mapped = {'qkv.weight': 'in_proj_weight', 'qkv.bias': 'in_proj_bias'}.get(name, None)
    if mapped is None:
        mapped = 'out_proj.' + name.split('.', 1)[1]
    return f'layers.{index}.attn.attn.{mapped}'


def convert_vit(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """timm-style ViT (DeiT, MAE, BEiT checkpoints) -> mmseg ``VisionTransformer`` names.

    The result also serves :class:`ViTAdapter`, whose ViT part uses mmseg's layers.
    BEiT's q/v biases become one qkv bias (k has no bias); its layer scales map to
    ``gamma1/gamma2`` (kept only by models with layer scale); BEiT's relative position
    tables map to ``layers.i.attn.relative_position_bias_table`` and are dropped for
    models without relative positions.
    """
    rules = [
        (r'cls_token', 'cls_token'),
        (r'pos_embed', 'pos_embed'),
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (r'norm\.(weight|bias)', r'ln1.\1'),
    ] + _vit_block_rules(r'blocks\.(\d+)\.', r'layers.\1.',
                         lambda m, name: _mmseg_attn_key(int(m.group(1)), name))
    result = _apply_rules('vit', state_dict, rules, _VIT_DROPS)
    result = _merge_beit_qv_bias(result, _mmseg_attn_key)
    return _drop_missing_targets(result, target_keys)


# ViT-Adapter's own modules (czczup/ViT-Adapter, as SAMRS saves them) -> ViTAdapter's names
_ADAPTER_RULES: List[Rule] = [
    (r'spm\.stem\.([036])\.weight', lambda m, v: {f'spm.stem.{int(m.group(1)) // 3}.conv.weight': v}),
    (r'spm\.stem\.([147])\.' + _BN_FIELDS, lambda m, v: {f'spm.stem.{int(m.group(1)) // 3}.bn.{m.group(2)}': v}),
    (r'spm\.conv([234])\.0\.weight', r'spm.conv\1.conv.weight'),
    (r'spm\.conv([234])\.1\.' + _BN_FIELDS, r'spm.conv\1.bn.\2'),
    (r'spm\.fc([1-4])\.(weight|bias)', r'spm.fc\1.\2'),
    (r'interactions\.(\d+)\.(injector|extractor|extra_extractors\.\d+)\.(query_norm|feat_norm|ffn_norm)\.(weight|bias)',
     r'interactions.\1.\2.\3.\4'),
    (r'interactions\.(\d+)\.(injector|extractor|extra_extractors\.\d+)\.attn\.'
     r'(sampling_offsets|attention_weights|value_proj|output_proj)\.(weight|bias)', r'interactions.\1.\2.attn.\3.\4'),
    (r'interactions\.(\d+)\.injector\.gamma', r'interactions.\1.injector.gamma'),
    (r'interactions\.(\d+)\.(extractor|extra_extractors\.\d+)\.ffn\.(fc1|fc2|dwconv\.dwconv)\.(weight|bias)',
     r'interactions.\1.\2.ffn.\3.\4'),
    (r'level_embed', 'level_embed'),
    (r'up\.(weight|bias)', r'up.\1'),
    (r'norm([1-4])\.' + _BN_FIELDS, lambda m, v: {f'out_norms.{int(m.group(1)) - 1}.{m.group(2)}': v}),
]


def convert_vit_adapter(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """DeiT / MAE / BEiT ViT checkpoints (the ViT part; the adapter modules keep their
    initialisation), or a whole ViT-Adapter as SAMRS's encoders save it (``blocks.i`` with layer
    scales ``gamma1/2``, ``spm``, ``interactions``, ``level_embed``, ``up``, output BatchNorms
    ``norm1``-``norm4`` -> ``out_norms.0-3``) -> :class:`ViTAdapter`."""
    rules = [
        (r'cls_token', 'cls_token'),
        (r'pos_embed', 'pos_embed'),
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (r'norm\.(weight|bias)', r'ln1.\1'),
    ] + _vit_block_rules(r'blocks\.(\d+)\.', r'layers.\1.',
                         lambda m, name: _mmseg_attn_key(int(m.group(1)), name)) + _ADAPTER_RULES
    result = _apply_rules('vit_adapter', state_dict, rules, _VIT_DROPS)
    result = _merge_beit_qv_bias(result, _mmseg_attn_key)
    return _drop_missing_targets(result, target_keys)


def _rvsa_layer_kinds(state_dict: Mapping[str, Tensor], target_keys, interval: int) -> Callable[[int], str]:
    """``kind(i)`` of ViTRVSA layer ``i``: ``'window'`` (RVSA), ``'global'`` (mmseg attention) or
    ``'global_rel_pos'`` (:class:`GlobalRelPosAttention`, timm names).

    Read from the target model's keys when given (any ``interval``: ViT-L + RVSA has 6), else
    from the checkpoint (RVSA sampling heads, MTP's ``full_attn_rel_pos``), else ``interval``.
    """
    if target_keys is not None:
        target = set(target_keys)

        def kind(i):
            if f'layers.{i}.attn.offset_head.weight' in target:
                return 'window'
            return 'global_rel_pos' if f'layers.{i}.attn.rel_pos_h' in target else 'global'
        return kind
    windowed = {int(m.group(1)) for m in (re.match(r'blocks\.(\d+)\.attn\.sampling_offsets\.', k) for k in state_dict)
                if m}
    rel_pos = {int(m.group(1)) for m in (re.match(r'blocks\.(\d+)\.attn\.full_attn_rel_pos_h\Z', k)
                                         for k in state_dict) if m}

    def kind(i):
        if i in rel_pos:
            return 'global_rel_pos'
        if windowed:
            return 'window' if i in windowed else 'global'
        return 'global' if (i + 1) % interval == 0 else 'window'
    return kind


def convert_vit_rvsa(state_dict: Mapping[str, Tensor], target_keys=None, interval: int = 3) -> ConvertedCheckpoint:
    """MAE ViT-B (timm names: the MillionAID ``vit-b-checkpoint-1599.pth``; mmpretrain names:
    a SAMRS-MAE run of ``configs/mae/``) or official RVSA checkpoints -> :class:`ViTRVSA`.

    Windowed layers (RVSA) use ``attn.qkv`` / ``attn.proj``, global layers mmseg's attention
    (``attn.attn.in_proj_*``), or, with MTP's relative positions over the whole grid
    (``full_attn_rel_pos_h/w`` -> ``attn.rel_pos_h/w``), ``attn.qkv`` / ``attn.proj`` again.
    Which layer is which is read from ``target_keys`` when given, else from the checkpoint,
    else from ``interval`` (see :func:`_rvsa_layer_kinds`). SAMRS's plain ViT-B keeps its
    final norm as ``out_norm`` when the target has one (else it is dropped, unused).
    mmpretrain's ``MAEViT`` already names its blocks ``layers.i`` with ``ln1`` / ``ln2`` /
    ``ffn.layers``, as ViTRVSA does: only the attention of the global layers is renamed;
    its final norm ``ln1`` and class token are dropped (the segmentor checkpoint's decoder
    ``neck.*`` never gets here: ``extract_state_dict`` keeps the ``backbone.`` part).
    """
    kind = _rvsa_layer_kinds(state_dict, target_keys, interval)
    keep_final_norm = target_keys is not None and 'out_norm.weight' in set(target_keys)

    def attn_key(match, name):
        index = int(match.group(1))
        if kind(index) == 'global':
            return _mmseg_attn_key(index, name)
        return f'layers.{index}.attn.{name}'

    def mmpretrain_attn(match, value):
        return {attn_key(match, f'{match.group(2)}.{match.group(3)}'): value}

    win = r'blocks\.(\d+)\.attn\.'
    mmpretrain_layer = r'layers\.(\d+)\.'
    rules = [
        (r'pos_embed', 'pos_embed'),
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (r'patch_embed\.projection\.(weight|bias)', r'patch_embed.projection.\1'),
        (mmpretrain_layer + r'(ln1|ln2)\.(weight|bias)', r'layers.\1.\2.\3'),
        (mmpretrain_layer + r'attn\.(qkv|proj)\.(weight|bias)', mmpretrain_attn),
        (mmpretrain_layer + r'ffn\.layers\.(0\.0|1)\.(weight|bias)', r'layers.\1.ffn.layers.\2.\3'),
        (win + r'(rel_pos_h|rel_pos_w)', r'layers.\1.attn.\2'),
        (win + r'full_attn_rel_pos_(h|w)', r'layers.\1.attn.rel_pos_\2'),
        (win + r'sampling_offsets\.2\.(weight|bias)', r'layers.\1.attn.offset_head.\2'),
        (win + r'sampling_scales\.2\.(weight|bias)', r'layers.\1.attn.scale_head.\2'),
        (win + r'sampling_angles\.2\.(weight|bias)', r'layers.\1.attn.angle_head.\2'),
        (r'fpn1\.0\.(weight|bias)', r'pyramid.upsample_4x.0.\1'),
        (r'fpn1\.1\.ln\.(weight|bias)', r'pyramid.upsample_4x.1.\1'),
        (r'fpn1\.3\.(weight|bias)', r'pyramid.upsample_4x.3.\1'),
        (r'fpn2\.0\.(weight|bias)', r'pyramid.upsample_2x.0.\1'),
    ] + _vit_block_rules(r'blocks\.(\d+)\.', r'layers.\1.', attn_key)
    drops = _VIT_DROPS + [
        (r'cls_token', 'ViT-RVSA has no class token'),
        (r'blocks\.\d+\.attn\.relative_position_index', 'buffer rebuilt by the model'),
    ]
    if keep_final_norm:
        rules.insert(0, (r'(?:norm|ln1)\.(weight|bias)', r'out_norm.\1'))
    else:
        drops.append((r'(?:norm|ln1)\.(weight|bias)',
                      'final ViT norm (unused: outputs go through the feature pyramid)'))
    result = _apply_rules('vit_rvsa', state_dict, rules, drops)

    def merged_key(index, name):
        return _mmseg_attn_key(index, name) if kind(index) == 'global' else f'layers.{index}.attn.{name}'

    result = _merge_beit_qv_bias(result, merged_key)
    return _drop_missing_targets(result, target_keys)


# ----------------------------------------------------------------------------- BEiT
_BEIT_SHARED_TABLE = '__beit_shared_relative_position_bias_table__'


def _expand_shared_rel_pos_bias(result: ConvertedCheckpoint) -> ConvertedCheckpoint:
    """Give every layer a copy of a shared relative position table (BEiT ``use_shared_rel_pos_bias``).

    BEiT pre-training checkpoints hold one table for all blocks (``rel_pos_bias.*``); its own
    segmentation code copies it into each block before fine-tuning, and so does this.
    Layers that already have their own table keep it.
    """
    state = result.state_dict
    shared = state.pop(_BEIT_SHARED_TABLE, None)
    if shared is None:
        return result
    layers = sorted({int(k.split('.')[1]) for k in state if k.startswith('layers.')})
    if not layers:
        raise UnmappableKeysError('beit', ['rel_pos_bias.relative_position_bias_table (no blocks.N.* keys to '
                                           'share it with)'])
    expanded = 0
    for index in layers:
        key = f'layers.{index}.attn.relative_position_bias_table'
        if key not in state:
            state[key] = shared.clone()
            expanded += 1
    if expanded == 0:
        result.dropped['rel_pos_bias.relative_position_bias_table'] = \
            'shared relative position table (every block has its own)'
    return result


def convert_beit(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """Official BEiT (microsoft/unilm, e.g. ``beit_base_patch16_224_pt22k_ft22k.pth``) -> mmseg ``BEiT``.

    Unlike the ``vit`` format nothing of BEiT is lost: the separate q/v biases, the layer
    scales ``gamma_1/gamma_2`` and the per-block relative position tables keep their names
    in mmseg's ``BEiT`` (``blocks.i`` -> ``layers.i``, ``norm1/2`` -> ``ln1/2``, ``mlp.fc1/fc2``
    -> ``ffn.layers.0.0/1``, ``patch_embed.proj`` -> ``patch_embed.projection``, final ``norm``
    -> ``ln1``). A shared ``rel_pos_bias`` table is copied into every block. Tables stay at
    the checkpoint's grid: :class:`BEiTBackbone` resizes them to its input size on load.
    """
    blk, new = r'blocks\.(\d+)\.', r'layers.\1.'
    rules = [
        (r'cls_token', 'cls_token'),
        (r'patch_embed\.proj\.(weight|bias)', r'patch_embed.projection.\1'),
        (blk + r'norm1\.(weight|bias)', new + r'ln1.\2'),
        (blk + r'norm2\.(weight|bias)', new + r'ln2.\2'),
        (blk + r'(gamma_1|gamma_2)', new + r'\2'),
        (blk + r'attn\.(q_bias|v_bias|relative_position_bias_table)', new + r'attn.\2'),
        (blk + r'attn\.(qkv\.weight|proj\.weight|proj\.bias)', new + r'attn.\2'),
        (blk + r'mlp\.fc1\.(weight|bias)', new + r'ffn.layers.0.0.\2'),
        (blk + r'mlp\.fc2\.(weight|bias)', new + r'ffn.layers.1.\2'),
        (r'norm\.(weight|bias)', r'ln1.\1'),
        (r'rel_pos_bias\.relative_position_bias_table', _BEIT_SHARED_TABLE),
    ]
    drops = [
        (r'head\.(weight|bias)', 'classifier'),
        (r'fc_norm\.(weight|bias)', 'classifier pooling norm'),
        (r'lm_head\.(weight|bias)', 'BEiT pre-training head'),
        (r'mask_token', 'BEiT pre-training mask token'),
        (r'(blocks\.\d+\.attn|rel_pos_bias)\.relative_position_index', 'buffer rebuilt by the model'),
        # BEiT-B uses relative positions only; variants trained with an absolute embedding
        # lose it here because mmseg's BEiT has no such parameter (reported, not hidden)
        (r'pos_embed', 'absolute position embedding (mmseg BEiT has relative position tables only)'),
    ]
    result = _expand_shared_rel_pos_bias(_apply_rules('beit', state_dict, rules, drops))
    return _drop_missing_targets(result, target_keys)


# ----------------------------------------------------------------------------- ViTAEv2
_PCM_NAMES = {'0': 'conv1', '1': 'bn1', '3': 'conv2', '4': 'bn2', '6': 'conv3'}


def convert_vitaev2(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """Official ViTAEv2 (ImageNet ``ViTAEv2-S.pth.tar``) and RSP ViTAEv2-S -> :class:`ViTAEv2`."""
    def pcm(prefix):
        def rename(match, value):
            return {f'{prefix(match)}.pcm.{_PCM_NAMES[match.group(match.re.groups - 1)]}.'
                    f'{match.group(match.re.groups)}': value}
        return rename

    rc = r'layers\.(\d+)\.RC\.'
    nc = r'layers\.(\d+)\.NC\.(\d+)\.'
    rules = [
        (rc + r'PRM\.convs\.(\d+)\.0\.(weight|bias)', r'stages.\1.reduction.prm.convs.\2.\3'),
        (rc + r'PCM\.([01346])\.' + _BN_FIELDS, pcm(lambda m: f'stages.{m.group(1)}.reduction')),
        (rc + r'attn\.(norm1|norm2)\.(weight|bias)', r'stages.\1.reduction.\2.\3'),
        (rc + r'attn\.attn\.(qkv|proj)\.(weight|bias)', r'stages.\1.reduction.attn.\2.\3'),
        (rc + r'attn\.attn\.relative_position_bias_table', r'stages.\1.reduction.attn.relative_position_bias_table'),
        (rc + r'attn\.mlp\.(fc1|fc2)\.(weight|bias)', r'stages.\1.reduction.mlp.\2.\3'),
        (rc + r'(gamma2|gamma3)', r'stages.\1.reduction.\2'),
        (nc + r'(norm1|norm2)\.(weight|bias)', r'stages.\1.cells.\2.\3.\4'),
        (nc + r'attn\.(qkv|proj)\.(weight|bias)', r'stages.\1.cells.\2.attn.\3.\4'),
        (nc + r'attn\.relative_position_bias_table', r'stages.\1.cells.\2.attn.relative_position_bias_table'),
        (nc + r'mlp\.(fc1|fc2)\.(weight|bias)', r'stages.\1.cells.\2.mlp.\3.\4'),
        (nc + r'PCM\.([01346])\.' + _BN_FIELDS, pcm(lambda m: f'stages.{m.group(1)}.cells.{m.group(2)}')),
        (nc + r'(gamma1|gamma2|gamma3)', r'stages.\1.cells.\2.\3'),
    ]
    drops = [
        (r'head\.(weight|bias)', 'classifier'),
        (r'norm\d\.(weight|bias)', 'output norms the SAMRS ViTAEv2 variant defines but never applies'),
        (r'layers\.\d+\.(RC\.attn\.attn|NC\.\d+\.attn)\.relative_position_index', 'buffer rebuilt by the model'),
        (r'layers\.\d+\.(RC\.attn|NC\.\d+)\.attn_mask', 'buffer rebuilt by the model'),
    ]
    return _drop_missing_targets(_apply_rules('vitaev2', state_dict, rules, drops), target_keys)


# ----------------------------------------------------------------------------- InternImage
def convert_internimage(state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """Official InternImage (``internimage_t_1k_224.pth``, LayerNorm variants) -> :class:`InternImage`."""
    blk = r'levels\.(\d+)\.blocks\.(\d+)\.'
    new_blk = r'stages.\1.blocks.\2.'
    rules = [
        (r'patch_embed\.(conv1|conv2)\.(weight|bias)', r'stem.\1.\2'),
        (r'patch_embed\.(norm1|norm2)\.1\.(weight|bias)', r'stem.\1.\2'),
        (blk + r'(norm1|norm2)\.0\.(weight|bias)', new_blk + r'\3.\4'),
        (blk + r'dcn\.dw_conv\.0\.(weight|bias)', new_blk + r'dcn.dw_conv.\3'),
        (blk + r'dcn\.dw_conv\.1\.1\.(weight|bias)', new_blk + r'dcn.dw_norm.\3'),
        (blk + r'dcn\.(offset|mask|input_proj|output_proj)\.(weight|bias)', new_blk + r'dcn.\3.\4'),
        (blk + r'mlp\.(fc1|fc2)\.(weight|bias)', new_blk + r'mlp.\3.\4'),
        (blk + r'(gamma1|gamma2)', new_blk + r'\3'),
        (r'levels\.(\d+)\.norm\.0\.(weight|bias)', r'stages.\1.norm.\2'),
        (r'levels\.(\d+)\.downsample\.conv\.weight', r'stages.\1.downsample.conv.weight'),
        (r'levels\.(\d+)\.downsample\.norm\.1\.(weight|bias)', r'stages.\1.downsample.norm.\2'),
    ]
    drops = [
        (r'conv_head\..+', 'classification head (1x1 conv + BN)'),
        (r'head\.(weight|bias)', 'classifier'),
    ]
    return _drop_missing_targets(_apply_rules('internimage', state_dict, rules, drops), target_keys)


CONVERTERS: Dict[str, Callable[..., ConvertedCheckpoint]] = {
    'resnet': convert_resnet,
    'swin': convert_swin,
    'vit': convert_vit,
    'vit_adapter': convert_vit_adapter,
    'vit_rvsa': convert_vit_rvsa,
    'beit': convert_beit,
    'vitaev2': convert_vitaev2,
    'internimage': convert_internimage,
}


def convert_checkpoint(fmt: str, state_dict: Mapping[str, Tensor], target_keys=None) -> ConvertedCheckpoint:
    """Convert ``state_dict`` from the official ``fmt`` layout (see ``CONVERTERS``)."""
    if fmt not in CONVERTERS:
        raise ValueError(f'unknown checkpoint format {fmt!r}; known: {sorted(CONVERTERS)}')
    return CONVERTERS[fmt](state_dict, target_keys=target_keys)


# ----------------------------------------------------------------------------- loading
def _is_native(state_dict: Mapping[str, Tensor], own_keys: Iterable[str]) -> bool:
    """Tell whether a state dict already uses the model's key names (e.g. our own checkpoints)."""
    own = set(own_keys)
    hits = sum(key in own for key in state_dict)
    return hits > 0 and hits >= len(state_dict) / 2


def _in_model_layout(state: 'OrderedDict[str, Tensor]', own: Mapping[str, Tensor],
                     fmt: str) -> Tuple['OrderedDict[str, Tensor]', Dict[str, str], str]:
    """The checkpoint in the model's key names: ``(state, dropped, source)``.

    An official layout can share most names with the model (mmpretrain's MAE ViT and
    :class:`ViTRVSA` differ only in the global layers' attention), so a checkpoint counts as
    native only when the ``fmt`` rules cannot map it, or map no more of the model's keys.
    """
    native = _is_native(state, own)
    try:
        result = convert_checkpoint(fmt, state, target_keys=own.keys())
    except UnmappableKeysError:
        if native:
            return state, {}, 'native'
        raise
    if native and len(result.state_dict) <= sum(key in own for key in state):
        return state, {}, 'native'
    return result.state_dict, result.dropped, f'official {fmt!r}'


def load_pretrained_weights(model: torch.nn.Module, checkpoint: str, official_format: str, logger=None) -> dict:
    """Load ``checkpoint`` (path or URL) into ``model``, converting official layouts on the fly.

    The model may define ``adapt_pretrained_state_dict(state_dict)`` to resize tensors that
    depend on the input size (position embeddings, relative position tables). Shape
    mismatches raise :class:`CheckpointShapeError` listing the keys; keys the model has but
    the checkpoint lacks, and official keys left out, are logged. Returns a summary dict.
    """
    from mmengine.logging import MMLogger, print_log
    from mmengine.runner.checkpoint import CheckpointLoader

    logger = logger or MMLogger.get_current_instance()
    raw = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu', logger=logger)
    state = extract_state_dict(raw)
    own = model.state_dict()
    state, dropped, source = _in_model_layout(state, own, official_format)
    adapt = getattr(model, 'adapt_pretrained_state_dict', None)
    if adapt is not None:
        state = adapt(state)
    unexpected = sorted(k for k in state if k not in own)
    for key in unexpected:
        dropped[key] = 'no such parameter in this model configuration'
        state.pop(key)
    bad_shapes = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}' for k, v in state.items()
                  if tuple(v.shape) != tuple(own[k].shape)]
    if bad_shapes:
        raise CheckpointShapeError(f'{len(bad_shapes)} tensor(s) of {checkpoint} do not fit '
                                   f'{type(model).__name__}: ' + '; '.join(bad_shapes[:20]))
    missing = sorted(k for k in own if k not in state and not k.endswith('num_batches_tracked'))
    model.load_state_dict(state, strict=False)
    print_log(f'{type(model).__name__}: loaded {len(state)} tensors from {checkpoint} ({source} layout); '
              f'{len(dropped)} checkpoint key(s) left out, {len(missing)} model key(s) keep their initialisation',
              logger=logger)
    if dropped:
        reasons: Dict[str, List[str]] = {}
        for key, reason in dropped.items():
            reasons.setdefault(reason, []).append(key)
        for reason, keys in reasons.items():
            print_log(f'  left out ({reason}): {len(keys)} key(s), e.g. {keys[:4]}', logger=logger)
    if missing:
        print_log(f'  not in the checkpoint: {missing[:12]}{" ..." if len(missing) > 12 else ""}', logger=logger,
                  level=30)
    return dict(loaded=len(state), dropped=dropped, missing=missing, source=source)
