"""DCNv3, the deformable convolution operator of InternImage (Wang et al., CVPR 2023).

DCNv3 splits the channels into ``groups``; every group of every output pixel samples the
input at ``kernel_h * kernel_w`` points (the regular kernel grid, moved by learned offsets)
and sums the bilinearly sampled values weighted by a per-group softmax "mask" -- depthwise
sharing of the projection weights plus multi-group spatial aggregation.

Two interchangeable cores compute that sampling:

* :func:`dcnv3_core_pytorch` -- pure PyTorch (one ``grid_sample`` per call), differentiable,
  runs on any device. Used on CPU and whenever no compiled kernel is importable.
* the official CUDA extension (a module named ``DCNv3`` with ``dcnv3_forward`` /
  ``dcnv3_backward``, built from InternImage's ``ops_dcnv3``), used automatically for
  CUDA tensors when it can be imported. This module imports fine without it.

Conventions follow the official operator so that published weights behave identically:
tensors are channels-last ``(N, H, W, C)``; offsets are laid out as
``(group, point, xy)`` with the kernel points enumerated x-major (``point = ix * kernel_h +
iy``); sampling outside the image reads zeros.
"""
from __future__ import annotations

import importlib
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

__all__ = ['dcnv3_core_pytorch', 'dcnv3_core', 'compiled_dcnv3_available', 'DCNv3']

_COMPILED_MODULE_NAME = 'DCNv3'
_compiled_ext = None  # cached import result: None = not tried, False = unavailable


def _compiled_extension():
    """Return the official compiled DCNv3 extension module, or ``None`` if not importable."""
    global _compiled_ext
    if _compiled_ext is None:
        try:
            ext = importlib.import_module(_COMPILED_MODULE_NAME)
            _compiled_ext = ext if hasattr(ext, 'dcnv3_forward') else False
        except Exception:  # ImportError, or a broken build (undefined symbols): fall back
            _compiled_ext = False
    return _compiled_ext or None


def compiled_dcnv3_available() -> bool:
    """Tell whether the official compiled DCNv3 kernel can be used in this process."""
    return _compiled_extension() is not None


