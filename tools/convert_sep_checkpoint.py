"""Turn a SEP or MTP pre-training checkpoint into a fine-tuning initialisation.

Sources (recognised by their keys): SEP (multi-head segmentation pre-training,
``configs/sep/``) and MTP (multi-task pre-training, ``configs/mtp/``: SEP's model plus the
``instance.*`` and ``rotated.*`` detection branches). Targets (``--target``):

==============  ===============================================  =========================
target          keeps                                            starts fresh
==============  ===============================================  =========================
``segmentor``   backbone, neck, semantic decoder (SEP / MTP)     classifier (``conv_seg``),
                                                                 an auxiliary head MTP lacks
``detector``    backbone (SEP / MTP)                             neck, RPN, RoI heads
``instance``    backbone + MTP's Mask R-CNN branch (FPN, RPN,    ``fc_cls``, ``fc_reg``,
                box and mask heads)                              ``conv_logits``
``rotated``     backbone + MTP's Oriented R-CNN branch (FPN,     ``fc_cls``
                oriented RPN, box head, its class-agnostic
                regression)
==============  ===============================================  =========================

MTP's per-subset last layers (``...subset_heads.<subset>.*``) are dropped like SEP's
classifiers; the branch keys lose their ``instance.`` / ``rotated.`` prefix and become the
stock detector's (``neck.*``, ``rpn_head.*``, ``roi_head.*``).

Two targets (``--target``): ``segmentor`` (default), the mmseg fine-tuning model below, and
``detector``, the backbone of an mmdet / mmrotate detector (Mask R-CNN, Oriented R-CNN):
``backbone.*`` is kept as it is and everything else (decoders, SEP classifiers, a
segmentation neck) is dropped; the detector's neck, RPN and RoI heads start fresh. The
detector config must build the very backbone SEP trained (the shipped ones name mmseg's
class, e.g. ``type='mmseg.ResNetV1c'`` / ``'mmseg.SwinTransformer'``), so with ``--config``
every backbone key loads with its shape.

A SEP model is an mmseg ``EncoderDecoder`` whose ``decode_head`` (and ``auxiliary_head``)
is a ``MultiHeadDecodeHead`` around a stock head::

    backbone.* / neck.*                                   kept as they are
    decode_head.shared_decoder.<stock head keys>          kept, renamed to decode_head.<key>
    decode_head.subset_heads.<sota|sior|fast>.weight/bias dropped (one classifier per subset)
    decode_head.subset_cls_embeds.<subset>.weight/bias    dropped (Mask2Former SEP)
    (the same under auxiliary_head.)

The fine-tuning classifier (``conv_seg``, or Mask2Former's ``cls_embed``) starts fresh.
The result is an mmengine checkpoint for ``load_from``::

    python tools/convert_sep_checkpoint.py work_dirs/sep_upernet_r50/iter_80000.pth \\
        checkpoints/sep/upernet_r50_sep_init.pth \\
        --config configs/finetune/potsdam/upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py
    SEP_INIT=checkpoints/sep/upernet_r50_sep_init.pth python tools/train.py \\
        configs/finetune/potsdam/upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py

With ``--config`` the converted keys are checked against the fine-tuning model built from
that config: ViT position embeddings, BEiT relative position tables and the global
relative positions of MTP's RVSA are resized to its input size (SEP runs at 224 x 224;
BEiT's relative position index buffers are taken from the model), then every key must
exist with the same shape and only the fresh classifier may be missing; otherwise nothing
is written and the exit status is 1. Use ``--config`` for ViT-family backbones: without
it their position embeddings keep the SEP size.

    python tools/convert_sep_checkpoint.py work_dirs/upernet_r50/iter_80000.pth \\
        checkpoints/sep_init/oriented-rcnn_r50-sep.pth --target detector \\
        --config configs/finetune/dior_r/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dior-r.py
"""
from __future__ import annotations

import argparse
import math
import os
import os.path as osp
import re
import sys
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

import torch  # noqa: E402

