"""Layer-wise learning-rate decay optimiser constructors (registered in mmseg's ``OPTIM_WRAPPER_CONSTRUCTORS``).

Parameter ``p`` at layer ``i`` of a backbone with ``L`` layer indices (0 = embeddings, ``L - 1``
= everything after the last block, including neck and decode heads) gets

    lr = base_lr * layer_decay_rate ** (L - 1 - i)

so the head trains at the base rate and earlier layers progressively slower (BEiT / MAE
fine-tuning recipe; the SAMRS paper's Table 7: ViT and ViT-RVSA 0.9, ViT-Adapter 0.95,
InternImage 1.0). Norm weights, biases, other 1-D parameters (layer scales) and position
embeddings / tables get no weight decay.

Backbones that define ``get_layer_depth(param_name, prefix) -> (layer, num_layers)`` (all
backbones of this package, and mmpretrain's) are asked directly. mmseg's own backbones are
handled by built-in rules: :class:`LayerDecayOptimWrapperConstructor` knows the plain-ViT
family (``VisionTransformer``, ``BEiT``, ``MAE``), :class:`HierarchicalLayerDecayOptimWrapperConstructor`
the pyramids (``SwinTransformer``, ``ResNet`` / ``ResNetV1c`` and its variants).

Config::

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.05),
        constructor='LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.9,
                           custom_keys={'decode_head': dict(lr_mult=1.0)}))
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['LayerDecayOptimWrapperConstructor', 'HierarchicalLayerDecayOptimWrapperConstructor',
           'NO_WEIGHT_DECAY_KEYWORDS']

#: parameter-name fragments that never get weight decay (besides 1-D tensors and biases)
NO_WEIGHT_DECAY_KEYWORDS = ('pos_embed', 'cls_token', 'mask_token', 'relative_position_bias_table', 'rel_pos_h',
                            'rel_pos_w', 'level_embed')

DepthFn = Callable[[str], Tuple[int, int]]


def _vit_family_depth(backbone: nn.Module, prefix: str) -> Optional[DepthFn]:
    """Layer ids for mmseg's plain ViTs: embeddings 0, ``layers.i`` -> i + 1, rest last."""
    layers = getattr(backbone, 'layers', None)
    if layers is None or not all(hasattr(layer, 'attn') for layer in layers):
        return None
    num_layers = len(layers) + 2

    def depth(name: str) -> Tuple[int, int]:
        if not name.startswith(prefix):
            return num_layers - 1, num_layers
        local = name[len(prefix):]
        if local.startswith(('patch_embed', 'cls_token', 'pos_embed', 'mask_token', 'pre_ln', 'ln_pre')):
            return 0, num_layers
        if local.startswith('layers.'):
            return int(local.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    return depth


def _swin_depth(backbone: nn.Module, prefix: str) -> Optional[DepthFn]:
    """Layer ids for mmseg's Swin: embeddings 0, blocks in order, a stage's downsample with its last block."""
    stages = getattr(backbone, 'stages', None)
    if stages is None or not all(hasattr(stage, 'blocks') for stage in stages):
        return None
    depths = [len(stage.blocks) for stage in stages]
    num_layers = sum(depths) + 2

    def depth(name: str) -> Tuple[int, int]:
        if not name.startswith(prefix):
            return num_layers - 1, num_layers
        local = name[len(prefix):]
        if local.startswith(('patch_embed', 'absolute_pos_embed')):
            return 0, num_layers
        if local.startswith('stages.'):
            parts = local.split('.')
            stage = int(parts[1])
            if parts[2] == 'blocks':
                return sum(depths[:stage]) + int(parts[3]) + 1, num_layers
            return sum(depths[:stage + 1]), num_layers
        return num_layers - 1, num_layers

    return depth


def _resnet_depth(backbone: nn.Module, prefix: str) -> Optional[DepthFn]:
    """Layer ids for mmseg's ResNets: stem 0, residual blocks in order, rest last."""
    res_layers = getattr(backbone, 'res_layers', None)
    if res_layers is None:
        return None
    depths = [len(getattr(backbone, name)) for name in res_layers]
    num_layers = sum(depths) + 2

    def depth(name: str) -> Tuple[int, int]:
        if not name.startswith(prefix):
            return num_layers - 1, num_layers
        local = name[len(prefix):]
        if local.startswith(('conv1', 'bn1', 'norm1', 'stem')):
            return 0, num_layers
        if local.startswith('layer'):
            parts = local.split('.')
            stage = int(parts[0][len('layer'):]) - 1
            return sum(depths[:stage]) + int(parts[1]) + 1, num_layers
        return num_layers - 1, num_layers

    return depth


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise lr decay for plain-ViT-family backbones (ViT, BEiT, MAE, ViT-Adapter, ViT-RVSA).

    ``paramwise_cfg``:
        layer_decay_rate (float): decay per layer (1.0: none). Default 1.0.
        backbone_name (str): attribute holding the backbone. Default ``'backbone'``.
        no_weight_decay_keywords (tuple[str]): name fragments without weight decay,
            default :data:`NO_WEIGHT_DECAY_KEYWORDS`.
        custom_keys (dict): as mmengine's, ``{name fragment: dict(lr_mult=, decay_mult=)}``;
            applied on top of the decay (longest matching fragment wins).
    """

    #: built-in layer-id rules for backbones without ``get_layer_depth``
    fallback_rules: Tuple[Callable[[nn.Module, str], Optional[DepthFn]], ...] = (_vit_family_depth, )

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        # a non-empty paramwise_cfg makes the parent call add_params (our grouping) at all
        paramwise_cfg = dict(paramwise_cfg or {})
        paramwise_cfg.setdefault('layer_decay_rate', 1.0)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def _depth_fn(self, model: nn.Module) -> DepthFn:
        name = self.paramwise_cfg.get('backbone_name', 'backbone')
        backbone = getattr(model, name, None)
        if backbone is None:
            raise ValueError(f'{type(self).__name__}: the model has no {name!r} attribute '
                             f'(set paramwise_cfg.backbone_name)')
        prefix = f'{name}.'
        if hasattr(backbone, 'get_layer_depth'):
            num_layers = backbone.get_layer_depth(prefix, prefix)[1]

            def depth(param: str) -> Tuple[int, int]:
                # parameters outside the backbone (neck, heads) train at the full rate
                if param.startswith(prefix):
                    return backbone.get_layer_depth(param, prefix)
                return num_layers - 1, num_layers

            return depth
        for rule in self.fallback_rules:
            depth = rule(backbone, prefix)
            if depth is not None:
                return depth
        other = ('HierarchicalLayerDecayOptimWrapperConstructor'
                 if type(self) is LayerDecayOptimWrapperConstructor else 'LayerDecayOptimWrapperConstructor')
        raise TypeError(f'{type(self).__name__} does not know the layers of {type(backbone).__name__}: give the '
                        f'backbone a get_layer_depth(param_name, prefix) method, or try {other}')

    def _no_weight_decay(self, name: str, param) -> bool:
        keywords = self.paramwise_cfg.get('no_weight_decay_keywords', NO_WEIGHT_DECAY_KEYWORDS)
        return param.ndim <= 1 or name.endswith('.bias') or any(k in name for k in keywords)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs) -> None:
        """Group all trainable parameters of ``module`` by (layer, weight decay, custom key)."""
        rate = float(self.paramwise_cfg.get('layer_decay_rate', 1.0))
        custom_keys: Dict[str, dict] = self.paramwise_cfg.get('custom_keys', {})
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
        depth_fn = self._depth_fn(module)
        base_wd = self.base_wd or 0.
        groups: Dict[tuple, dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer, num_layers = depth_fn(name)
            scale = rate**(num_layers - 1 - layer)
            no_decay = self._no_weight_decay(name, param)
            lr, wd = self.base_lr * scale, 0. if no_decay else base_wd
            key = next((k for k in sorted_keys if k in name), None)
            if key is not None:
                lr *= custom_keys[key].get('lr_mult', 1.)
                wd *= custom_keys[key].get('decay_mult', 1.)
            group_id = (layer, no_decay, key)
            if group_id not in groups:
                name_parts = [f'layer_{layer}', 'no_decay' if no_decay else 'decay'] + ([key] if key else [])
                groups[group_id] = dict(params=[], param_names=[], lr=lr, weight_decay=wd, lr_scale=scale,
                                        layer_id=layer, group_name='_'.join(name_parts))
            groups[group_id]['params'].append(param)
            groups[group_id]['param_names'].append(name)
        params.extend(groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2] or '')))
        print_log(f'{type(self).__name__}: layer_decay_rate={rate}, {len(groups)} parameter groups, '
                  f'{sum(len(g["params"]) for g in groups.values())} tensors', logger='current')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class HierarchicalLayerDecayOptimWrapperConstructor(LayerDecayOptimWrapperConstructor):
    """Layer-wise lr decay for pyramid backbones (ViTAEv2, InternImage, Swin, ResNet).

    Blocks are numbered in order through all stages; a stage's downsampling and closing
    norm share the id of its last block. Same ``paramwise_cfg`` as
    :class:`LayerDecayOptimWrapperConstructor`.
    """

    fallback_rules = (_swin_depth, _resnet_depth)
