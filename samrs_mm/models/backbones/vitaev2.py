"""ViTAEv2 (Zhang et al., "ViTAEv2: Vision Transformer Advanced by Exploring Inductive Bias for
Image Recognition and Beyond", IJCV 2023), the 4-stage variant used for remote sensing (RSP,
SAMRS): window attention without shift in stages 1-2, global attention in stages 3-4.

Every stage starts with a *reduction cell* (RC) and continues with *normal cells* (NC):

* RC: a pyramid reduction module (parallel strided convs with different dilations,
  concatenated) embeds multi-scale context into tokens; attention over those tokens (window
  or global) projects them to the stage width; a parallel convolution module (PCM: three
  grouped 3x3 convs) on the stage input adds local inductive bias; then an MLP.
* NC: a transformer block whose attention branch runs in parallel with a PCM.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmseg.registry import MODELS

from .layers import GELUMLP, init_transformer_weights_, window_relative_position_index
from .pretrained import load_pretrained_weights


def window_partition(x: torch.Tensor, window: int) -> Tuple[torch.Tensor, Tuple[int, int, int, int]]:
    """Zero-pad ``(B, H, W, C)`` symmetrically to multiples of ``window`` and cut windows.

    Returns ``(B * nW, window * window, C)`` and the padding (top, bottom, left, right).
    """
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % window, (-w) % window
    pads = (pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2)
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, pads[2], pads[3], pads[0], pads[1]))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window, window, wp // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c), pads


def window_merge(windows: torch.Tensor, window: int, b: int, h: int, w: int, pads) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, window**2, C)`` -> ``(B, H, W, C)``."""
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    c = windows.shape[-1]
    x = windows.view(b, hp // window, wp // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, hp, wp, c)
    return x[:, pads[0]:pads[0] + h, pads[2]:pads[2] + w]


class TokenAttention(nn.Module):
    """Multi-head attention from ``in_dims`` tokens to ``out_dims``, global or within windows.

    With ``value_skip`` (the global RC attention of ViTAEv2) the value tokens are added to
    the output, because the input width differs from the output width and cannot be the
    residual. ``relative_pos`` adds a Swin-style relative position bias inside windows (the
    published ViTAEv2-S does not use it).
    """

    def __init__(self, in_dims: int, out_dims: int, num_heads: int, window_size: Optional[int] = None,
                 qkv_bias: bool = True, value_skip: bool = False, relative_pos: bool = False,
                 attn_drop: float = 0., proj_drop: float = 0.):
        super().__init__()
        if out_dims % num_heads:
            raise ValueError(f'{out_dims} channels cannot be split into {num_heads} heads')
        self.num_heads = num_heads
        self.out_dims = out_dims
        self.window_size = window_size
        self.value_skip = value_skip
        self.scale = (out_dims // num_heads)**-0.5
        self.qkv = nn.Linear(in_dims, out_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(out_dims, out_dims)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        self.relative_pos = relative_pos and window_size is not None
        if self.relative_pos:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1)**2, num_heads))
            self.register_buffer('relative_position_index',
                                 window_relative_position_index(window_size), persistent=False)
            trunc_normal_(self.relative_position_bias_table, std=.02)

    def _attend(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, _ = tokens.shape
        q, k, v = self.qkv(tokens).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.relative_pos:
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        out = self.attn_drop(attn.softmax(-1)) @ v
        out = self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, self.out_dims)))
        if self.value_skip:
            out = out + v.transpose(1, 2).reshape(b, n, self.out_dims)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, in_dims)`` -> ``(B, H, W, out_dims)``."""
        b, h, w, c = x.shape
        if self.window_size is None:
            return self._attend(x.reshape(b, h * w, c)).view(b, h, w, -1)
        windows, pads = window_partition(x, self.window_size)
        return window_merge(self._attend(windows), self.window_size, b, h, w, pads)


class ParallelConvModule(nn.Module):
    """PCM: grouped 3x3 conv -> BN -> SiLU -> grouped conv -> BN -> SiLU -> grouped conv (NCHW).

    Channels go ``in -> mid1 -> mid2 -> out``; the strides downsample in a reduction cell.
    """

    def __init__(self, in_channels: int, mid1: int, mid2: int, out_channels: int, groups: int,
                 strides: Sequence[int] = (1, 1, 1)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid1, 3, strides[0], 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(mid1)
        self.conv2 = nn.Conv2d(mid1, mid2, 3, strides[1], 1, groups=groups)
        self.bn2 = nn.BatchNorm2d(mid2)
        self.conv3 = nn.Conv2d(mid2, out_channels, 3, strides[2], 1, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.bn1(self.conv1(x)))
        x = F.silu(self.bn2(self.conv2(x)))
        return self.conv3(x)


class PyramidReduction(nn.Module):
    """PRM: parallel strided convs with several dilations, GELU, concatenated along channels."""

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, dilations: Sequence[int]):
        super().__init__()
        # padding ceil(((k - 1) * d + 1 - s) / 2) keeps every branch at the same output size
        self.convs = ModuleList([
            nn.Conv2d(in_channels, embed_dims, kernel_size, stride,
                      padding=math.ceil(((kernel_size - 1) * d + 1 - stride) / 2), dilation=d) for d in dilations
        ])
        self.out_channels = embed_dims * len(dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, H', W', embed_dims * len(dilations))``."""
        return torch.cat([F.gelu(conv(x)) for conv in self.convs], dim=1).permute(0, 2, 3, 1)