# <head>.<SEP part>.<rest>; auxiliary heads may be a list (auxiliary_head.0. ...).
SEP_KEY = re.compile(r'^(?P<head>decode_head|auxiliary_head(?:\.\d+)?)\.'
                     r'(?P<part>shared_decoder|subset_heads|subset_cls_embeds)\.(?P<rest>.+)$')
# Keys of a fine-tuning model that are expected to start fresh, per target.
FRESH_CLASSIFIER = re.compile(r'^(decode_head|auxiliary_head(\.\d+)?)\.(conv_seg|cls_embed)\.')
FRESH_DETECTOR_HEADS = re.compile(r'^(neck|rpn_head|roi_head|bbox_head|mask_head)\.')
FRESH_DETECTOR_CLASSIFIERS = re.compile(r'^roi_head\.(bbox_head\.(fc_cls|fc_reg)|mask_head\.conv_logits)\.')
FRESH = {'segmentor': FRESH_CLASSIFIER, 'detector': FRESH_DETECTOR_HEADS, 'instance': FRESH_DETECTOR_CLASSIFIERS,
         'rotated': FRESH_DETECTOR_CLASSIFIERS}
# An auxiliary head the checkpoint does not have (MTP trains none) starts fresh too.
FRESH_AUXILIARY = re.compile(r'^auxiliary_head(\.\d+)?\.')
# <task>.<stock detector key> of an MTP checkpoint's detection branches.
MTP_BRANCH_KEY = re.compile(r'^(?P<task>instance|rotated)\.(?P<rest>.+)$')
MTP_TASKS = ('instance', 'rotated')


class SEPConversionError(Exception):
    """The input is not a SEP checkpoint or does not fit the fine-tuning model."""


