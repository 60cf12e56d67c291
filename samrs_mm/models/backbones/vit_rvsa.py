"""ViT with rotated varied-size window attention, RVSA (Wang et al., "Advancing Plain Vision
Transformer Toward Remote Sensing Foundation Model", IEEE TGRS 2022).

Window attention restricts a ViT layer to local windows; RVSA lets every head of every window
*move, rescale and rotate* the window its keys and values are taken from. From the average-
pooled window content, three 1x1 convs regress per head an offset (2), a scale (2) and an
angle (1); the key/value window is sampled at the transformed coordinates with bilinear
``grid_sample``; queries stay on the regular window. Decomposed relative positions (height,
width) and a relative position bias table are added to the attention logits.

As in the paper (and SAMRS), every third layer keeps global attention, the others use RVSA,
the MAE-style ViT-B has no absolute position embedding and no class token, and a simple
feature pyramid turns the 1/16 outputs of layers 3, 5, 7, 11 into 1/4, 1/8, 1/16, 1/32 maps.

By its arguments the same class builds the other plain ViTs of the SAMRS / MTP releases:
MTP's ViT-B / ViT-L + RVSA (absolute position embedding, decomposed relative positions over
the whole token grid in the global layers: ``global_rel_pos``) and SAMRS's plain ViT-B
(``interval=1``: every layer global; ``final_norm`` and ``out_indices=(11, 11, 11, 11)``:
the pyramid is made from the normalised last layer).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmseg.models.necks import Feature2Pyramid
from mmseg.models.utils import PatchEmbed
from mmseg.registry import MODELS

from .layers import ChannelsFirstLayerNorm, init_transformer_weights_, window_relative_position_index
from .pretrained import load_pretrained_weights
from .vit_adapter import LayerScaleTransformerEncoderLayer


def _decomposed_rel_pos(q: torch.Tensor, rel_h: torch.Tensor, rel_w: torch.Tensor,
                        size: Union[int, Tuple[int, int]]) -> torch.Tensor:
    """Relative-position logits ``q . R_h[dy] + q . R_w[dx]`` for all query/key pairs of a grid.

    ``q``: ``(B, heads, h * w, d)``; ``rel_h``: ``(2 * h - 1, d)``; ``rel_w``: ``(2 * w - 1, d)``;
    ``size``: ``(h, w)`` (one int: a square window). Returns ``(B, heads, h * w, h * w)``.
    """
    h, w = (size, size) if isinstance(size, int) else size
    b, heads, _, d = q.shape
    rows, cols = torch.arange(h, device=q.device), torch.arange(w, device=q.device)
    dist_h = rows[:, None] - rows[None, :] + h - 1  # (query row, key row) -> table index
    dist_w = cols[:, None] - cols[None, :] + w - 1
    q = q.reshape(b, heads, h, w, d)
    logits_h = torch.einsum('bnyxd,ykd->bnyxk', q, rel_h[dist_h])  # key row k
    logits_w = torch.einsum('bnyxd,xkd->bnyxk', q, rel_w[dist_w])  # key column k
    logits = logits_h[..., :, None] + logits_w[..., None, :]  # (b, n, qy, qx, ky, kx)
    return logits.reshape(b, heads, h * w, h * w)


def resize_rel_pos(table: torch.Tensor, length: int) -> torch.Tensor:
    """A ``(2 * n - 1, d)`` relative-position table resampled to ``length`` distances (bicubic).

    Used when the token grid differs from the one the table was trained for (the authors'
    position embeddings are resized the same way).
    """
    if table.shape[0] == length:
        return table
    resized = F.interpolate(table[None, None], size=(length, table.shape[1]), mode='bicubic', align_corners=False)
    return resized[0, 0]


class RotatedVariedSizeWindowAttention(BaseModule):
    """Multi-head RVSA on a ``(B, H * W, C)`` token map (see the module docstring).

    Args:
        embed_dims: channels.
        num_heads: heads; each head has its own window transform.
        window_size: query window (7 in RVSA / SAMRS).
        qkv_bias: bias of the qkv projection.
        use_rel_pos: decomposed relative position embeddings ``rel_pos_h`` / ``rel_pos_w``.
        use_rel_pos_bias: relative position bias table (Swin-style).
        attn_drop, proj_drop: dropout rates.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7, qkv_bias: bool = True,
                 use_rel_pos: bool = True, use_rel_pos_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'{embed_dims} channels cannot be split into {num_heads} heads')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        head_dims = embed_dims // num_heads
        self.scale = head_dims**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        # one transform per head and window, regressed from the pooled window
        self.offset_head = nn.Conv2d(embed_dims, num_heads * 2, 1)
        self.scale_head = nn.Conv2d(embed_dims, num_heads * 2, 1)
        self.angle_head = nn.Conv2d(embed_dims, num_heads, 1)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * window_size - 1, head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * window_size - 1, head_dims))
        self.use_rel_pos_bias = use_rel_pos_bias
        if use_rel_pos_bias:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1)**2, num_heads))
            self.register_buffer('relative_position_index',
                                 window_relative_position_index(window_size), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Identity window transforms at start (plain window attention), small position biases."""
        for head in (self.offset_head, self.scale_head, self.angle_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        if self.use_rel_pos_bias:
            trunc_normal_(self.relative_position_bias_table, std=.02)

    def init_weights(self) -> None:
        """Keep :meth:`reset_parameters` unless an explicit ``init_cfg`` is given."""
        if self.init_cfg:
            super().init_weights()

    def _sampling_grid(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Key/value sampling coordinates ``(B * heads, Hp, Wp, 2)`` in ``[-1, 1]`` (x, y)."""
        b = x.shape[0]
        ws, heads = self.window_size, self.num_heads
        hp, wp = x.shape[-2:]
        nh, nw = hp // ws, wp // ws
        pooled = F.leaky_relu(F.avg_pool2d(x, ws, ws))
        offset = self.offset_head(pooled).reshape(b * heads, 2, nh, nw)
        scale = self.scale_head(pooled).reshape(b * heads, 2, nh, nw)
        angle = self.angle_head(pooled).reshape(b * heads, nh, nw)
        # Normalised coordinates of pixel centres (align_corners=True): i -> -1 + 2 i / (size - 1).
        step_x, step_y = 2 / max(wp - 1, 1), 2 / max(hp - 1, 1)
        local = torch.arange(ws, device=x.device, dtype=x.dtype) - (ws - 1) / 2
        centre_x = -1 + step_x * (torch.arange(nw, device=x.device, dtype=x.dtype) * ws + (ws - 1) / 2)
        centre_y = -1 + step_y * (torch.arange(nh, device=x.device, dtype=x.dtype) * ws + (ws - 1) / 2)
        # window-local coordinates, scaled per axis then rotated about the window centre
        lx = (local * step_x).view(1, 1, 1, 1, ws) * (1 + scale[:, 0, :, None, :, None])  # (bh, nh, 1, nw, ws)
        ly = (local * step_y).view(1, 1, ws, 1, 1) * (1 + scale[:, 1, :, None, :, None])  # (bh, nh, ws, nw, 1)
        cos, sin = angle.cos()[:, :, None, :, None], angle.sin()[:, :, None, :, None]
        rx = lx * cos - ly * sin
        ry = lx * sin + ly * cos
        # Offsets are in units of the window grid: one unit moves by (number of windows)^-1 of the image.
        grid_x = centre_x.view(1, 1, 1, nw, 1) + rx + (offset[:, 0] / max(w // ws, 1))[:, :, None, :, None]
        grid_y = centre_y.view(1, nh, 1, 1, 1) + ry + (offset[:, 1] / max(h // ws, 1))[:, :, None, :, None]
        grid = torch.stack(torch.broadcast_tensors(grid_x, grid_y), dim=-1)  # (bh, nh, ws, nw, ws, 2)
        return grid.reshape(b * heads, hp, wp, 2)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``(B, H * W, C)`` -> ``(B, H * W, C)``."""
        b, n, c = x.shape
        h, w = hw_shape
        ws, heads = self.window_size, self.num_heads
        head_dims = c // heads
        pad_h, pad_w = (-h) % ws, (-w) % ws
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)  # F.pad order: l, r, t, b
        hp, wp = h + pad_h, w + pad_w
        nh, nw = hp // ws, wp // ws

        image = F.pad(x.transpose(1, 2).reshape(b, c, h, w), pads)
        grid = self._sampling_grid(image, h, w)

        qkv = self.qkv(x).transpose(1, 2).reshape(b, 3 * c, h, w)
        qkv = F.pad(qkv, pads).view(b, 3, heads, head_dims, hp, wp).transpose(0, 1)
        q, k, v = (t.reshape(b * heads, head_dims, hp, wp) for t in qkv)
        k = F.grid_sample(k, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
        v = F.grid_sample(v, grid, mode='bilinear', padding_mode='zeros', align_corners=True)

        def windows(t: torch.Tensor) -> torch.Tensor:  # (B*heads, d, Hp, Wp) -> (B*nW, heads, ws*ws, d)
            t = t.reshape(b, heads, head_dims, nh, ws, nw, ws).permute(0, 3, 5, 1, 4, 6, 2)
            return t.reshape(b * nh * nw, heads, ws * ws, head_dims)

        q, k, v = windows(q), windows(k), windows(v)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.use_rel_pos:
            attn = attn + _decomposed_rel_pos(q, self.rel_pos_h, self.rel_pos_w, ws)
        if self.use_rel_pos_bias:
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            attn = attn + bias.view(ws * ws, ws * ws, heads).permute(2, 0, 1).unsqueeze(0)
        out = self.attn_drop(attn.softmax(-1)) @ v  # (B*nW, heads, ws*ws, d)
        out = out.view(b, nh, nw, heads, ws, ws, head_dims).permute(0, 1, 4, 2, 5, 3, 6).reshape(b, hp, wp, c)
        out = out[:, pads[2]:pads[2] + h, pads[0]:pads[0] + w].reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class GlobalRelPosAttention(BaseModule):
    """Global multi-head attention with decomposed relative positions over the token grid.

    MTP's RVSA backbones use it in their global layers: the logits get ``q . R_h[dy] +
    q . R_w[dx]`` with the *scaled* query (as in the released code), tables of
    ``2 * grid - 1`` distances per axis, resampled (:func:`resize_rel_pos`) when the input
    grid differs from ``grid_size``.
    """

    def __init__(self, embed_dims: int, num_heads: int, grid_size: Tuple[int, int], qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'{embed_dims} channels cannot be split into {num_heads} heads')
        self.num_heads = num_heads
        head_dims = embed_dims // num_heads
        self.scale = head_dims**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * grid_size[0] - 1, head_dims))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * grid_size[1] - 1, head_dims))

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``(B, H * W, C)`` -> ``(B, H * W, C)``."""
        b, n, c = x.shape
        h, w = hw_shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        attn = attn + _decomposed_rel_pos(q, resize_rel_pos(self.rel_pos_h, 2 * h - 1),
                                          resize_rel_pos(self.rel_pos_w, 2 * w - 1), (h, w))
        out = (self.attn_drop(attn.softmax(-1)) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class GridTransformerEncoderLayer(LayerScaleTransformerEncoderLayer):
    """ViT layer whose attention needs the token grid's shape.

    ``attention``: ``dict(type='rvsa', window_size=7)`` for
    :class:`RotatedVariedSizeWindowAttention`, ``dict(type='global_rel_pos', grid_size=(h, w))``
    for :class:`GlobalRelPosAttention`.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, attention: dict,
                 drop_path_rate: float = 0., **kwargs):
        if attention.get('type') not in ('rvsa', 'global_rel_pos'):
            raise ValueError(f"attention type must be 'rvsa' or 'global_rel_pos', got {attention.get('type')!r}")
        self._attention = dict(attention)  # read by build_attn during the parent's __init__
        self._drop_path_rate = drop_path_rate
        super().__init__(embed_dims, num_heads, feedforward_channels, drop_path_rate=drop_path_rate, **kwargs)

    def build_attn(self, attn_cfg: dict) -> None:
        """Build the grid attention instead of mmcv's MultiheadAttention (same qkv / dropout settings)."""
        from mmcv.cnn.bricks import DropPath
        common = dict(qkv_bias=attn_cfg['bias'], attn_drop=attn_cfg['attn_drop'], proj_drop=attn_cfg['proj_drop'])
        if self._attention['type'] == 'rvsa':
            self.attn = RotatedVariedSizeWindowAttention(attn_cfg['embed_dims'], attn_cfg['num_heads'],
                                                         self._attention.get('window_size', 7), **common)
        else:
            self.attn = GlobalRelPosAttention(attn_cfg['embed_dims'], attn_cfg['num_heads'],
                                              tuple(self._attention['grid_size']), **common)
        self.attn_drop_path = DropPath(self._drop_path_rate) if self._drop_path_rate > 0 else nn.Identity()

    def _inner_forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        attn = self.attn_drop_path(self.attn(self.norm1(x), hw_shape))
        x = x + (attn if self.gamma1 is None else self.gamma1 * attn)
        ffn = self.ffn(self.norm2(x), identity=x.new_zeros(()))
        return x + (ffn if self.gamma2 is None else self.gamma2 * ffn)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, tuple(hw_shape), use_reentrant=False)
        return self._inner_forward(x, tuple(hw_shape))


@MODELS.register_module()
class ViTRVSA(BaseModule):
    """Plain ViT with RVSA in all but every ``interval``-th layer and a simple feature pyramid.

    Defaults are "ViT-B + RVSA" as pre-trained by SAMRS (MAE-initialised on MillionAID):
    patch 16, 768 wide, 12 layers, 12 heads, 7x7 RVSA windows, global attention in layers
    2, 5, 8, 11, drop path 0.1, outputs of layers (3, 5, 7, 11) turned into 1/4, 1/8, 1/16,
    1/32 maps of 768 channels (deconv-LN-GELU-deconv, deconv, identity, max-pool).

    Parameters: 93,125,440 (pinned in the tests) = the ViT-B layers and patch embedding
    (85,645,056; no position embedding, class token or final norm) + RVSA's extras in the 8
    windowed layers (8 x 49,832 = 398,656: window-transform heads, relative positions) + the
    feature pyramid (7,081,728). The released module (``ViT_Win_RVSA_V3_WSZ7``) holds 1,536
    more: a final LayerNorm its forward never uses, not created here.

    The released variants by arguments (``configs/released/``): MTP's ViT-B + RVSA
    (``use_abs_pos_embed=True, global_rel_pos=True``), MTP's ViT-L + RVSA (also
    ``embed_dims=1024, num_layers=24, num_heads=16, interval=6, out_indices=(7, 11, 15, 23)``),
    SAMRS's plain ViT-B (``interval=1, use_abs_pos_embed=True, final_norm=True,
    out_indices=(11, 11, 11, 11)``).

    Args:
        img_size: pre-training image size (only used with ``use_abs_pos_embed``).
        patch_size, in_channels, embed_dims, num_layers, num_heads, mlp_ratio, qkv_bias: the ViT.
        window_size: RVSA query window.
        interval: layers ``i`` with ``(i + 1) % interval == 0`` use global attention (1: all).
        use_abs_pos_embed: add a learned absolute position embedding (off in RVSA / SAMRS; on in
            MTP and SAMRS's plain ViT-B), ``(1, (img_size / patch_size) ** 2, C)``, no class slot,
            resized bicubically for other input sizes.
        global_rel_pos: global layers add decomposed relative positions over the token grid
            (:class:`GlobalRelPosAttention`, tables for ``img_size``), as MTP's backbones do.
        final_norm: a LayerNorm (``out_norm``) on the last layer's output before the pyramid
            (SAMRS's plain ViT-B); layers listed in ``out_indices`` may repeat.
        layer_scale: layer-scale initial value (``None``: no layer scale, as MAE ViT-B).
        drop_rate, attn_drop_rate, drop_path_rate: regularisation.
        out_indices: the four ViT layers feeding the pyramid (1/4, 1/8, 1/16, 1/32).
        norm_cfg: LayerNorm of the transformer layers.
        with_cp: gradient checkpointing per layer.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` accepts MAE ViT checkpoints
            (e.g. the MillionAID MAE ViT-B), official RVSA checkpoints (converted on the fly)
            and this package's own.
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
                 window_size: int = 7,
                 interval: int = 3,
                 use_abs_pos_embed: bool = False,
                 global_rel_pos: bool = False,
                 final_norm: bool = False,
                 layer_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (3, 5, 7, 11),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(out_indices) != 4 or not set(out_indices) <= set(range(num_layers)):
            raise ValueError(f'out_indices {out_indices} must be 4 layer indices in 0..{num_layers - 1}')
        self.num_layers = num_layers
        self.interval = interval
        self.out_indices = tuple(out_indices)
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size, bias=True)
        grid_size = (img_size // patch_size, img_size // patch_size)
        self.pos_embed = (nn.Parameter(torch.zeros(1, grid_size[0] * grid_size[1], embed_dims))
                          if use_abs_pos_embed else None)
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, num_layers).tolist()
        self.layers = ModuleList()
        for i in range(num_layers):
            common = dict(drop_path_rate=rates[i], layer_scale=layer_scale, drop_rate=drop_rate,
                          attn_drop_rate=attn_drop_rate, qkv_bias=qkv_bias, norm_cfg=norm_cfg, with_cp=with_cp)
            if not self.is_global_layer(i):
                layer = GridTransformerEncoderLayer(embed_dims, num_heads, int(mlp_ratio * embed_dims),
                                                    attention=dict(type='rvsa', window_size=window_size), **common)
            elif global_rel_pos:
                layer = GridTransformerEncoderLayer(embed_dims, num_heads, int(mlp_ratio * embed_dims),
                                                    attention=dict(type='global_rel_pos', grid_size=grid_size),
                                                    **common)
            else:
                layer = LayerScaleTransformerEncoderLayer(embed_dims, num_heads, int(mlp_ratio * embed_dims), **common)
            self.layers.append(layer)
        self.out_norm = build_norm_layer(norm_cfg, embed_dims)[1] if final_norm else None
        self.pyramid = Feature2Pyramid(embed_dims, rescales=[4, 2, 1, 0.5],
                                       norm_cfg=dict(type=ChannelsFirstLayerNorm, eps=1e-6))
        self.out_channels = [embed_dims] * 4

    def is_global_layer(self, index: int) -> bool:
        """Whether layer ``index`` keeps global attention (every ``interval``-th layer)."""
        return (index + 1) % self.interval == 0

    def init_weights(self) -> None:
        """Truncated-normal linear layers (then the checkpoint of ``init_cfg``, if any)."""
        init_transformer_weights_(self)
        for module in self.modules():
            if isinstance(module, RotatedVariedSizeWindowAttention):
                module.reset_parameters()
        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=.02)
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_weights(self, self.init_cfg['checkpoint'], official_format='vit_rvsa')

    def adapt_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Fit a checkpoint's position embedding (class slot dropped, grid resized) and the global
        layers' relative-position tables (resampled) to this model's input size."""
        own = dict(self.named_parameters())
        for key, value in list(state_dict.items()):
            if key.endswith(('.attn.rel_pos_h', '.attn.rel_pos_w')) and key in own and value.dim() == 2 \
                    and value.shape[1] == own[key].shape[1]:
                state_dict[key] = resize_rel_pos(value, own[key].shape[0])
        pos = state_dict.get('pos_embed')
        if pos is None or self.pos_embed is None or pos.shape == self.pos_embed.shape:
            return state_dict
        side = int(math.isqrt(pos.shape[1]))
        if side * side != pos.shape[1]:
            pos = pos[:, 1:]  # class-token slot
            side = int(math.isqrt(pos.shape[1]))
        target = int(math.isqrt(self.pos_embed.shape[1]))
        grid = pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(target, target), mode='bicubic', align_corners=False)
        state_dict['pos_embed'] = grid.flatten(2).transpose(1, 2)
        return state_dict

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer index for layer-wise lr decay: embeddings 0, layer i -> i + 1, pyramid last."""
        num_layers = self.num_layers + 2
        name = param_name[len(prefix):] if param_name.startswith(prefix) else ''
        if name.startswith(('patch_embed.', 'pos_embed')):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the four pyramid levels (1/4, 1/8, 1/16, 1/32)."""
        x, hw_shape = self.patch_embed(inputs)
        if self.pos_embed is not None:
            pos = self.pos_embed
            if pos.shape[1] != x.shape[1]:
                side = int(math.isqrt(pos.shape[1]))
                pos = F.interpolate(pos.transpose(1, 2).reshape(1, -1, side, side), size=hw_shape, mode='bicubic',
                                    align_corners=False).flatten(2).transpose(1, 2)
            x = x + pos
        x = self.drop_after_pos(x)
        feats = []
        for i, layer in enumerate(self.layers):
            x = layer(x, hw_shape) if isinstance(layer, GridTransformerEncoderLayer) else layer(x)
            if i in self.out_indices:
                out = self.out_norm(x) if self.out_norm is not None and i == self.num_layers - 1 else x
                out = out.transpose(1, 2).reshape(x.shape[0], -1, *hw_shape).contiguous()
                feats += [out] * self.out_indices.count(i)
        return tuple(self.pyramid(feats))
