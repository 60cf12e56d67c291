"""``--verify`` of the released-checkpoint converter: the real model, a strict load, one forward pass."""
from __future__ import annotations

import warnings
from typing import Optional

import torch

from .convert import ConvertedRelease, build_config
from .formats import ReleaseError

__all__ = ['verify_converted']


def _input_size(cfg) -> int:
    size = (cfg.model.get('data_preprocessor') or {}).get('size')
    if size:
        return int(size[0])
    return int((cfg.model.get('backbone') or {}).get('img_size', 224))


def verify_converted(result: ConvertedRelease, config_root: str, cfg_options: Optional[dict] = None) -> str:
    """Build the model of ``result``'s config on the CPU, load the converted tensors strictly and
    run one forward pass on a random image; a one-line report, or :class:`ReleaseError`."""
    import os.path as osp

    from mmengine.registry import MODELS

    from samrs_mm.launch import adapt_config_to_device

    cfg = adapt_config_to_device(build_config(osp.join(config_root, result.format.config), cfg_options))
    with warnings.catch_warnings():  # the libraries' deprecation notes about stock heads
        warnings.simplefilter('ignore', UserWarning)
        model = MODELS.build(cfg.model)
    target = model.backbone if result.format.backbone_only else model
    state = result.state_dict
    if result.format.backbone_only:
        state = {k[len('backbone.'):]: v for k, v in state.items()}
    missing, unexpected = target.load_state_dict(state, strict=False)
    if result.format.kind == 'mae':  # RVSA's own parts start from their initialisation
        missing = [k for k in missing if not k.startswith('pyramid.') and not any(
            part in k for part in ('offset_head', 'scale_head', 'angle_head', 'rel_pos_', 'relative_position'))]
    if missing or unexpected:
        raise ReleaseError(f'strict load into {type(target).__name__} failed: missing {list(missing)[:3]}, '
                           f'unexpected {list(unexpected)[:3]}')
    model.eval()
    size = _input_size(cfg)
    inputs = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if result.format.backbone_only:
            outputs = list(model.backbone(inputs))
            what = 'backbone features ' + ', '.join(str(tuple(o.shape)) for o in outputs)
        else:
            meta = dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                        batch_input_shape=(size, size), subset='sota')
            outputs = [model.encode_decode(inputs, [meta])]
            what = f'SOTA logits {tuple(outputs[0].shape)}'
            if result.format.kind == 'mtp':
                feats = model.extract_feat(inputs)
                for task in model.branches:
                    branch = getattr(model, task)
                    outputs += [t for level in branch.rpn_head(branch.neck(feats)) for t in level]
                what += ', RPN outputs of ' + ' and '.join(model.branches)
    if not all(torch.isfinite(o).all() for o in outputs):
        raise ReleaseError(f'the forward pass of {cfg.model.type} gives non-finite values')
    return f'{type(target).__name__} loaded strictly ({len(state)} tensors); {what}: finite'