class ReductionCell(BaseModule):
    """Downsampling cell: PRM tokens -> attention to the stage width, + strided PCM, + MLP."""

    def __init__(self, in_channels: int, embed_dims: int, token_dims: int, downsample_ratio: int, kernel_size: int,
                 dilations: Sequence[int], num_heads: int, groups: int, window_size: Optional[int],
                 mlp_ratio: float = 1., relative_pos: bool = False, layer_scale: Optional[float] = None,
                 drop: float = 0., attn_drop: float = 0.):
        super().__init__()
        if downsample_ratio not in (2, 4):
            raise ValueError(f'downsample_ratio must be 2 or 4, got {downsample_ratio}')
        self.prm = PyramidReduction(in_channels, embed_dims, kernel_size, downsample_ratio, dilations)
        strides = (2, 2, 1) if downsample_ratio == 4 else (2, 1, 1)
        self.pcm = ParallelConvModule(in_channels, embed_dims, embed_dims, token_dims, groups, strides)
        self.norm1 = nn.LayerNorm(self.prm.out_channels)
        # Window RCs carry a qkv bias, global ones (T2T-style token attention) do not.
        self.attn = TokenAttention(self.prm.out_channels, token_dims, num_heads, window_size,
                                   qkv_bias=window_size is not None, value_skip=window_size is None,
                                   relative_pos=relative_pos, attn_drop=attn_drop, proj_drop=drop)
        self.norm2 = nn.LayerNorm(token_dims)
        self.mlp = GELUMLP(token_dims, int(token_dims * mlp_ratio), drop)
        if layer_scale is not None:
            self.gamma2 = nn.Parameter(torch.full((token_dims, ), float(layer_scale)))
            self.gamma3 = nn.Parameter(torch.full((token_dims, ), float(layer_scale)))
        else:
            self.gamma2 = self.gamma3 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W)`` -> ``(B, H / r, W / r, token_dims)``."""
        tokens = self.prm(x)
        h, w = tokens.shape[1:3]
        y = self.attn(self.norm1(tokens))
        # For H mod 4 in {1, 2} the ceil-rounding PCM is one pixel larger than the PRM.
        local = self.pcm(x)[:, :, :h, :w].permute(0, 2, 3, 1)
        y = y + (local if self.gamma2 is None else self.gamma2 * local)
        mlp = self.mlp(self.norm2(y))
        return y + (mlp if self.gamma3 is None else self.gamma3 * mlp)


class NormalCell(BaseModule):
    """Transformer block with a PCM in parallel to the attention branch (channels-last)."""

    def __init__(self, dims: int, num_heads: int, groups: int, window_size: Optional[int], mlp_ratio: float = 4.,
                 qkv_bias: bool = True, relative_pos: bool = False, layer_scale: Optional[float] = None,
                 drop: float = 0., attn_drop: float = 0., drop_path: float = 0.):
        super().__init__()
        hidden = int(dims * mlp_ratio)
        self.norm1 = nn.LayerNorm(dims, eps=1e-6)
        self.attn = TokenAttention(dims, dims, num_heads, window_size, qkv_bias=qkv_bias, relative_pos=relative_pos,
                                   attn_drop=attn_drop, proj_drop=drop)
        self.pcm = ParallelConvModule(dims, hidden, dims, dims, groups)
        self.norm2 = nn.LayerNorm(dims, eps=1e-6)
        self.mlp = GELUMLP(dims, hidden, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if layer_scale is not None:
            self.gamma1, self.gamma2, self.gamma3 = (nn.Parameter(torch.full((dims, ), float(layer_scale)))
                                                     for _ in range(3))
        else:
            self.gamma1 = self.gamma2 = self.gamma3 = None

    @staticmethod
    def _scaled(x: torch.Tensor, gamma: Optional[torch.Tensor]) -> torch.Tensor:
        return x if gamma is None else gamma * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` in and out."""
        attn = self._scaled(self.attn(self.norm1(x)), self.gamma1)
        local = self._scaled(self.pcm(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), self.gamma2)
        x = x + self.drop_path(attn) + self.drop_path(local)
        return x + self.drop_path(self._scaled(self.mlp(self.norm2(x)), self.gamma3))


