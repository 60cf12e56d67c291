"""The SAM families' mask post-processing, computed only where a mask can be positive.

``Sam.postprocess_masks`` (SAM, HQ-SAM) turns the decoder's ``256 x 256`` low-resolution
logits into an image-sized logit map in two bilinear steps (``align_corners=False``): up 4x
to the padded ``1024 x 1024`` input frame, crop the padding away, then resize to the
original image size. SAM 2 and SAM 3 (``SAM2Transforms.postprocess_masks``) resize the
low-resolution logits (256 or 288 square) to the image size in one bilinear step, as their
input frame has no padding. The predictors threshold the result at 0. Doing that for every
object of an image costs a full-image float map per object.

Every output pixel of a bilinear resize is a convex combination of at most two input pixels
per axis, so an output pixel can only be positive if one of the low-resolution pixels it
reads is positive (a sum of non-positive products never rounds above zero). This module
therefore finds the low-resolution pixels that are positive, derives the smallest window of
output pixels that reads them, and evaluates the two resizes on that window only:

* step 1 (exact factor 4) runs through ``F.interpolate`` on a low-resolution crop with one
  pixel of margin; with a factor of 4 every source coordinate is a multiple of 1/8, so the
  crop reproduces the full-frame sample positions and weights exactly;
* step 2 (arbitrary factor) gathers the two source rows / columns of each output pixel with
  the source indices and weights computed the way ATen computes them, then blends columns
  and rows in the order and with the fused multiply-adds of ATen's compiled kernels. The
  one-step families run step 2 alone, on a crop of the low-resolution logits.

On the x86 CPUs we measured (AVX2/FMA kernels) the result is bitwise equal to
``Sam.postprocess_masks``; elsewhere (other kernels, GPUs) it can differ by float32 rounding
of the last step, so thresholded masks can differ only at pixels whose reference logit lies
within that rounding of 0 (``tests/annotate/test_upsample.py`` checks both).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['AxisTaps', 'MaskWindow', 'WindowedMaskUpsampler', 'linear_taps', 'blend']


@dataclass
class AxisTaps:
    """Bilinear taps of one axis of ``postprocess_masks``, from output pixel to low-res pixel.

    ``src0/src1`` and ``w0/w1`` are the two step-2 source indices (in the cropped 1024 frame,
    or in the low-resolution map for one-step families) and weights of every output pixel;
    ``lowres_min/lowres_max`` bound the low-resolution pixels each output pixel reads
    through both steps.
    """

    src0: np.ndarray
    src1: np.ndarray
    w0: np.ndarray
    w1: np.ndarray
    lowres_min: np.ndarray
    lowres_max: np.ndarray


def linear_taps(in_size: int, out_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a 1-D ``align_corners=False`` linear resize, as ATen does.

    ATen works in float32 for float inputs: ``scale = in / out``,
    ``real = max(scale * (dst + 0.5) - 0.5, 0)``, ``i0 = int(real)``,
    ``i1 = i0 + (i0 < in - 1)``, ``w1 = clamp(real - i0, 0, 1)``, ``w0 = 1 - w1``.
    Its compiled kernels evaluate ``real`` with one fused multiply-add (one rounding); the
    product of a float32 scale and ``dst + 0.5`` is exact in float64, so computing it there
    and rounding once gives the same float32 value.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float64) + 0.5
    real = (np.float64(scale) * dst - 0.5).astype(np.float32)
    real = np.maximum(real, np.float32(0))
    i0 = np.minimum(real.astype(np.int64), in_size - 1)
    i1 = i0 + (i0 < in_size - 1)
    w1 = np.clip(real - i0.astype(np.float32), np.float32(0), np.float32(1)).astype(np.float32)
    w0 = (np.float32(1) - w1).astype(np.float32)
    return i0, i1, w0, w1


def blend(a: torch.Tensor, b: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """``wa * a + wb * b`` rounded like ATen's kernels: ``fma(wa, a, round(wb * b))``.

    ``torch.addcmul`` is evaluated with a fused multiply-add by the same compiled kernels
    (checked bit for bit in the tests), so the rounding matches.
    """
    return torch.addcmul(wb * b, wa, a)


def _axis_taps(lowres: int, padded: Optional[int], valid: Optional[int], original: int) -> AxisTaps:
    """Compose the resizes of one axis: lowres -> padded frame -> crop ``valid`` -> original.

    ``padded=None``: one resize, lowres -> original (SAM 2 / SAM 3).
    """
    if padded is None:
        src0, src1, w0, w1 = linear_taps(lowres, original)
        return AxisTaps(src0=src0, src1=src1, w0=w0, w1=w1, lowres_min=src0, lowres_max=src1)
    up0, up1, _, _ = linear_taps(lowres, padded)
    src0, src1, w0, w1 = linear_taps(valid, original)
    return AxisTaps(src0=src0, src1=src1, w0=w0, w1=w1,
                    lowres_min=np.minimum(up0[src0], up0[src1]),
                    lowres_max=np.maximum(up1[src0], up1[src1]))


@dataclass
class MaskWindow:
    """Thresholded mask of one object on the window of the image where it can be non-zero.

    ``mask`` is a bool array (numpy; a torch tensor left on the GPU for CUDA inputs, so
    that :func:`~samrs_mm.annotate.engine.rle.window_to_rle` scans it there); its pixel ``(0, 0)``
    is image pixel ``(top, left)``. An object with no positive logit has a ``(0, 0)`` mask.
    """

    mask: Any
    top: int
    left: int

    @property
    def empty(self) -> bool:
        """True when the window holds no pixel."""
        return self.mask.shape[0] * self.mask.shape[1] == 0


class WindowedMaskUpsampler:
    """The family's mask post-processing + threshold, evaluated per object on its non-zero window only.

    Args:
        lowres_size: side of the decoder's low-resolution logits (256 for SAM, SAM 2; 288 for SAM 3).
        padded_size: side of the model's square input frame (``image_encoder.img_size``) for
            the two-step post-processing of SAM / HQ-SAM; None for the one-step resize of
            SAM 2 / SAM 3 (low-res logits straight to the image size).
        input_size: ``(h, w)`` of the resized image inside the padded frame (two-step only).
        original_size: ``(H, W)`` of the image.
        threshold: the predictor's ``mask_threshold`` (0.0).
    """

    def __init__(self, lowres_size: int, padded_size: Optional[int], input_size: Optional[Tuple[int, int]],
                 original_size: Tuple[int, int], threshold: float = 0.0) -> None:
        if padded_size is not None and padded_size != 4 * lowres_size:
            # The exactness argument of step 1 needs SAM's fixed 4x factor.
            raise ValueError(f'expected padded_size == 4 * lowres_size, got {padded_size} and {lowres_size}')
        self.lowres_size = lowres_size
        self.padded_size = padded_size
        # Step 1 multiplies the low-res grid by this factor (1: no step 1).
        self.factor = 1 if padded_size is None else 4
        self.input_size = None if padded_size is None else tuple(int(v) for v in input_size)
        self.original_size = tuple(int(v) for v in original_size)
        self.threshold = float(threshold)
        valid = (None, None) if padded_size is None else self.input_size
        self.rows = _axis_taps(lowres_size, padded_size, valid[0], self.original_size[0])
        self.cols = _axis_taps(lowres_size, padded_size, valid[1], self.original_size[1])
        self._torch_taps = {}

    def valid_lowres(self) -> Tuple[int, int]:
        """Rows and columns of the low-res logits that cover the image (not the encoder's padding)."""
        if self.padded_size is None:
            return self.lowres_size, self.lowres_size
        return tuple(-(-int(v) * self.lowres_size // self.padded_size) for v in self.input_size)

    def _taps_on(self, device: torch.device):
        """Step-2 indices and weights as tensors on ``device`` (cached)."""
        key = str(device)
        if key not in self._torch_taps:
            def as_t(a, dtype):
                return torch.as_tensor(a, dtype=dtype, device=device)
            self._torch_taps[key] = tuple(
                (as_t(t.src0, torch.long), as_t(t.src1, torch.long),
                 as_t(t.w0, torch.float32), as_t(t.w1, torch.float32)) for t in (self.rows, self.cols))
        return self._torch_taps[key]

    @staticmethod
    def _output_span(taps: AxisTaps, lo: int, hi: int) -> Tuple[int, int]:
        """Output pixels ``[start, stop)`` whose low-res support meets low-res pixels ``[lo, hi]``."""
        # Both bounds are non-decreasing along the axis, so the matching pixels are contiguous.
        start = int(np.searchsorted(taps.lowres_max, lo, side='left'))
        stop = int(np.searchsorted(taps.lowres_min, hi, side='right'))
        return start, stop

    def positive_extents(self, lowres_logits: torch.Tensor) -> np.ndarray:
        """``[B, 4]`` int array ``(row_lo, row_hi, col_lo, col_hi)`` of positive low-res pixels.

        Rows of objects without any positive logit are ``-1``. Works on a ``[B, h, w]`` batch
        on any device and moves only ``B x (h + w)`` booleans to the host.
        """
        positive = lowres_logits > self.threshold
        rows_any = positive.any(dim=2).cpu().numpy()
        cols_any = positive.any(dim=1).cpu().numpy()
        extents = np.full((positive.shape[0], 4), -1, dtype=np.int64)
        for i in range(positive.shape[0]):
            r = np.flatnonzero(rows_any[i])
            if r.size:
                c = np.flatnonzero(cols_any[i])
                extents[i] = (r[0], r[-1], c[0], c[-1])
        return extents

    def window_logits(self, lowres: torch.Tensor, extent) -> Optional[Tuple[torch.Tensor, int, int]]:
        """Full-resolution logits of one object on its window, with the window's top-left corner.

        ``lowres`` is the object's ``[h, w]`` low-res logit map; ``extent`` its row of
        :meth:`positive_extents`. Returns None when no pixel can be positive.
        """
        r_lo, r_hi, c_lo, c_hi = (int(v) for v in extent)
        if r_lo < 0:
            return None
        y0, y1 = self._output_span(self.rows, r_lo, r_hi)
        x0, x1 = self._output_span(self.cols, c_lo, c_hi)
        if y0 >= y1 or x0 >= x1:
            return None
        up, p_r0, p_c0 = self._step1(lowres, y0, y1, x0, x1)
        return self._step2(up, p_r0, p_c0, y0, y1, x0, x1), y0, x0

    def lowres_crop(self, taps: AxisTaps, start, stop):
        """Low-res pixels ``[l0, l1)`` that step 1 needs for output pixels ``[start, stop)`` of one axis.

        Works on ints and on int arrays (vectorised over objects, :mod:`.chunk_masks`).
        """
        # Frame pixels [p0, p1) that step 2 reads.
        p0, p1 = taps.src0[start], taps.src1[stop - 1] + 1
        if self.factor == 1:
            return p0, p1
        # Frame pixel R reads low-res pixel floor(R/4 - 3/8) and the next one. Starting the
        # crop there keeps every sample position of the crop non-negative, so the crop
        # clamps exactly where the full frame clamps.
        return np.maximum(p0 // 4 - 1, 0), np.minimum((p1 - 1) // 4 + 2, self.lowres_size)

    def _step1(self, lowres, y0, y1, x0, x1):
        """Upsample 4x the low-res crop that feeds output window ``[y0:y1, x0:x1]`` (one-step: just crop).

        Returns the frame rows ``[p_r0, ...)`` and cols ``[p_c0, ...)`` as ``(tensor,
        p_r0, p_c0)``.
        """
        # Needed frame rows [p_r0, p_r1) and cols [p_c0, p_c1) (host-side lookups).
        p_r0, p_r1 = int(self.rows.src0[y0]), int(self.rows.src1[y1 - 1]) + 1
        p_c0, p_c1 = int(self.cols.src0[x0]), int(self.cols.src1[x1 - 1]) + 1
        if self.factor == 1:
            return lowres[p_r0:p_r1, p_c0:p_c1].float().contiguous(), p_r0, p_c0
        l_r0, l_r1 = (int(v) for v in self.lowres_crop(self.rows, y0, y1))
        l_c0, l_c1 = (int(v) for v in self.lowres_crop(self.cols, x0, x1))
        crop = lowres[l_r0:l_r1, l_c0:l_c1][None, None].float()
        up = F.interpolate(crop, (4 * (l_r1 - l_r0), 4 * (l_c1 - l_c0)), mode='bilinear',
                           align_corners=False)[0, 0]
        # Contiguous: gathers along the columns of a strided view are several times slower.
        up = up[p_r0 - 4 * l_r0:p_r1 - 4 * l_r0, p_c0 - 4 * l_c0:p_c1 - 4 * l_c0].contiguous()
        return up, p_r0, p_c0

    def _step2(self, up, p_r0, p_c0, y0, y1, x0, x1):
        """Resize the frame window to the output window, blending like ATen's CPU kernel."""
        (rs0, rs1, rw0, rw1), (cs0, cs1, cw0, cw1) = self._taps_on(up.device)
        c0 = cs0[x0:x1] - p_c0
        c1 = cs1[x0:x1] - p_c0
        r0 = rs0[y0:y1] - p_r0
        r1 = rs1[y0:y1] - p_r0
        # Inner axis (width) first, then height, as in ATen's CPU and CUDA kernels. Each
        # frame row's width blend is the same for every output row that reads it, so it is
        # computed once per frame row.
        wide = blend(up.index_select(1, c0), up.index_select(1, c1), cw0[x0:x1], cw1[x0:x1])
        return blend(wide.index_select(0, r0), wide.index_select(0, r1), rw0[y0:y1, None], rw1[y0:y1, None])

    def window_mask(self, lowres: torch.Tensor, extent) -> MaskWindow:
        """Thresholded mask of one object on its window (see :class:`MaskWindow`)."""
        result = self.window_logits(lowres, extent)
        if result is None:
            return MaskWindow(np.zeros((0, 0), dtype=bool), 0, 0)
        logits, top, left = result
        mask = logits > self.threshold
        return MaskWindow(mask if mask.is_cuda else mask.numpy(), top, left)
