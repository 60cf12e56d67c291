#!/usr/bin/env python
"""Convert a published checkpoint to this package's (or mmseg's) key names.

    python tools/model_converters/convert_official.py FORMAT SRC DST

FORMAT (source -> consumer):
  resnet       torchvision / RSP ResNet-50          -> mmseg ResNet (depth=50)
  swin         official / RSP Swin-T                -> mmseg SwinTransformer
  vit          DeiT / MAE / BEiT ViT-B              -> mmseg VisionTransformer
  vit_adapter  DeiT / MAE / BEiT ViT-B              -> samrs_mm ViTAdapter
  beit         BEiT-B (microsoft/unilm)             -> mmseg BEiT / samrs_mm BEiTBackbone
               (relative position tables and layer scale kept)
  vit_rvsa     MAE ViT-B (MillionAID; mmpretrain's  -> samrs_mm ViTRVSA
               SAMRS-MAE of configs/mae/), RVSA
  vitaev2      ViTAEv2-S (ImageNet) / RSP ViTAEv2-S -> samrs_mm ViTAEv2
  internimage  InternImage-T (ImageNet)             -> samrs_mm InternImage

The output holds ``{'state_dict': ..., 'meta': {...}}`` and can be given to
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. (The backbones of this package also
accept the official files directly and convert them on the fly.) Keys that no rule knows
stop the conversion with the list of keys (exit status 2); deliberately dropped keys
(classifiers, MAE decoders, rebuilt buffers) are listed by reason.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_conversion_rules():
    """Import the rule module alone: conversion needs neither mmseg nor the package's registries
    (importing ``samrs_mm`` would load all of OpenMMLab, several seconds for a key rename)."""
    path = osp.join(REPO, 'samrs_mm', 'models', 'backbones', 'pretrained.py')
    spec = importlib.util.spec_from_file_location('samrs_mm_conversion_rules', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


conversion = _load_conversion_rules()


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('format', choices=sorted(conversion.CONVERTERS), help='official layout of SRC')
    parser.add_argument('src', help='official checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--verify', action='store_true',
                        help='build the default consumer (e.g. ViTAEv2-S) and report its keys the converted '
                             'checkpoint lacks (missing) and converted keys it does not have (unexpected); '
                             'exit status 3 on shape mismatches')
    return parser.parse_args(argv)


# default consumer of each format, for --verify (mmseg registry configs)
CONSUMERS = {
    'resnet': dict(type='ResNet', depth=50),
    'swin': dict(type='SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                 window_size=7),
    'vit': dict(type='VisionTransformer', img_size=224, final_norm=True, patch_bias=True,
                norm_cfg=dict(type='LN', eps=1e-6)),
    'vit_adapter': dict(type='ViTAdapter'),
    # BEiT-B as in mmseg's upernet_beit base (qv biases, layer scale 0.1), at the checkpoint's 224
    'beit': dict(type='BEiTBackbone', img_size=224, norm_cfg=dict(type='LN', eps=1e-6)),
    'vit_rvsa': dict(type='ViTRVSA'),
    'vitaev2': dict(type='ViTAEv2'),
    'internimage': dict(type='InternImage'),
}


REBUILT_BUFFERS = ('num_batches_tracked', 'relative_position_index')


def verify(fmt: str, state_dict) -> int:
    """Compare a converted state dict with the default consumer; print missing / unexpected keys."""
    sys.path.insert(0, REPO)
    from mmseg.registry import MODELS

    import samrs_mm  # noqa: F401  (registers the backbones; loads OpenMMLab)
    own = MODELS.build(dict(CONSUMERS[fmt])).state_dict()
    # buffers the model computes itself (statistics counters, relative position indices)
    missing = [k for k in own if k not in state_dict and not k.endswith(REBUILT_BUFFERS)]
    unexpected = [k for k in state_dict if k not in own]
    bad = [f'{k} {tuple(v.shape)} vs {tuple(own[k].shape)}' for k, v in state_dict.items()
           if k in own and tuple(v.shape) != tuple(own[k].shape)]
    print(f'verify against {CONSUMERS[fmt]["type"]}: {len(missing)} missing, {len(unexpected)} unexpected, '
          f'{len(bad)} shape mismatches')
    for title, keys in (('missing (keep their initialisation)', missing), ('unexpected (ignored)', unexpected),
                        ('shape mismatch', bad)):
        if keys:
            print(f'  {title}: {keys[:8]}{" ..." if len(keys) > 8 else ""}')
    return 3 if bad else 0


def main(argv=None) -> int:
    """Convert, print a summary; non-zero exit status on any failure."""
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src} does not exist', file=sys.stderr)
        return 1
    try:
        # the user's own download: trusted, and older checkpoints pickle non-tensor metadata
        raw = torch.load(args.src, map_location='cpu', weights_only=False)
        state = conversion.extract_state_dict(raw)
        result = conversion.convert_checkpoint(args.format, state)
    except conversion.UnmappableKeysError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, OSError) as err:
        print(f'error: cannot convert {args.src}: {err}', file=sys.stderr)
        return 1
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(converted_from=osp.basename(args.src), source_format=args.format)
    torch.save(dict(state_dict=result.state_dict, meta=meta), args.dst)
    print(f'{args.src} ({args.format}): {len(state)} tensors -> {len(result.state_dict)} written to {args.dst}')
    by_reason = {}
    for key, reason in result.dropped.items():
        by_reason.setdefault(reason, []).append(key)
    for reason, keys in by_reason.items():
        print(f'  dropped ({reason}): {len(keys)} e.g. {keys[:3]}')
    return verify(args.format, result.state_dict) if args.verify else 0


if __name__ == '__main__':
    sys.exit(main())
