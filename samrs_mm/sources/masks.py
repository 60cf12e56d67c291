"""COCO run-length encoding of instance masks, including masks known only inside a box.

Records keep masks as COCO RLE with text ``counts`` (``{'size': [h, w], 'counts': str}``):
compact, json-ready, and decoded by ``pycocotools``. Large rasters (iSAID images reach
13,000 pixels a side with thousands of instances) must not build a full-image array per
instance, so :func:`encode_crop` encodes a mask from its bounding-box crop alone: COCO RLE
runs down columns, so the columns left and right of the box are single runs of zeros.
"""
from __future__ import annotations

import numpy as np


def _text_rle(rle: dict) -> dict:
    counts = rle['counts']
    return dict(size=[int(v) for v in rle['size']],
                counts=counts.decode('ascii') if isinstance(counts, bytes) else counts)


def encode_mask(mask: np.ndarray) -> dict:
    """COCO RLE (text counts) of a full-image ``(H, W)`` binary mask."""
    from pycocotools import mask as mask_utils
    return _text_rle(mask_utils.encode(np.asfortranarray(mask.astype(np.uint8))))


def encode_crop(crop: np.ndarray, x0: int, y0: int, height: int, width: int) -> dict:
    """COCO RLE of an ``height`` x ``width`` mask that is zero outside ``crop``.

    ``crop`` is the ``(h, w)`` binary mask of the rows ``y0 .. y0 + h`` and columns
    ``x0 .. x0 + w``. Cost is ``O(height * w)``, independent of the image width.
    """
    # The annotate engine's windowed encoder does exactly this (and more: area, bbox, CUDA
    # windows); one implementation serves both. Imported here, not at module level, so
    # reading annotations does not load the engine's modules.
    from ..annotate.rle import window_to_rle
    crop = np.asarray(crop, dtype=bool)
    h, w = crop.shape
    if x0 < 0 or y0 < 0 or x0 + w > width or y0 + h > height:
        raise ValueError(f'crop {w}x{h} at ({x0}, {y0}) exceeds the {width}x{height} image')
    return window_to_rle(crop, y0, x0, height, width)[0]

def rle_runs(rle: dict) -> np.ndarray:
    """The run lengths of a COCO RLE (alternating zeros / ones, column-major, zeros first).

    Reads pycocotools' compressed text ``counts`` (str or bytes) and uncompressed lists alike,
    without decoding the mask: the cost follows the number of runs, not the image size.
    """
    counts = rle['counts']
    if isinstance(counts, (list, tuple, np.ndarray)):
        return np.asarray(counts, dtype=np.int64)
    if isinstance(counts, bytes):
        counts = counts.decode('ascii')
    # The text form (pycocotools' rleFrString): each count is a little-endian base-32 number
    # in characters 48 + (5 bits | 0x20 "more follow"), sign-extended from the last
    # character's bit 4; from the fourth count on it is a difference to the count two before.
    runs: list = []
    value = shift = 0
    for char in counts:
        group = ord(char) - 48
        value |= (group & 0x1f) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        value = shift = 0
    return np.asarray(runs, dtype=np.int64)


def decode_crop(rle: dict, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """The ``(height, width)`` bool window of an RLE mask at columns ``x0 ..`` and rows ``y0 ..``.

    Equals ``pycocotools.mask.decode(rle)[y0:y0 + height, x0:x0 + width]`` (the window must
    lie inside the mask) but expands only the runs that reach the window's columns: a window
    of a full-size iSAID mask, or each object's box when a label is painted, costs what the
    window costs, not the image.
    """
    mask_h, mask_w = (int(v) for v in rle['size'])
    if x0 < 0 or y0 < 0 or x0 + width > mask_w or y0 + height > mask_h:
        raise ValueError(f'window {width}x{height} at ({x0}, {y0}) exceeds the {mask_w}x{mask_h} mask')
    runs = rle_runs(rle)
    ends = np.cumsum(runs)
    starts = ends - runs
    # Odd runs are foreground; keep those that reach into the window's columns, as positions
    # in the column-major full-height columns x0 .. x0 + width, and mark their edges.
    fg_start, fg_end = starts[1::2], ends[1::2]
    lo, hi = x0 * mask_h, (x0 + width) * mask_h
    keep = (fg_end > lo) & (fg_start < hi)
    edges = np.zeros(width * mask_h + 1, dtype=np.int32)
    np.add.at(edges, np.clip(fg_start[keep], lo, hi) - lo, 1)
    np.add.at(edges, np.clip(fg_end[keep], lo, hi) - lo, -1)
    columns = (np.cumsum(edges[:-1]) > 0).reshape(width, mask_h)
    return columns.T[y0:y0 + height]
