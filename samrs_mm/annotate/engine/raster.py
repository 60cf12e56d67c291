"""Rasterise box polygons onto pixel grids, with one documented inclusion rule.

Used by the mask prompts (H-Box-M, R-Box-M, RH-Box-M in SAM's input frame) and by the
``box`` backend (filled boxes in the image frame), so both agree pixel for pixel.

Rule: pixel ``(row i, col j)`` covers the square ``[j, j + 1) x [i, i + 1)`` and belongs to
a polygon when its centre ``(j + 0.5, i + 0.5)`` does, by the even-odd rule, counting points
on a left or top edge as inside and points on a right or bottom edge as outside. A box
``(x1, y1, x2, y2)`` with integer corners thus fills exactly ``(x2 - x1) * (y2 - y1)``
pixels, and its mask's COCO bbox is ``(x1, y1, x2 - x1, y2 - y1)``; boxes that tile the
plane never share a pixel.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ['polygon_coverage', 'fill_polygon']


def polygon_coverage(polygon, xs, ys) -> np.ndarray:
    """Which sample points ``(xs[j], ys[i])`` lie inside ``polygon``: a ``(len(ys), len(xs))`` bool array.

    ``polygon`` is ``(N, 2)`` vertices in order (either orientation); the even-odd rule with
    the left/top-inclusive convention of this module decides.
    """
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
        raise ValueError(f'polygon must have shape (N >= 3, 2), got {poly.shape}')
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)[:, None]
    x0, y0 = poly[:, 0], poly[:, 1]
    nxt = np.roll(poly, -1, axis=0)
    x1, y1 = nxt[:, 0], nxt[:, 1]
    # Half-open in y: an edge counts for rows from its lower-y end up to (not including) its
    # higher-y end, so a vertex shared by two edges is counted once and horizontal edges never.
    crosses = ((y0 <= ys) & (ys < y1)) | ((y1 <= ys) & (ys < y0))  # (R, E)
    with np.errstate(divide='ignore', invalid='ignore'):
        x_at = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
    x_at = np.where(crosses, x_at, -np.inf)
    # A ray to the +x side: strict '>' puts a point lying on a left edge inside, on a right edge outside.
    count = (x_at[:, None, :] > xs[None, :, None]).sum(axis=-1)
    return (count % 2) == 1


def fill_polygon(polygon, height: int, width: int) -> Tuple[np.ndarray, int, int]:
    """Pixels of a ``height x width`` grid covered by ``polygon``, as a tight window.

    Returns ``(mask, top, left)``: ``mask`` is a bool array whose pixel ``(0, 0)`` is grid
    pixel ``(top, left)``; only the polygon's bounding range (clipped to the grid) is
    evaluated. A polygon that covers no pixel gives a ``(0, 0)`` mask.
    """
    poly = np.asarray(polygon, dtype=np.float64)
    if not np.all(np.isfinite(poly)):
        raise ValueError(f'polygon has non-finite coordinates: {poly.tolist()}')
    # Pixel j is a candidate when xmin <= j + 0.5 < xmax.
    j0 = max(int(np.ceil(poly[:, 0].min() - 0.5)), 0)
    j1 = min(int(np.ceil(poly[:, 0].max() - 0.5)), width)
    i0 = max(int(np.ceil(poly[:, 1].min() - 0.5)), 0)
    i1 = min(int(np.ceil(poly[:, 1].max() - 0.5)), height)
    if j0 >= j1 or i0 >= i1:
        return np.zeros((0, 0), dtype=bool), 0, 0
    covered = polygon_coverage(poly, np.arange(j0, j1) + 0.5, np.arange(i0, i1) + 0.5)
    return covered, i0, j0