def _pair(value) -> Tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def dcnv3_core_pytorch(value: torch.Tensor,
                       offset: torch.Tensor,
                       mask: torch.Tensor,
                       kernel_size=3,
                       stride=1,
                       padding=1,
                       dilation=1,
                       groups: int = 1,
                       offset_scale: float = 1.0) -> torch.Tensor:
    """Deformable sampling of DCNv3 in pure PyTorch.

    Args:
        value: ``(N, H, W, groups * C)`` input features, channels last.
        offset: ``(N, Ho, Wo, groups * P * 2)`` sampling offsets in pixels (x then y for each
            point), ``P = kernel_h * kernel_w``.
        mask: ``(N, Ho, Wo, groups * P)`` aggregation weights (already normalised).
        kernel_size, stride, padding, dilation: as for a convolution (int or (h, w)).
        groups: number of channel groups, each with its own offsets and weights.
        offset_scale: multiplies both the kernel grid and the learned offsets.

    Returns:
        ``(N, Ho, Wo, groups * C)`` aggregated features.
    """
    kernel_h, kernel_w = _pair(kernel_size)
    stride_h, stride_w = _pair(stride)
    pad_h, pad_w = _pair(padding)
    dil_h, dil_w = _pair(dilation)
    n, height, width, channels = value.shape
    if channels % groups:
        raise ValueError(f'{channels} channels cannot be split into {groups} groups')
    group_channels = channels // groups
    num_points = kernel_h * kernel_w
    _, out_h, out_w, _ = offset.shape
    if offset.shape[-1] != groups * num_points * 2 or mask.shape[-1] != groups * num_points:
        raise ValueError(f'offset/mask have {offset.shape[-1]}/{mask.shape[-1]} channels, '
                         f'expected {groups * num_points * 2}/{groups * num_points}')
    dtype, device = value.dtype, value.device

    # Kernel taps relative to the kernel centre, x-major like the official CUDA kernel.
    taps_y = torch.arange(kernel_h, device=device, dtype=dtype) * dil_h - (dil_h * (kernel_h - 1)) // 2
    taps_x = torch.arange(kernel_w, device=device, dtype=dtype) * dil_w - (dil_w * (kernel_w - 1)) // 2
    tap_x = taps_x.repeat_interleave(kernel_h)  # (P,)
    tap_y = taps_y.repeat(kernel_w)  # (P,)
    # Pixel position of each output's kernel centre, in input coordinates.
    centre_y = torch.arange(out_h, device=device, dtype=dtype) * stride_h - pad_h + (dil_h * (kernel_h - 1)) // 2
    centre_x = torch.arange(out_w, device=device, dtype=dtype) * stride_w - pad_w + (dil_w * (kernel_w - 1)) // 2

    offset = offset.reshape(n, out_h, out_w, groups, num_points, 2)
    pos_x = centre_x.view(1, 1, out_w, 1, 1) + offset_scale * (tap_x + offset[..., 0])
    pos_y = centre_y.view(1, out_h, 1, 1, 1) + offset_scale * (tap_y + offset[..., 1])
    # grid_sample(align_corners=False) puts pixel i at normalised (2i + 1) / size - 1.
    grid = torch.stack(((2 * pos_x + 1) / width - 1, (2 * pos_y + 1) / height - 1), dim=-1)
    grid = grid.permute(0, 3, 1, 2, 4, 5).reshape(n * groups, out_h, out_w * num_points, 2)

    per_group = value.reshape(n, height, width, groups, group_channels)
    per_group = per_group.permute(0, 3, 4, 1, 2).reshape(n * groups, group_channels, height, width)
    sampled = F.grid_sample(per_group, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    sampled = sampled.view(n, groups, group_channels, out_h, out_w, num_points)

    weights = mask.reshape(n, out_h, out_w, groups, num_points).permute(0, 3, 1, 2, 4).unsqueeze(2)
    out = (sampled * weights).sum(-1)  # (n, groups, C, Ho, Wo)
    return out.permute(0, 3, 4, 1, 2).reshape(n, out_h, out_w, channels)


class _CompiledDCNv3(torch.autograd.Function):
    """Autograd binding of the official compiled DCNv3 kernel."""

    @staticmethod
    def forward(ctx, value, offset, mask, kernel, stride, padding, dilation, groups, offset_scale):
        ext = _compiled_extension()
        group_channels = value.shape[-1] // groups
        # The kernel processes the batch in chunks that must divide it: one chunk is always valid.
        im2col_step = value.shape[0]
        args = (*kernel, *stride, *padding, *dilation, groups, group_channels, float(offset_scale), im2col_step)
        ctx.args = args
        ctx.save_for_backward(value, offset, mask)
        try:  # DCNv3 >= 1.1 takes a trailing ``remove_center`` flag
            out = ext.dcnv3_forward(value, offset, mask, *args, 0)
            ctx.remove_center = (0, )
        except TypeError:
            out = ext.dcnv3_forward(value, offset, mask, *args)
            ctx.remove_center = ()
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        ext = _compiled_extension()
        value, offset, mask = ctx.saved_tensors
        *head, im2col_step = ctx.args
        grads = ext.dcnv3_backward(value, offset, mask, *head, grad_out.contiguous(), im2col_step,
                                   *ctx.remove_center)
        return (grads[0], grads[1], grads[2]) + (None, ) * 6


def dcnv3_core(value, offset, mask, kernel_size=3, stride=1, padding=1, dilation=1, groups=1,
               offset_scale=1.0, impl: str = 'auto') -> torch.Tensor:
    """DCNv3 sampling with the fastest available core.

    ``impl``: ``'auto'`` (compiled kernel for CUDA tensors when importable, else PyTorch),
    ``'pytorch'`` or ``'compiled'`` (error if the kernel or a CUDA tensor is missing).
    """
    if impl not in ('auto', 'pytorch', 'compiled'):
        raise ValueError(f"impl must be 'auto', 'pytorch' or 'compiled', got {impl!r}")
    use_compiled = impl == 'compiled' or (impl == 'auto' and value.is_cuda and compiled_dcnv3_available())
    if use_compiled:
        if not compiled_dcnv3_available():
            raise RuntimeError(f'impl="compiled" but no importable {_COMPILED_MODULE_NAME!r} extension '
                               f'(build InternImage ops_dcnv3, or use impl="auto")')
        if not value.is_cuda:
            raise RuntimeError('the compiled DCNv3 kernel needs CUDA tensors')
        # The kernel has no mixed precision: run it in the value's dtype.
        return _CompiledDCNv3.apply(value.contiguous(), offset.contiguous().to(value.dtype),
                                    mask.contiguous().to(value.dtype), _pair(kernel_size), _pair(stride),
                                    _pair(padding), _pair(dilation), groups, offset_scale)
    return dcnv3_core_pytorch(value, offset, mask, kernel_size, stride, padding, dilation, groups,
                              offset_scale)


class DCNv3(BaseModule):
    """The DCNv3 operator as an ``(N, H, W, C) -> (N, H, W, C)`` module.

    The input is projected (``input_proj``), a depthwise 3x3 conv + LayerNorm + GELU branch
    predicts per-group offsets (``offset``) and softmax aggregation weights (``mask``), the
    projected features are sampled by :func:`dcnv3_core` and projected back
    (``output_proj``). ``stride`` is 1 and the output keeps the input size, as in InternImage.

    Args:
        channels: feature channels, divisible by ``groups``.
        kernel_size: sampling kernel (odd).
        groups: channel groups with independent offsets.
        offset_scale: scale of the kernel grid and offsets.
        dilation: kernel dilation.
        impl: core selection, see :func:`dcnv3_core`.
    """

    def __init__(self, channels: int = 64, kernel_size: int = 3, groups: int = 4, offset_scale: float = 1.0,
                 dilation: int = 1, impl: str = 'auto', init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if channels % groups:
            raise ValueError(f'channels ({channels}) must be divisible by groups ({groups})')
        self.channels = channels
        self.kernel_size = kernel_size
        self.groups = groups
        self.offset_scale = offset_scale
        self.dilation = dilation
        self.impl = impl
        num_points = kernel_size * kernel_size
        self.dw_conv = nn.Conv2d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, groups=channels)
        self.dw_norm = nn.LayerNorm(channels, eps=1e-6)
        self.offset = nn.Linear(channels, groups * num_points * 2)
        self.mask = nn.Linear(channels, groups * num_points)
        self.input_proj = nn.Linear(channels, channels)
        self.output_proj = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero offsets and uniform weights at start: the operator begins as a regular kernel."""
        for layer in (self.offset, self.mask):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for layer in (self.input_proj, self.output_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def init_weights(self) -> None:
        """Keep :meth:`reset_parameters` unless an explicit ``init_cfg`` is given."""
        if self.init_cfg:
            super().init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply DCNv3 to channels-last features ``(N, H, W, C)``."""
        n, h, w, _ = x.shape
        value = self.input_proj(x)
        guide = self.dw_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        guide = F.gelu(self.dw_norm(guide))
        offset = self.offset(guide)
        mask = self.mask(guide).view(n, h, w, self.groups, -1).softmax(-1).view(n, h, w, -1)
        pad = self.dilation * (self.kernel_size - 1) // 2
        out = dcnv3_core(value, offset, mask, self.kernel_size, 1, pad, self.dilation, self.groups,
                         self.offset_scale, impl=self.impl)
        return self.output_proj(out)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, groups={self.groups}, '
                f'offset_scale={self.offset_scale}, impl={self.impl!r}')
