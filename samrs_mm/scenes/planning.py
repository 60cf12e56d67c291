"""Where the windows of a scene go: labelling windows, mmseg's slide windows, detector patches.

* :func:`plan_label_windows` (annotate): every object is labelled exactly once, in one window
  that holds its box whole plus ``context`` pixels around it. Objects go to the windows of a
  regular grid (``size``, ``gap``: the patch grid of :mod:`samrs_mm.patches`), each to the grid
  window whose centre is nearest its own; an object no grid window holds whole (it lies across
  a seam) gets an extra ``size`` window centred on it, shared with later such objects that
  fit; an object larger than ``size`` gets a window of its own, read ``k`` times smaller
  (``k`` the smallest integer that brings it to ``size``), so the model sees its input size.
* :class:`SlideGrid` (segmentor inference): the windows of mmseg's
  ``EncoderDecoder.slide_inference`` (same formula, same row-major order), and the *strips* of
  rows that become final after each row of windows, the unit of streaming and of resume.
* :func:`detection_windows` (detector inference): the patch grid (``size`` / ``gap``, last
  window shifted back to the border) of the DOTA devkit and mmrotate.
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

from ..patches.windows import window_starts
from .raster import PixelWindow

__all__ = ['LabelWindow', 'plan_label_windows', 'SlideGrid', 'detection_windows']


class LabelWindow(NamedTuple):
    """An annotate window: ``window`` of scene pixels, read ``factor`` times smaller, labelling ``box_ids``."""

    index: int
    window: PixelWindow
    factor: int
    box_ids: Tuple[int, ...]
    kind: str  # 'grid' | 'seam' (an extra window for objects across grid seams) | 'large'

    @property
    def out_shape(self) -> Tuple[int, int]:
        """``(height, width)`` of the image the model gets."""
        return self.window.height // self.factor, self.window.width // self.factor


def _need_box(hbox: np.ndarray, context: int, width: int, height: int) -> Tuple[int, int, int, int]:
    """The pixels an object needs: its box plus ``context`` on every side, clipped to the scene."""
    x1, y1, x2, y2 = (float(v) for v in hbox)
    return (max(int(math.floor(x1 - context)), 0), max(int(math.floor(y1 - context)), 0),
            min(int(math.ceil(x2 + context)), width), min(int(math.ceil(y2 + context)), height))


def _best_start(starts: Sequence[int], size: int, lo: int, hi: int, centre: float):
    """Index of the start whose window ``[s, s + size)`` holds ``[lo, hi)`` with its centre nearest ``centre``."""
    best, best_d = None, None
    for i, s in enumerate(starts):
        if s <= lo and s + size >= hi:
            d = abs(s + size / 2.0 - centre)
            if best_d is None or d < best_d:
                best, best_d = i, d
    return best


def _contains(window: PixelWindow, need) -> bool:
    return (window.x <= need[0] and window.y <= need[1] and window.x + window.width >= need[2]
            and window.y + window.height >= need[3])


def _large_window(need, size: int, width: int, height: int) -> Tuple[PixelWindow, int]:
    """The window of an object larger than ``size`` and its integer reduction factor."""
    nw, nh = need[2] - need[0], need[3] - need[1]
    factor = int(math.ceil(max(nw, nh) / size))
    # Sides made multiples of the factor, so that the reduced image is exact (k x k blocks).
    w = min(int(math.ceil(nw / factor)) * factor, (width // factor) * factor)
    h = min(int(math.ceil(nh / factor)) * factor, (height // factor) * factor)
    x = min(need[0], width - w)
    y = min(need[1], height - h)
    return PixelWindow(x, y, w, h), factor


def plan_label_windows(objects: Sequence, width: int, height: int, size: int = 1024, gap: int = 200,
                       context: int = 32) -> List[LabelWindow]:
    """The labelling windows of a scene (module docstring); every object in exactly one of them.

    ``objects`` have ``box_id`` and ``hbox`` (scene pixels). Windows come in a fixed order: the
    grid windows that got objects (row-major), then the seam windows, then the large ones, each
    object's id in exactly one ``box_ids``.
    """
    if size <= 0 or not 0 <= gap < size or context < 0:
        raise ValueError(f'window size {size}, gap {gap}, context {context}: need size > 0, 0 <= gap < size, '
                         'context >= 0')
    ww, wh = min(size, width), min(size, height)
    xs = window_starts(width, ww, ww - min(gap, ww - 1))
    ys = window_starts(height, wh, wh - min(gap, wh - 1))
    grid = {}
    seams: List[Tuple[PixelWindow, List[int]]] = []
    large: List[Tuple[PixelWindow, int, List[int]]] = []
    for obj in sorted(objects, key=lambda o: o.box_id):
        need = _need_box(obj.hbox, context, width, height)
        cx, cy = (need[0] + need[2]) / 2.0, (need[1] + need[3]) / 2.0
        if need[2] - need[0] > ww or need[3] - need[1] > wh:
            window, factor = _large_window(need, size, width, height)
            large.append((window, factor, [obj.box_id]))
            continue
        ix = _best_start(xs, ww, need[0], need[2], cx)
        iy = _best_start(ys, wh, need[1], need[3], cy)
        if ix is not None and iy is not None:
            grid.setdefault((iy, ix), []).append(obj.box_id)
            continue
        for window, ids in seams:
            if _contains(window, need):
                ids.append(obj.box_id)
                break
        else:
            x = min(max(int(round(cx - ww / 2.0)), 0), width - ww)
            y = min(max(int(round(cy - wh / 2.0)), 0), height - wh)
            seams.append((PixelWindow(x, y, ww, wh), [obj.box_id]))
    planned: List[LabelWindow] = []
    for (iy, ix), ids in sorted(grid.items()):
        planned.append(LabelWindow(len(planned), PixelWindow(xs[ix], ys[iy], ww, wh), 1, tuple(ids), 'grid'))
    for window, ids in seams:
        planned.append(LabelWindow(len(planned), window, 1, tuple(ids), 'seam'))
    for window, factor, ids in large:
        planned.append(LabelWindow(len(planned), window, factor, tuple(ids), 'large'))
    return planned


class SlideGrid:
    """mmseg's slide-inference windows of a ``height x width`` image, and the strips they finish.

    Windows are those of ``EncoderDecoder.slide_inference`` (``crop`` and ``stride`` as
    ``(h, w)``): ``h_grids = max(H - h_crop + h_stride - 1, 0) // h_stride + 1`` rows, each
    window moved back inside the image, all of size ``min(crop, image)``, row-major. Their
    tops are strictly increasing, so the rows above the next window row are final once a window
    row is done: strip ``k`` is rows ``tops[k] .. tops[k + 1]`` (the last one to the bottom).
    """

    def __init__(self, height: int, width: int, crop: Tuple[int, int], stride: Tuple[int, int]) -> None:
        (h_crop, w_crop), (h_stride, w_stride) = crop, stride
        if min(h_crop, w_crop, h_stride, w_stride) <= 0:
            raise ValueError(f'slide windows need positive crop and stride, got crop {crop}, stride {stride}')
        self.height, self.width = int(height), int(width)
        h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
        self.tops = [max(min(i * h_stride + h_crop, height) - h_crop, 0) for i in range(h_grids)]
        self.lefts = [max(min(j * w_stride + w_crop, width) - w_crop, 0) for j in range(w_grids)]
        self.win_h, self.win_w = min(h_crop, height), min(w_crop, width)
        if any(b <= a for a, b in zip(self.tops, self.tops[1:])):
            raise ValueError(f'slide rows do not advance (crop {crop}, stride {stride})')
        # How many windows cover each row / column (mmseg's count_mat is their product).
        self.row_cover = np.zeros(height, dtype=np.int64)
        for top in self.tops:
            self.row_cover[top:top + self.win_h] += 1
        self.col_cover = np.zeros(width, dtype=np.int64)
        for left in self.lefts:
            self.col_cover[left:left + self.win_w] += 1

    @property
    def num_strips(self) -> int:
        """Strips = window rows."""
        return len(self.tops)

    def strip_rows(self, k: int) -> Tuple[int, int]:
        """Rows ``[start, end)`` that window row ``k`` finishes."""
        end = self.tops[k + 1] if k + 1 < len(self.tops) else self.height
        return self.tops[k], end

    def first_row_touching(self, row: int) -> int:
        """The first window row whose windows reach ``row`` (where a fresh accumulation of it starts)."""
        return next(k for k, top in enumerate(self.tops) if top + self.win_h > row)

    def windows(self, k: int) -> List[PixelWindow]:
        """The windows of row ``k``, left to right."""
        return [PixelWindow(left, self.tops[k], self.win_w, self.win_h) for left in self.lefts]

    def __len__(self) -> int:
        return len(self.tops) * len(self.lefts)


def detection_windows(width: int, height: int, size: int = 1024, gap: int = 200) -> List[PixelWindow]:
    """Patch windows of a detector (row-major; the DOTA devkit's rule, windows clipped to a smaller scene)."""
    ww, wh = min(size, width), min(size, height)
    xs = window_starts(width, ww, max(ww - gap, 1))
    ys = window_starts(height, wh, max(wh - gap, 1))
    return [PixelWindow(x, y, ww, wh) for y in ys for x in xs]
