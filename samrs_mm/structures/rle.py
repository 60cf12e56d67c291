"""COCO run-length encoding of masks: the one home for masks as RLE (numpy + pycocotools only).

Every stage keeps instance masks as compressed COCO RLE with **text** counts,
``{'size': [H, W], 'counts': str}``: compact, json-ready, and what pycocotools reads once
the counts are bytes again. The conversions between the three spellings of counts
(text, bytes, uncompressed run lengths) live here and nowhere else:
:func:`text_rle` (store / compare), :func:`pycoco_rle` (hand to pycocotools' C functions).

COCO RLE runs down the columns of the image (column-major), starting with a run of zeros.
So a mask known only inside a window (an object's box) never needs a full-image array:

* :func:`encode_window` builds the runs from the window's columns alone (``w x H`` bytes at
  most); :func:`scan_window` + :func:`rle_from_scan` are its two halves, so a scan made
  elsewhere (the labelling engine scans CUDA windows on the GPU) ends in the same encoder;
* :func:`decode_window` expands only the runs that reach a window's columns;
* :func:`rle_runs` reads the run lengths of compressed counts without decoding the mask.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

__all__ = ['text_rle', 'pycoco_rle', 'encode', 'decode', 'runs_to_rle', 'empty_rle', 'WindowScan',
           'scan_window', 'rle_from_scan', 'encode_window', 'rle_runs', 'decode_window']

Bbox = Tuple[float, float, float, float]


def text_rle(rle: Dict) -> Dict:
    """The compressed RLE with text counts and an int ``size`` list, from any spelling.

    Accepts counts as text, bytes (pycocotools' output) or an uncompressed run list.
    """
    height, width = (int(v) for v in rle['size'])
    counts = rle['counts']
    if isinstance(counts, (list, tuple, np.ndarray)):
        return runs_to_rle(counts, height, width)
    return dict(size=[height, width], counts=counts.decode('ascii') if isinstance(counts, bytes) else counts)


def pycoco_rle(rle: Dict) -> Dict:
    """The compressed RLE with bytes counts that pycocotools' C functions take, from any spelling."""
    rle = text_rle(rle)
    rle['counts'] = rle['counts'].encode('ascii')
    return rle


def encode(mask: np.ndarray) -> Dict:
    """Text RLE of a full-image ``(H, W)`` binary mask."""
    from pycocotools import mask as mask_utils
    return text_rle(mask_utils.encode(np.asfortranarray(np.asarray(mask).astype(np.uint8))))


def decode(rle: Dict) -> np.ndarray:
    """The ``(H, W)`` bool mask of an RLE in any spelling."""
    from pycocotools import mask as mask_utils
    return mask_utils.decode(pycoco_rle(rle)).astype(bool)


def runs_to_rle(runs, height: int, width: int) -> Dict:
    """Text RLE from uncompressed run lengths (zeros first; any integer sequence)."""
    from pycocotools import mask as mask_utils
    runs = np.asarray(runs, dtype=np.uint64)
    rle = mask_utils.frPyObjects({'counts': runs, 'size': [height, width]}, height, width)
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def empty_rle(height: int, width: int) -> Dict:
    """Text RLE of an all-zero ``height x width`` mask."""
    return runs_to_rle([height * width], height, width)


class WindowScan(NamedTuple):
    """Run boundaries of a window's touched columns, laid out full-height and column-major.

    ``change``: positions where the value flips; ``first``: value of the first position;
    ``length``: number of positions (``ncols * H``); ``x0, y0``: image column / row of the
    mask's first touched column / row; ``ncols, nrows``: its extent; ``area``: its pixels.
    """

    change: np.ndarray
    first: bool
    length: int
    x0: int
    y0: int
    ncols: int
    nrows: int
    area: int


def check_window(shape, top: int, left: int, height: int, width: int) -> None:
    """Raise a ValueError when a non-empty window of ``shape`` at (top, left) leaves the image."""
    if len(shape) != 2:
        raise ValueError(f'window must be 2-D, got shape {tuple(shape)}')
    rows, cols = shape
    if rows * cols and (top < 0 or left < 0 or top + rows > height or left + cols > width):
        raise ValueError(f'window {cols}x{rows} at (x={left}, y={top}) exceeds the {width}x{height} image')


def scan_window(window: np.ndarray, top: int, left: int, height: int) -> Optional[WindowScan]:
    """:class:`WindowScan` of a bool numpy window placed at image pixel (top, left); None if empty."""
    rows = np.flatnonzero(window.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(window.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    tight = window[r0:r1, c0:c1]
    y0, x0, ncols = top + r0, left + c0, c1 - c0
    # The touched columns, full height, column-major: image positions x0*H .. (x0+ncols)*H.
    block = np.zeros((ncols, height), dtype=np.uint8)
    block[:, y0:y0 + tight.shape[0]] = tight.T
    flat = block.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    return WindowScan(change, bool(flat[0]), flat.size, x0, y0, ncols, r1 - r0, int(tight.sum()))


def rle_from_scan(scan: Optional[WindowScan], height: int, width: int) -> Tuple[Dict, int, Bbox]:
    """Text RLE, area and COCO ``(x, y, w, h)`` bbox of a scanned window (zeros when empty)."""
    if scan is None:
        return empty_rle(height, width), 0, (0.0, 0.0, 0.0, 0.0)
    runs = np.diff(np.concatenate(([0], scan.change, [scan.length]))).astype(np.int64)
    if scan.first:
        runs = np.concatenate(([0], runs))  # COCO counts start with a (here empty) run of zeros
    runs[0] += scan.x0 * height
    after = (width - scan.x0 - scan.ncols) * height
    if len(runs) % 2 == 1:  # ends with a zero run: extend it
        runs[-1] += after
    elif after:
        runs = np.concatenate((runs, [after]))
    bbox = (float(scan.x0), float(scan.y0), float(scan.ncols), float(scan.nrows))
    return runs_to_rle(runs, height, width), scan.area, bbox


def encode_window(window, top: int, left: int, height: int, width: int) -> Tuple[Dict, int, Bbox]:
    """Text RLE, area and COCO ``(x, y, w, h)`` bbox of a mask that is zero outside a window.

    ``window`` is a 2-D bool array placed with its pixel ``(0, 0)`` at image pixel
    ``(top, left)`` of a ``height x width`` image. The RLE equals :func:`encode` of the full
    mask and the bbox ``pycocotools.mask.toBbox`` (all zeros for an empty mask); the cost is
    ``O(H x window width)``, independent of the image width.
    """
    window = np.asarray(window, dtype=bool)
    check_window(window.shape, top, left, height, width)
    return rle_from_scan(scan_window(window, top, left, height), height, width)


def rle_runs(rle: Dict) -> np.ndarray:
    """The run lengths of a COCO RLE (alternating zeros / ones, column-major, zeros first).

    Reads text or bytes counts and uncompressed lists alike, without decoding the mask: the
    cost follows the number of runs, not the image size.
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


def decode_window(rle: Dict, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """The ``(height, width)`` bool window of an RLE mask at columns ``x0 ..`` and rows ``y0 ..``.

    Equals ``decode(rle)[y0:y0 + height, x0:x0 + width]`` (the window must lie inside the
    mask) but expands only the runs that reach the window's columns: a window of a full-size
    iSAID mask, or each object's box when a label is painted, costs what the window costs.
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
