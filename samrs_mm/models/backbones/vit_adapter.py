"""ViT-Adapter (Chen et al., "Vision Transformer Adapter for Dense Predictions", ICLR 2023).

A plain ViT (mmseg's ``VisionTransformer`` layers, so ViT checkpoints load unchanged) gets a
convolutional *spatial prior module* (SPM) producing 1/8, 1/16, 1/32 features; around groups
of ViT layers an *injector* lets the ViT tokens attend to those features and an *extractor*
lets the features attend back to the ViT tokens, both with multi-scale deformable attention
(mmcv's ``MultiScaleDeformableAttention``; its pure-PyTorch path runs on CPU). The 1/8 map is
upsampled to 1/4, the ViT outputs are added, and the four levels are normalised.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.ops import MultiScaleDeformableAttention
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmseg.models.backbones.vit import TransformerEncoderLayer, VisionTransformer
from mmseg.registry import MODELS

from .pretrained import load_pretrained_weights


class LayerScaleTransformerEncoderLayer(TransformerEncoderLayer):
    """mmseg's ViT layer with stochastic depth on both branches and optional layer scale.

    (mmseg's own layer applies drop path to the FFN branch only.) ``layer_scale`` is the
    initial value of the per-channel residual scales ``gamma1`` / ``gamma2`` (``None``: no
    scales), as in BEiT and ViT-Adapter's ViT.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, drop_path_rate: float = 0.,
                 layer_scale: Optional[float] = None, **kwargs):
        attn_cfg = dict(dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate) if drop_path_rate > 0 else None)
        super().__init__(embed_dims, num_heads, feedforward_channels, drop_path_rate=drop_path_rate,
                         attn_cfg=attn_cfg, ffn_cfg=dict(), **kwargs)
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(torch.full((embed_dims, ), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((embed_dims, ), float(layer_scale)))
        else:
            self.gamma1 = self.gamma2 = None

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        # identity=0 makes mmcv's blocks return only their (drop-path'ed) branch, so it can be scaled
        zero = x.new_zeros(())
        attn = self.attn(self.norm1(x), identity=zero)
        x = x + (attn if self.gamma1 is None else self.gamma1 * attn)
        ffn = self.ffn(self.norm2(x), identity=zero)
        return x + (ffn if self.gamma2 is None else self.gamma2 * ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


class DeformableCrossAttention(MultiScaleDeformableAttention):
    """mmcv's multi-scale deformable attention returning the attention term only (no residual)."""

    def forward(self, query, value, reference_points, spatial_shapes, level_start_index):  # noqa: D102
        return super().forward(query, value=value, identity=query.new_zeros(()), reference_points=reference_points,
                               spatial_shapes=spatial_shapes, level_start_index=level_start_index)


def _reference_points(shapes: Sequence[Tuple[int, int]], device) -> torch.Tensor:
    """Normalised pixel centres of the given grids, concatenated: ``(1, sum(h * w), 1, 2)`` as (x, y)."""
    points = []
    for h, w in shapes:
        ys, xs = torch.meshgrid((torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h,
                                (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w, indexing='ij')
        points.append(torch.stack((xs.reshape(-1), ys.reshape(-1)), -1))
    return torch.cat(points, 0)[None, :, None]


def _level_tensors(shapes: Sequence[Tuple[int, int]], device) -> Tuple[torch.Tensor, torch.Tensor]:
    """``spatial_shapes`` and ``level_start_index`` tensors for mmcv's deformable attention."""
    spatial = torch.as_tensor(shapes, dtype=torch.long, device=device)
    starts = torch.cat((spatial.new_zeros(1), spatial.prod(1).cumsum(0)[:-1]))
    return spatial, starts


class MultiLevelDWConv(nn.Module):
    """Depthwise 3x3 conv applied to each level of concatenated multi-level tokens."""

    def __init__(self, channels: int):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)

    def forward(self, x: torch.Tensor, shapes: Sequence[Tuple[int, int]]) -> torch.Tensor:
        b, _, c = x.shape
        outs, start = [], 0
        for h, w in shapes:
            level = x[:, start:start + h * w].transpose(1, 2).reshape(b, c, h, w)
            outs.append(self.dwconv(level).flatten(2).transpose(1, 2))
            start += h * w
        return torch.cat(outs, 1)


class ConvFFN(nn.Module):
    """FFN with a depthwise conv between its two linear layers (extractor)."""

    def __init__(self, channels: int, hidden: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.dwconv = MultiLevelDWConv(hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, shapes: Sequence[Tuple[int, int]]) -> torch.Tensor:
        x = self.drop(F.gelu(self.dwconv(self.fc1(x), shapes)))
        return self.drop(self.fc2(x))


class Injector(BaseModule):
    """ViT tokens attend to the spatial-prior features (3 levels); added with a learned scale."""

    def __init__(self, dims: int, num_heads: int, n_points: int, deform_ratio: float, init_values: float,
                 norm_cfg: dict, with_cp: bool = False):
        super().__init__()
        self.query_norm = build_norm_layer(norm_cfg, dims)[1]
        self.feat_norm = build_norm_layer(norm_cfg, dims)[1]
        self.attn = DeformableCrossAttention(dims, num_heads, num_levels=3, num_points=n_points, dropout=0.,
                                             batch_first=True, value_proj_ratio=deform_ratio)
        self.gamma = nn.Parameter(torch.full((dims, ), float(init_values)))
        self.with_cp = with_cp

    def _forward(self, query, feat, reference_points, spatial_shapes, level_start_index):
        attn = self.attn(self.query_norm(query), self.feat_norm(feat), reference_points, spatial_shapes,
                         level_start_index)
        return query + self.gamma * attn

    def forward(self, query, feat, reference_points, spatial_shapes, level_start_index):
        args = (query, feat, reference_points, spatial_shapes, level_start_index)
        if self.with_cp and query.requires_grad:
            return cp.checkpoint(self._forward, *args, use_reentrant=False)
        return self._forward(*args)


class Extractor(BaseModule):
    """Spatial-prior features attend to the ViT tokens (1 level), then a ConvFFN."""

    def __init__(self, dims: int, num_heads: int, n_points: int, deform_ratio: float, with_cffn: bool,
                 cffn_ratio: float, drop: float, drop_path: float, norm_cfg: dict, with_cp: bool = False):
        super().__init__()
        self.query_norm = build_norm_layer(norm_cfg, dims)[1]
        self.feat_norm = build_norm_layer(norm_cfg, dims)[1]
        self.attn = DeformableCrossAttention(dims, num_heads, num_levels=1, num_points=n_points, dropout=0.,
                                             batch_first=True, value_proj_ratio=deform_ratio)
        if with_cffn:
            self.ffn = ConvFFN(dims, int(dims * cffn_ratio), drop)
            self.ffn_norm = build_norm_layer(norm_cfg, dims)[1]
            self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        else:
            self.ffn = None
        self.with_cp = with_cp

    def _forward(self, query, feat, reference_points, spatial_shapes, level_start_index, query_shapes):
        query = query + self.attn(self.query_norm(query), self.feat_norm(feat), reference_points, spatial_shapes,
                                  level_start_index)
        if self.ffn is not None:
            query = query + self.drop_path(self.ffn(self.ffn_norm(query), query_shapes))
        return query

    def forward(self, query, feat, reference_points, spatial_shapes, level_start_index, query_shapes):
        args = (query, feat, reference_points, spatial_shapes, level_start_index)
        if self.with_cp and query.requires_grad:
            return cp.checkpoint(lambda *a: self._forward(*a, query_shapes), *args, use_reentrant=False)
        return self._forward(*args, query_shapes)


class InteractionBlock(BaseModule):
    """Injector -> a group of ViT layers -> extractor (-> extra extractors on the last block)."""

    def __init__(self, dims: int, num_heads: int, n_points: int, deform_ratio: float, with_cffn: bool,
                 cffn_ratio: float, drop: float, drop_path: float, init_values: float, extra_extractor: bool,
                 norm_cfg: dict, with_cp: bool = False):
        super().__init__()
        self.injector = Injector(dims, num_heads, n_points, deform_ratio, init_values, norm_cfg, with_cp)
        extractor_args = (dims, num_heads, n_points, deform_ratio, with_cffn, cffn_ratio, drop, drop_path, norm_cfg,
                          with_cp)
        self.extractor = Extractor(*extractor_args)
        self.extra_extractors = ModuleList([Extractor(*extractor_args)
                                            for _ in range(2)]) if extra_extractor else None

    def forward(self, x, c, layers, vit_shape, prior_shapes):
        """Update ViT tokens ``x`` (1 level, ``vit_shape``) and prior tokens ``c`` (3 levels)."""
        device = x.device
        prior_spatial, prior_start = _level_tensors(prior_shapes, device)
        vit_spatial, vit_start = _level_tensors([vit_shape], device)
        x = self.injector(x, c, _reference_points([vit_shape], device), prior_spatial, prior_start)
        for layer in layers:
            x = layer(x)
        prior_points = _reference_points(prior_shapes, device)
        for extractor in [self.extractor, *(self.extra_extractors or [])]:
            c = extractor(c, x, prior_points, vit_spatial, vit_start, prior_shapes)
        return x, c


class SpatialPriorModule(BaseModule):
    """ResNet-like conv stem giving 1/4, 1/8, 1/16, 1/32 features projected to the ViT width."""

    def __init__(self, in_channels: int, inplanes: int, embed_dims: int, norm_cfg: dict):
        super().__init__()
        conv = dict(kernel_size=3, padding=1, bias=False, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.stem = nn.Sequential(
            ConvModule(in_channels, inplanes, stride=2, **conv), ConvModule(inplanes, inplanes, stride=1, **conv),
            ConvModule(inplanes, inplanes, stride=1, **conv), nn.MaxPool2d(3, 2, 1))
        self.conv2 = ConvModule(inplanes, 2 * inplanes, stride=2, **conv)
        self.conv3 = ConvModule(2 * inplanes, 4 * inplanes, stride=2, **conv)
        self.conv4 = ConvModule(4 * inplanes, 4 * inplanes, stride=2, **conv)
        self.fc1 = nn.Conv2d(inplanes, embed_dims, 1)
        self.fc2 = nn.Conv2d(2 * inplanes, embed_dims, 1)
        self.fc3 = nn.Conv2d(4 * inplanes, embed_dims, 1)
        self.fc4 = nn.Conv2d(4 * inplanes, embed_dims, 1)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        c1 = self.stem(x)
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        c4 = self.conv4(c3)
        return [self.fc1(c1), self.fc2(c2), self.fc3(c3), self.fc4(c4)]


@MODELS.register_module()
class ViTAdapter(VisionTransformer):
    """ViT-Adapter backbone (4 levels, ``embed_dims`` channels each); defaults are ViT-Adapter-B as used by SAMRS.

    ViT-B (patch 16, 768 wide, 12 layers, 12 heads, layer scale 1.0 as in the official
    ViT-Adapter ViT) with interactions around layers [[0, 2], [3, 5], [6, 8], [9, 11]],
    12-head deformable attention with 4 points and value ratio 0.5, ConvFFN ratio 0.25,
    two extra extractors after the last interaction, drop path 0.3. Outputs 1/4, 1/8,
    1/16 and 1/32 maps.

    Parameters: 99,495,392 (pinned in the tests): the ViT-B part (patch embedding, position
    embedding, 12 layers with layer scale) 85,814,784 = DeiT-B's backbone + 18,432 layer-scale
    factors, and the adapter 13,680,608 (the ViT-Adapter paper's "86M + 14M"). The official
    module also holds an unused class token and final norm, not created here.

    Args:
        img_size: pre-training image size the position embedding is defined for (resized at
            run time for other sizes).
        patch_size, in_channels, embed_dims, num_layers, num_heads, mlp_ratio, qkv_bias:
            the ViT.
        drop_rate, attn_drop_rate, drop_path_rate: regularisation; the interactions' ConvFFN
            use ``drop_path_rate`` itself, as the official implementation.
        layer_scale: initial layer-scale value of the ViT layers (``None``: no layer scale).
        conv_inplane: SPM width.
        n_points, deform_num_heads, deform_ratio: deformable attention settings.
        with_cffn, cffn_ratio: extractor ConvFFN.
        injector_init_values: initial injector scale (0: starts as the plain ViT).
        interaction_indexes: ``[first, last]`` ViT layer of each interaction, covering all layers in order.
        extra_extractor: two more extractors after the last interaction.
        add_vit_feature: add the (resized) ViT outputs to the pyramid.
        out_indices: pyramid levels returned (0 = 1/4 ... 3 = 1/32).
        norm_cfg: norm of the transformer parts (LayerNorm).
        conv_norm_cfg: norm of the SPM and of the output levels (BN; SyncBN for multi-GPU).
        with_cp: gradient checkpointing of ViT layers and interactions.
        frozen_exclude: as mmseg's ViT: parameters not frozen (``['all']``: nothing frozen).
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` accepts DeiT / MAE / BEiT ViT
            checkpoints (the ViT part is converted on the fly; the adapter keeps its init)
            and this package's own ViT-Adapter checkpoints.
    """

    def __init__(self,
                 img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 num_layers: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.3,
                 layer_scale: Optional[float] = 1.0,
                 conv_inplane: int = 64,
                 n_points: int = 4,
                 deform_num_heads: int = 12,
                 deform_ratio: float = 0.5,
                 with_cffn: bool = True,
                 cffn_ratio: float = 0.25,
                 injector_init_values: float = 0.,
                 interaction_indexes: Sequence[Sequence[int]] = ((0, 2), (3, 5), (6, 8), (9, 11)),
                 extra_extractor: bool = True,
                 add_vit_feature: bool = True,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 conv_norm_cfg: dict = dict(type='BN', requires_grad=True),
                 interpolate_mode: str = 'bicubic',
                 with_cp: bool = False,
                 frozen_exclude: Sequence[str] = ('all', ),
                 init_cfg: Optional[dict] = None):
        # The ViT layers are built below (with layer scale and drop path on both branches),
        # so the parent builds patch embedding, position embedding and bookkeeping only.
        super().__init__(img_size=img_size, patch_size=patch_size, in_channels=in_channels, embed_dims=embed_dims,
                         num_layers=0, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                         drop_rate=drop_rate, with_cls_token=False, norm_cfg=norm_cfg, patch_bias=True,
                         final_norm=False, interpolate_mode=interpolate_mode, with_cp=with_cp, init_cfg=init_cfg)
        flat = [i for pair in interaction_indexes for i in range(pair[0], pair[-1] + 1)]
        if flat != list(range(num_layers)):
            raise ValueError(f'interaction_indexes {interaction_indexes} must cover layers 0..{num_layers - 1} '
                             f'in order, each once')
        if not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'out_indices {out_indices} must be pyramid levels 0..3')
        self.cls_token = None  # the adapter reads patch tokens only
        self.num_layers = num_layers
        self.out_indices = tuple(out_indices)
        self.interaction_indexes = [tuple(pair) for pair in interaction_indexes]
        self.add_vit_feature = add_vit_feature
        self.frozen_exclude = list(frozen_exclude)
        rates = torch.linspace(0, drop_path_rate, num_layers).tolist()
        self.layers = ModuleList([
            LayerScaleTransformerEncoderLayer(embed_dims, num_heads, int(mlp_ratio * embed_dims),
                                              drop_path_rate=rates[i], layer_scale=layer_scale, drop_rate=drop_rate,
                                              attn_drop_rate=attn_drop_rate, qkv_bias=qkv_bias, norm_cfg=norm_cfg,
                                              with_cp=with_cp) for i in range(num_layers)
        ])
        self.level_embed = nn.Parameter(torch.zeros(3, embed_dims))
        self.spm = SpatialPriorModule(in_channels, conv_inplane, embed_dims, conv_norm_cfg)
        self.interactions = ModuleList([
            InteractionBlock(embed_dims, deform_num_heads, n_points, deform_ratio, with_cffn, cffn_ratio, drop_rate,
                             drop_path_rate, injector_init_values,
                             extra_extractor and i == len(interaction_indexes) - 1, norm_cfg, with_cp)
            for i in range(len(interaction_indexes))
        ])
        self.up = nn.ConvTranspose2d(embed_dims, embed_dims, 2, 2)
        self.out_norms = ModuleList([build_norm_layer(conv_norm_cfg, embed_dims)[1] for _ in range(4)])
        self.out_channels = [embed_dims] * 4
        self._freeze()

    def init_weights(self) -> None:
        """Initialise everything as the official ViT-Adapter, then load ``init_cfg``'s checkpoint if any."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
                nn.init.normal_(module.weight, 0, (2.0 / fan_out)**0.5)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for module in self.modules():
            if isinstance(module, MultiScaleDeformableAttention):
                module.init_weights()
        trunc_normal_(self.pos_embed, std=.02)
        nn.init.normal_(self.level_embed)
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_weights(self, self.init_cfg['checkpoint'], official_format='vit_adapter')

    def adapt_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize a checkpoint's position embedding to this model's pre-training grid."""
        pos = state_dict.get('pos_embed')
        if pos is not None and pos.shape != self.pos_embed.shape:
            side = int((pos.shape[1] - 1)**0.5)
            if side * side + 1 != pos.shape[1]:
                raise ValueError(f'pos_embed of shape {tuple(pos.shape)} is not a square grid plus a class slot')
            grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
            state_dict['pos_embed'] = self.resize_pos_embed(pos, grid, (side, side), self.interpolate_mode)
        return state_dict

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer index for layer-wise lr decay: embeddings 0, ViT layer i -> i + 1, adapter last."""
        num_layers = self.num_layers + 2
        name = param_name[len(prefix):] if param_name.startswith(prefix) else ''
        if name.startswith(('patch_embed.', 'pos_embed', 'cls_token')):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the normalised 1/4, 1/8, 1/16, 1/32 maps in ``out_indices``."""
        c1, c2, c3, c4 = self.spm(inputs)
        priors = [c2, c3, c4]
        prior_shapes = [tuple(p.shape[-2:]) for p in priors]
        c = torch.cat([p.flatten(2).transpose(1, 2) + self.level_embed[i] for i, p in enumerate(priors)], dim=1)

        x, vit_shape = self.patch_embed(inputs)
        grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
        pos = self.resize_pos_embed(self.pos_embed, vit_shape, grid, self.interpolate_mode)[:, 1:]
        x = self.drop_after_pos(x + pos)

        vit_outs = []
        for interaction, (first, last) in zip(self.interactions, self.interaction_indexes):
            x, c = interaction(x, c, self.layers[first:last + 1], tuple(vit_shape), prior_shapes)
            vit_outs.append(x)

        b, _, dims = x.shape
        levels, start = [], 0
        for h, w in prior_shapes:
            levels.append(c[:, start:start + h * w].transpose(1, 2).reshape(b, dims, h, w))
            start += h * w
        up = self.up(levels[0])
        if up.shape[-2:] != c1.shape[-2:]:
            up = F.interpolate(up, size=c1.shape[-2:], mode='bilinear', align_corners=False)
        pyramid = [c1 + up] + levels
        if self.add_vit_feature:
            for i, feat in enumerate(vit_outs):
                feat = feat.transpose(1, 2).reshape(b, dims, *vit_shape)
                pyramid[i] = pyramid[i] + F.interpolate(feat, size=pyramid[i].shape[-2:], mode='bilinear',
                                                        align_corners=False)
        return tuple(self.out_norms[i](pyramid[i]) for i in self.out_indices)