class ViTAEv2Stage(BaseModule):
    """One reduction cell followed by ``depth`` normal cells."""

    def __init__(self, reduction: ReductionCell, cells: Sequence[NormalCell], with_cp: bool = False):
        super().__init__()
        self.reduction = reduction
        self.cells = ModuleList(cells)
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, H', W', C')``."""
        for layer in [self.reduction, *self.cells]:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return x


@MODELS.register_module()
class ViTAEv2(BaseModule):
    """ViTAEv2 backbone with 4-level pyramid output; defaults are ViTAEv2-S as used by SAMRS / RSP.

    ViTAEv2-S: token widths (64, 128, 256, 512), normal cells (2, 2, 8, 2) with (1, 2, 4, 8)
    heads, reduction cells with (1, 1, 2, 4) heads, 7x7 window attention (no shift) in stages
    1-2 and global attention in stages 3-4, drop path 0.3. Outputs
    ``(N, token_dims[i], H / 4 / 2**i, W / 4 / 2**i)``.

    Parameters: 18,842,688 (pinned in the tests). The official ImageNet classifier holds
    19,357,040 = these + 513,000 in its linear head + 1,352 relative-position-table entries it
    creates but never uses (the paper rounds it to 19.2M); the SAMRS variant also creates
    2,048 parameters of never-applied output norms. Unused parts are not created here.

    Inputs of any size work (windows are zero-padded symmetrically); sizes that are multiples
    of 32 match the official implementation exactly.

    Args:
        in_channels: input image channels.
        embed_dims: PRM width per stage (each dilation branch).
        token_dims: stage widths (output channels).
        downsample_ratios: stride of each reduction cell (4 then 2s).
        kernel_sizes: PRM kernel per stage.
        dilations: PRM dilations per stage.
        rc_heads / nc_heads: attention heads in reduction / normal cells.
        rc_groups / nc_groups: groups of the PCM convs in reduction / normal cells.
        depths: normal cells per stage.
        window_stages: per stage, True for window attention, False for global attention.
        window_size: attention window in window stages.
        mlp_ratio / rc_mlp_ratio: MLP widths of normal / reduction cells.
        qkv_bias: qkv bias of the normal cells.
        relative_pos: relative position bias in window attention (off in ViTAEv2-S).
        layer_scale: initial residual scales, ``None`` for none (ViTAEv2-S has none).
        drop_rate / attn_drop_rate / drop_path_rate: regularisation (drop path grows linearly).
        out_indices: stages whose outputs are returned.
        with_cp: gradient checkpointing per cell.
        frozen_stages: freeze the first ``frozen_stages`` stages (-1: none).
        norm_eval: keep BatchNorm layers (PCMs) in eval mode while training.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` accepts official ImageNet /
            RSP ViTAEv2 checkpoints (converted on the fly) and this package's own.
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: Sequence[int] = (64, 64, 128, 256),
                 token_dims: Sequence[int] = (64, 128, 256, 512),
                 downsample_ratios: Sequence[int] = (4, 2, 2, 2),
                 kernel_sizes: Sequence[int] = (7, 3, 3, 3),
                 dilations: Sequence[Sequence[int]] = ((1, 2, 3, 4), (1, 2, 3), (1, 2), (1, 2)),
                 rc_heads: Sequence[int] = (1, 1, 2, 4),
                 nc_heads: Sequence[int] = (1, 2, 4, 8),
                 rc_groups: Sequence[int] = (1, 16, 32, 64),
                 nc_groups: Sequence[int] = (1, 32, 64, 128),
                 depths: Sequence[int] = (2, 2, 8, 2),
                 window_stages: Sequence[bool] = (True, True, False, False),
                 window_size: int = 7,
                 mlp_ratio: float = 4.,
                 rc_mlp_ratio: float = 1.,
                 qkv_bias: bool = True,
                 relative_pos: bool = False,
                 layer_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        per_stage = dict(embed_dims=embed_dims, token_dims=token_dims, downsample_ratios=downsample_ratios,
                         kernel_sizes=kernel_sizes, dilations=dilations, rc_heads=rc_heads, nc_heads=nc_heads,
                         rc_groups=rc_groups, nc_groups=nc_groups, window_stages=window_stages)
        bad = {k: len(v) for k, v in per_stage.items() if len(v) != len(depths)}
        if bad:
            raise ValueError(f'{len(depths)} stages (depths={tuple(depths)}) but per-stage settings of length {bad}')
        if not set(out_indices) <= set(range(len(depths))):
            raise ValueError(f'out_indices {out_indices} must index the {len(depths)} stages')
        self.depths = tuple(depths)
        self.out_indices = tuple(out_indices)
        self.out_channels = list(token_dims)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        channels = in_channels
        for i, depth in enumerate(depths):
            window = window_size if window_stages[i] else None
            reduction = ReductionCell(channels, embed_dims[i], token_dims[i], downsample_ratios[i], kernel_sizes[i],
                                      dilations[i], rc_heads[i], rc_groups[i], window, rc_mlp_ratio, relative_pos,
                                      layer_scale, drop_rate, attn_drop_rate)
            start = sum(depths[:i])
            cells = [
                NormalCell(token_dims[i], nc_heads[i], nc_groups[i], window, mlp_ratio, qkv_bias, relative_pos,
                           layer_scale, drop_rate, attn_drop_rate, rates[start + j]) for j in range(depth)
            ]
            self.stages.append(ViTAEv2Stage(reduction, cells, with_cp))
            channels = token_dims[i]
        self._freeze_stages()

    def init_weights(self) -> None:
        """Truncated-normal linear layers, or the weights named by ``init_cfg`` (official or ours)."""
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_weights(self, self.init_cfg['checkpoint'], official_format='vitaev2')
            return
        init_transformer_weights_(self)

    def _freeze_stages(self) -> None:
        for stage in self.stages[:max(self.frozen_stages, 0)]:
            stage.eval()
            for param in stage.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """Keep frozen stages (and, with ``norm_eval``, all BatchNorms) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer index for layer-wise lr decay: cells in order (RC then NCs per stage) from 1; rest last."""
        num_layers = sum(self.depths) + len(self.depths) + 2
        if not param_name.startswith(prefix + 'stages.'):
            return num_layers - 1, num_layers
        parts = param_name[len(prefix):].split('.')
        stage = int(parts[1])
        first = 1 + sum(self.depths[:stage]) + stage
        if parts[2] == 'reduction':
            return first, num_layers
        return first + 1 + int(parts[3]), num_layers

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the NCHW outputs of the stages in ``out_indices``."""
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x).permute(0, 3, 1, 2).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
