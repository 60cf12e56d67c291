"""Object masks in scene pixels, kept per object (never a scene-size array), and painted tile by tile.

A :class:`SceneMask` is one object's mask as a COCO RLE of its own bounding box plus the box's
place in the scene: what a window result becomes (:func:`from_window_mask`, which also undoes
the reduction of a window read ``k`` times smaller), what the resume records store, and what
the vector outputs trace. :func:`place_rle` writes the same mask as a COCO RLE of the whole
scene from the run lengths alone (for the COCO json), and :func:`paint_tile` paints the masks
that reach a tile of the label raster in the overlap rule's order, so the tiles of a scene
put together equal :func:`~samrs_mm.annotate.outputs.compose_semantic` of the whole scene.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..annotate.outputs import paint_order
from ..structures.rle import decode_window, encode, rle_runs, runs_to_rle
from .raster import PixelWindow

__all__ = ['SceneMask', 'from_window_mask', 'place_rle', 'paint_tile', 'COCO_RLE_MAX_PIXELS']

# pycocotools keeps run lengths as 32-bit unsigned integers: a scene-wide RLE only beyond this.
COCO_RLE_MAX_PIXELS = 2 ** 32 - 1


@dataclass
class SceneMask:
    """An object's mask: ``rle`` of its ``height x width`` bounding box whose top-left is scene pixel ``(x, y)``."""

    x: int
    y: int
    rle: Dict
    area: int

    @property
    def height(self) -> int:
        """Rows of the bounding box."""
        return int(self.rle['size'][0])

    @property
    def width(self) -> int:
        """Columns of the bounding box."""
        return int(self.rle['size'][1])

    @property
    def bbox(self) -> Tuple[int, int, int, int]:
        """COCO ``(x, y, w, h)`` in scene pixels (zeros when empty)."""
        return (self.x, self.y, self.width, self.height) if self.area else (0, 0, 0, 0)

    def as_record(self) -> dict:
        """The json form kept in the resume records."""
        return dict(x=self.x, y=self.y, rle=self.rle, area=self.area)

    @classmethod
    def from_record(cls, data: dict) -> 'SceneMask':
        """Inverse of :meth:`as_record`."""
        return cls(int(data['x']), int(data['y']), data['rle'], int(data['area']))

    def window(self, tile: PixelWindow):
        """``(bool array, rows, cols)`` of the mask inside ``tile`` (slices of the tile), or None."""
        x0, y0 = max(self.x, tile.x), max(self.y, tile.y)
        x1 = min(self.x + self.width, tile.x + tile.width)
        y1 = min(self.y + self.height, tile.y + tile.height)
        if not self.area or x1 <= x0 or y1 <= y0:
            return None
        part = decode_window(self.rle, x0 - self.x, y0 - self.y, x1 - x0, y1 - y0)
        return part, slice(y0 - tile.y, y1 - tile.y), slice(x0 - tile.x, x1 - tile.x)


def _empty() -> SceneMask:
    return SceneMask(0, 0, encode(np.zeros((0, 0), dtype=bool)), 0)


def from_window_mask(mask, window: PixelWindow, factor: int = 1) -> SceneMask:
    """The :class:`SceneMask` of an engine :class:`~samrs_mm.annotate.engine.backend.ObjectMask` of ``window``.

    ``factor`` > 1: the window was read that many times smaller; each mask pixel covers
    ``factor x factor`` scene pixels (nearest neighbour, the reduction undone exactly).
    """
    if mask.area == 0:
        return _empty()
    bx, by, bw, bh = (int(round(v)) for v in mask.bbox)
    local = decode_window(mask.rle, bx, by, bw, bh)
    if factor > 1:
        local = np.repeat(np.repeat(local, factor, axis=0), factor, axis=1)
    return SceneMask(window.x + bx * factor, window.y + by * factor, encode(local), int(local.sum()))


def place_rle(mask: SceneMask, height: int, width: int) -> Dict:
    """COCO RLE of ``mask`` in a ``height x width`` scene, from its run lengths (cost: its runs and columns)."""
    if height * width > COCO_RLE_MAX_PIXELS:
        raise ValueError(f'a {width}x{height} scene is beyond what COCO RLE can count (2^32 pixels)')
    if not mask.area:
        return runs_to_rle([height * width], height, width)
    h = mask.height
    runs = rle_runs(mask.rle)
    ends = np.cumsum(runs)
    starts = ends - runs
    fg_s, fg_e = starts[1::2], ends[1::2]
    keep = fg_e > fg_s
    fg_s, fg_e = fg_s[keep], fg_e[keep]
    # Split every foreground run at the box's column boundaries; each piece lies in one column.
    pieces_s: List[np.ndarray] = []
    pieces_e: List[np.ndarray] = []
    first_col, last_col = fg_s // h, (fg_e - 1) // h
    for s, e, c0, c1 in zip(fg_s, fg_e, first_col, last_col):
        if c0 == c1:
            pieces_s.append(np.array([s]))
            pieces_e.append(np.array([e]))
            continue
        cols = np.arange(c0, c1 + 1)
        ps = np.maximum(cols * h, s)
        pe = np.minimum((cols + 1) * h, e)
        pieces_s.append(ps)
        pieces_e.append(pe)
    ps = np.concatenate(pieces_s).astype(np.int64)
    pe = np.concatenate(pieces_e).astype(np.int64)
    col = ps // h
    gs = (mask.x + col) * height + mask.y + (ps - col * h)
    ge = gs + (pe - ps)
    # Pieces that touch in the scene (a full column of a box as tall as the scene) are one run.
    joined = np.concatenate(([True], gs[1:] != ge[:-1]))
    run_starts = gs[joined]
    run_ends = ge[np.concatenate((joined[1:], [True]))]
    edges = np.empty(2 * len(run_starts) + 2, dtype=np.int64)
    edges[0] = 0
    edges[1:-1:2] = run_starts
    edges[2:-1:2] = run_ends
    edges[-1] = height * width
    runs = np.diff(edges)
    if runs[-1] == 0:  # the mask reaches the last pixel: no closing run of zeros
        runs = runs[:-1]
    return runs_to_rle(runs, height, width)


def paint_tile(tile: PixelWindow, masks: Sequence[SceneMask], class_indices: Sequence[int], scores: Sequence[float],
               overlap: str = 'small_on_top', ignore_index: int = 255) -> np.ndarray:
    """The uint8 label of ``tile`` from the masks reaching it, given in the objects' input order.

    Painted by :func:`~samrs_mm.annotate.outputs.paint_order` (ties keep the given order), so
    a scene painted tile by tile equals ``compose_semantic`` of all its objects at once.
    """
    label = np.full((tile.height, tile.width), ignore_index, dtype=np.uint8)
    areas = [m.area for m in masks]
    for i in paint_order(areas, scores, overlap):
        part = masks[i].window(tile)
        if part is None:
            continue
        window, rows, cols = part
        label[rows, cols][window] = int(class_indices[i])
    return label