def convert_sep_state_dict(state_dict: Dict[str, torch.Tensor]
                           ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Map SEP keys to stock fine-tuning keys; return the new state dict and a report.

    The report holds ``kept`` (unchanged keys), ``renamed`` (old -> new), ``dropped``
    (key -> reason) and ``subsets`` (the SAMRS subsets whose heads were dropped).
    """
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    report = dict(kept=[], renamed={}, dropped={}, subsets=set(), resized={})
    found_sep_part = False
    for key, value in state_dict.items():
        if key.startswith('module.'):  # saved from a DDP wrapper by hand
            key = key[len('module.'):]
        match = SEP_KEY.match(key)
        if match is None:
            _put(converted, key, value, key)
            report['kept'].append(key)
            continue
        found_sep_part = True
        head, part, rest = match.group('head', 'part', 'rest')
        if part == 'shared_decoder':
            if rest.startswith('conv_seg.'):
                report['dropped'][key] = 'classifier of the wrapped head (unused in SEP)'
                continue
            new_key = f'{head}.{rest}'
            _put(converted, new_key, value, key)
            report['renamed'][key] = new_key
        else:
            subset = rest.split('.', 1)[0]
            report['subsets'].add(subset)
            report['dropped'][key] = f'SEP classifier of subset {subset!r}'
    if not found_sep_part:
        raise SEPConversionError(
            'no SEP keys found (decode_head.shared_decoder.*, decode_head.subset_heads.* or '
            'decode_head.subset_cls_embeds.*): this is not a multi-head SEP checkpoint; a plain '
            'mmseg checkpoint can be given to load_from directly')
    report['subsets'] = sorted(report['subsets'])
    return converted, report


def convert_sep_to_detector(state_dict: Dict[str, torch.Tensor]
                            ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Keep a SEP checkpoint's backbone for a detector; return the new state dict and a report.

    The report has the same keys as :func:`convert_sep_state_dict`'s: ``kept`` (the
    ``backbone.*`` keys), ``renamed`` (empty), ``dropped`` (key -> reason), ``subsets``.
    """
    _, seg_report = convert_sep_state_dict(state_dict)  # refuses what is not a SEP checkpoint
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    report = dict(kept=[], renamed={}, dropped={}, subsets=seg_report['subsets'], resized={})
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith('backbone.'):
            converted[key] = value
            report['kept'].append(key)
        else:
            part = key.split('.', 1)[0]
            if part in MTP_TASKS:
                report['dropped'][key] = f'{part} branch of the multi-task model (--target {part} keeps it)'
            else:
                report['dropped'][key] = f'{part} of the segmentation model (the detector has its own)'
    if not converted:
        raise SEPConversionError('no backbone.* keys found: nothing to initialise a detector with')
    return converted, report


def _unwrapped(state_dict: Dict[str, torch.Tensor]):
    """``(key, value)`` pairs without a DDP wrapper's ``module.`` prefix."""
    for key, value in state_dict.items():
        yield (key[len('module.'):] if key.startswith('module.') else key), value


def is_mtp_state_dict(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether the weights are an MTP model's (they hold ``instance.*`` / ``rotated.*`` branches)."""
    return any(MTP_BRANCH_KEY.match(key) for key, _ in _unwrapped(state_dict))


def convert_mtp_to_segmentor(state_dict: Dict[str, torch.Tensor]
                             ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """An MTP checkpoint's backbone and semantic branch as a SEP conversion makes them.

    The detection branches are dropped; the rest goes through :func:`convert_sep_state_dict`.
    """
    semantic, branches = OrderedDict(), {}
    for key, value in _unwrapped(state_dict):
        match = MTP_BRANCH_KEY.match(key)
        if match is None:
            semantic[key] = value
        else:
            task = match.group('task')
            branches[key] = f'{task} branch of the multi-task model (--target {task})'
    converted, report = convert_sep_state_dict(semantic)
    report['dropped'].update(branches)
    return converted, report


def convert_mtp_to_detector(state_dict: Dict[str, torch.Tensor], task: str
                            ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """The backbone and the ``task`` branch of an MTP checkpoint as a stock detector's weights.

    ``<task>.neck|rpn_head|roi_head.*`` lose the prefix; the branch's per-subset last layers
    (``...subset_heads.<subset>.*``) are dropped, as are the semantic branch, a shared neck
    and the other branch. The report has :func:`convert_sep_state_dict`'s keys.
    """
    if not is_mtp_state_dict(state_dict):
        raise SEPConversionError(f'--target {task} needs an MTP checkpoint (instance.* / rotated.* keys); a SEP '
                                 'checkpoint has no detection branch: use --target detector for its backbone')
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    report = dict(kept=[], renamed={}, dropped={}, subsets=set(), resized={},
                  renamed_what=f'{task} branch -> stock detector')
    for key, value in _unwrapped(state_dict):
        match = MTP_BRANCH_KEY.match(key)
        if key.startswith('backbone.'):
            converted[key] = value
            report['kept'].append(key)
        elif match is None:
            part = key.split('.', 1)[0]
            report['dropped'][key] = f'{part} of the semantic branch'
        elif match.group('task') != task:
            report['dropped'][key] = f'{match.group("task")} branch of the multi-task model'
        elif '.subset_heads.' in match.group('rest'):
            subset = match.group('rest').split('.subset_heads.', 1)[1].split('.', 1)[0]
            report['subsets'].add(subset)
            report['dropped'][key] = f'{task} last layer of subset {subset!r}'
        else:
            _put(converted, match.group('rest'), value, key)
            report['renamed'][key] = match.group('rest')
    if not report['renamed']:
        raise SEPConversionError(f'the checkpoint has no {task} branch weights')
    report['subsets'] = sorted(report['subsets'])
    return converted, report


def convert_checkpoint(state_dict: Dict[str, torch.Tensor], target: str
                       ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Convert SEP or MTP weights for ``target`` (see the module docstring)."""
    if target in MTP_TASKS:
        return convert_mtp_to_detector(state_dict, target)
    if target == 'detector':
        return convert_sep_to_detector(state_dict)
    if is_mtp_state_dict(state_dict):
        return convert_mtp_to_segmentor(state_dict)
    return convert_sep_state_dict(state_dict)


def _put(target: dict, key: str, value: torch.Tensor, origin: str) -> None:
    if key in target:
        raise SEPConversionError(f'{origin} maps to {key}, which the checkpoint already holds')
    target[key] = value


def extract_state_dict(checkpoint: object, path: str) -> Dict[str, torch.Tensor]:
    """The model weights of an mmengine checkpoint (or of a bare state dict)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']
    elif isinstance(checkpoint, dict) and isinstance(checkpoint.get('model'), dict):
        checkpoint = checkpoint['model']
    if not isinstance(checkpoint, dict) or not all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise SEPConversionError(f'{path}: no state dict found (expected an mmengine checkpoint '
                                 "with 'state_dict' or a dict of tensors)")
    return checkpoint


def _grid_split(tokens: int, other: int) -> Optional[Tuple[int, int, int]]:
    """``(extra, side, other_side)`` when both token counts are extra tokens + a square grid."""
    for extra in (0, 1, 2):
        side, other_side = math.isqrt(tokens - extra), math.isqrt(other - extra)
        if side * side == tokens - extra and other_side * other_side == other - extra:
            return extra, side, other_side
    return None


def resize_position_embeddings(state_dict: Dict[str, torch.Tensor],
                               target: Dict[str, torch.Tensor]) -> Dict[str, str]:
    """Resize ViT position embeddings (``*pos_embed``) to the fine-tuning model's grid.

    SEP trains at 224 x 224, fine-tuning runs at 512 or 896: the patch grid grows, so the
    ``(1, extra + H*W, C)`` table is interpolated bicubically over the grid (extra tokens,
    e.g. the class token, are kept). Returns ``key -> 'old shape -> new shape'``.
    """
    resized = {}
    for key, value in list(state_dict.items()):
        wanted = target.get(key)
        if (wanted is None or not key.endswith('pos_embed') or value.dim() != 3
                or wanted.dim() != 3 or tuple(value.shape) == tuple(wanted.shape)
                or value.shape[0] != 1 or value.shape[2] != wanted.shape[2]):
            continue
        split = _grid_split(value.shape[1], wanted.shape[1])
        if split is None:
            continue
        extra, side, new_side = split
        grid = value[:, extra:].reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
        grid = torch.nn.functional.interpolate(grid, size=(new_side, new_side), mode='bicubic',
                                               align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, new_side * new_side, -1).to(value.dtype)
        state_dict[key] = torch.cat([value[:, :extra], grid], dim=1)
        resized[key] = f'{tuple(value.shape)} -> {tuple(state_dict[key].shape)}'
    return resized


def resize_relative_position_tables(state_dict: Dict[str, torch.Tensor],
                                    target: Dict[str, torch.Tensor]) -> Dict[str, str]:
    """Resize BEiT relative position tables (``*relative_position_bias_table``) to the model's grid.

    mmseg's BEiT holds a ``((2W-1)^2 + 3, heads)`` table per block for a ``W x W`` patch grid
    (14 at 224, 32 at 512, 56 at 896): it is resized with BEiT's geometric interpolation
    (``samrs_mm.models.backbones.resize_relative_position_table``), and the grid's
    ``relative_position_index`` buffer is taken from the model. Tables of window-attention
    backbones (Swin, ViTAEv2: same shape at every input size) are left alone.
    """
    from samrs_mm.models.backbones.beit import NUM_EXTRA_RELATIVE_POSITIONS, resize_relative_position_table

    resized = {}
    for key, value in list(state_dict.items()):
        wanted = target.get(key)
        if wanted is None or tuple(value.shape) == tuple(wanted.shape):
            continue
        if key.endswith('relative_position_index'):
            state_dict[key] = wanted.clone()  # a function of the grid only
            resized[key] = f'{tuple(value.shape)} -> {tuple(wanted.shape)} (the model\'s index)'
            continue
        if (not key.endswith('relative_position_bias_table') or value.dim() != 2
                or wanted.dim() != 2 or value.shape[1] != wanted.shape[1]):
            continue
        side = math.isqrt(wanted.shape[0] - NUM_EXTRA_RELATIVE_POSITIONS)
        if side * side != wanted.shape[0] - NUM_EXTRA_RELATIVE_POSITIONS or side % 2 == 0:
            continue  # not a BEiT table of a square grid: reported as a mismatch
        try:
            state_dict[key] = resize_relative_position_table(value, ((side + 1) // 2, ) * 2)
        except ValueError:
            continue
        resized[key] = f'{tuple(value.shape)} -> {tuple(state_dict[key].shape)}'
    return resized


def resize_global_relative_positions(state_dict: Dict[str, torch.Tensor],
                                     target: Dict[str, torch.Tensor]) -> Dict[str, str]:
    """Resample the relative-position tables of global attention over the token grid
    (``*.attn.rel_pos_h/w`` of MTP's ViT + RVSA, ``(2 * grid - 1, head dims)``) to the
    model's grid; window tables have the same shape at every input size and are left alone."""
    from samrs_mm.models.backbones.vit_rvsa import resize_rel_pos

    resized = {}
    for key, value in list(state_dict.items()):
        wanted = target.get(key)
        if (wanted is None or not key.endswith(('.attn.rel_pos_h', '.attn.rel_pos_w')) or value.dim() != 2
                or wanted.dim() != 2 or value.shape[1] != wanted.shape[1] or value.shape == wanted.shape):
            continue
        state_dict[key] = resize_rel_pos(value, wanted.shape[0])
        resized[key] = f'{tuple(value.shape)} -> {tuple(wanted.shape)}'
    return resized


def build_target(config: str) -> Dict[str, torch.Tensor]:
    """The state dict of the model of a fine-tuning config (weights not initialised).

    The config's ``default_scope`` decides the registry (mmseg, mmdet, mmrotate); its
    ``custom_imports`` are imported (the rotated configs' import mmrotate).
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return MODELS.build(cfg.model).state_dict()  # nothing is downloaded before init_weights


def check_against_target(state_dict: Dict[str, torch.Tensor],
                         target: Dict[str, torch.Tensor], fresh_pattern: re.Pattern = FRESH_CLASSIFIER) -> dict:
    """Compare converted keys and shapes with a fine-tuning model's state dict.

    Model keys missing from the checkpoint are ``fresh`` when ``fresh_pattern`` matches them
    (the new heads) and ``missing`` otherwise.
    """
    missing = sorted(set(target) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(target))
    mismatched = sorted(f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
                        f'{tuple(target[k].shape)}'
                        for k in set(target) & set(state_dict)
                        if tuple(target[k].shape) != tuple(state_dict[k].shape))
    fresh = [k for k in missing if fresh_pattern.match(k)]
    return dict(fresh=fresh, missing=[k for k in missing if k not in fresh],
                unexpected=unexpected, mismatched=mismatched, model_keys=len(target))


def _group(keys: List[str]) -> str:
    counts = Counter(k.split('.', 1)[0] for k in keys)
    return ', '.join(f'{name} {count}' for name, count in sorted(counts.items())) or 'none'


def print_report(report: dict, check: Optional[dict], verbose: bool) -> None:
    """Say what was kept, renamed and dropped (and how it fits the fine-tuning model)."""
    renamed, dropped = report['renamed'], report['dropped']
    print(f'kept unchanged: {len(report["kept"])} tensors ({_group(report["kept"])})')
    if renamed:
        what = report.get('renamed_what', 'shared decoder -> stock head')
        print(f'renamed ({what}): {len(renamed)} tensors '
              f'({_group(list(renamed.values()))})')
    print(f'dropped: {len(dropped)} tensors (SEP subsets: {", ".join(report["subsets"]) or "-"})')
    reasons = Counter(dropped.values())
    for reason, count in sorted(reasons.items()):
        print(f'  {count:4d} x {reason}')
    for key, change in report.get('resized', {}).items():
        print(f'resized to the fine-tuning input size: {key} {change}')
    if verbose:
        for old, new in renamed.items():
            print(f'  rename {old} -> {new}')
        for key in dropped:
            print(f'  drop   {key}')
    if check is not None:
        fresh = check['fresh']
        listed = ', '.join(fresh) if len(fresh) <= 8 else f'{len(fresh)} tensors ({_group(fresh)})'
        print(f'fine-tuning model: {check["model_keys"]} tensors; starting fresh: {listed or "none"}')
        for title in ('missing', 'unexpected', 'mismatched'):
            if check[title]:
                print(f'{title} ({len(check[title])}):')
                for line in check[title][:50]:
                    print(f'  {line}')


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of the converter."""
    parser = argparse.ArgumentParser(
        description='Convert a SEP or MTP pre-training checkpoint into a fine-tuning initialisation '
                    '(shared parts kept, per-subset classifiers dropped).')
    parser.add_argument('src', help='SEP or MTP checkpoint (.pth written by tools/train.py)')
    parser.add_argument('dst', help='output checkpoint, for load_from / SEP_INIT')
    parser.add_argument('--config', help='fine-tuning config whose model the result must fit')
    parser.add_argument('--target', choices=sorted(FRESH), default='segmentor',
                        help='segmentor: backbone + decoder of an mmseg model (default); detector: '
                             'the backbone of an mmdet / mmrotate detector (neck and heads fresh); '
                             'instance / rotated (MTP checkpoints): backbone + that branch as a Mask '
                             'R-CNN / Oriented R-CNN (only the class-dependent last layers fresh)')
    parser.add_argument('--verbose', action='store_true', help='list every renamed / dropped key')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Convert; return the exit status."""
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src}: checkpoint not found', file=sys.stderr)
        return 2
    if args.config and not osp.isfile(args.config):
        print(f'error: {args.config}: config not found', file=sys.stderr)
        return 2
    from mmengine.runner.checkpoint import CheckpointLoader

    import samrs_mm  # noqa: F401  (runtime fixes: torch>=2.6 checkpoint loading; registries)
    try:
        checkpoint = CheckpointLoader.load_checkpoint(args.src, map_location='cpu')
        weights = extract_state_dict(checkpoint, args.src)
        source = 'mtp' if is_mtp_state_dict(weights) else 'sep'
        state_dict, report = convert_checkpoint(weights, args.target)
    except SEPConversionError as error:
        print(f'error: {args.src}: {error}', file=sys.stderr)
        return 2
    check = None
    if args.config:
        target = build_target(args.config)
        report['resized'] = resize_position_embeddings(state_dict, target)
        report['resized'].update(resize_relative_position_tables(state_dict, target))
        report['resized'].update(resize_global_relative_positions(state_dict, target))
        fresh = FRESH[args.target]
        if args.target == 'segmentor' and not any(FRESH_AUXILIARY.match(k) for k in state_dict):
            fresh = re.compile(f'{fresh.pattern}|{FRESH_AUXILIARY.pattern}')
        check = check_against_target(state_dict, target, fresh)
    print(f'{args.src} -> {args.dst}')
    print_report(report, check, args.verbose)
    if check is not None and (check['missing'] or check['unexpected'] or check['mismatched']):
        print(f'error: the converted weights do not fit the model of {args.config}; nothing '
              'written (is it the fine-tuning config of the same backbone and decoder?)',
              file=sys.stderr)
        return 1
    meta = dict(converted_from=osp.abspath(args.src), converter='tools/convert_sep_checkpoint.py',
                source=source, target=args.target, sep_subsets=report['subsets'], dropped=sorted(report['dropped']),
                resized=report['resized'], checked_against=args.config)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    partial = f'{args.dst}.part{os.getpid()}'
    torch.save(dict(meta=meta, state_dict=state_dict), partial)
    os.replace(partial, args.dst)
    print(f'wrote {args.dst} ({len(state_dict)} tensors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
