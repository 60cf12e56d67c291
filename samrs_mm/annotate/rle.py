"""COCO RLE of a mask known only on a window of the image, without the full-image array.

COCO RLE runs over the image in column-major order, starting with a run of zeros. A mask
that is zero outside a window ``[top:top+h, left:left+w]`` only touches columns
``left .. left+w-1``; the runs before and after them are plain zero runs. So the counts are
built from those columns alone (``w x H`` bytes at most) and compressed by pycocotools.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ['window_to_rle', 'empty_rle']


def empty_rle(height: int, width: int) -> Dict:
    """Compressed COCO RLE (``counts`` as str) of an all-zero ``height x width`` mask."""
    return _compress([height * width], height, width)


def _compress(counts, height: int, width: int) -> Dict:
    """Compressed RLE dict with str counts from uncompressed run lengths (any integer sequence)."""
    counts = np.asarray(counts, dtype=np.uint64)
    rle = mask_utils.frPyObjects({'counts': counts, 'size': [height, width]}, height, width)
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def window_to_rle(window: np.ndarray, top: int, left: int, height: int,
                  width: int) -> Tuple[Dict, int, Tuple[float, float, float, float]]:
    """Compressed COCO RLE, area and COCO ``(x, y, w, h)`` bbox of a windowed mask.

    ``window`` is a 2-D bool array placed with its pixel ``(0, 0)`` at image pixel
    ``(top, left)``; the image is ``height x width`` and zero elsewhere. The RLE equals
    ``pycocotools.mask.encode`` of the full mask; the bbox equals ``mask.toBbox`` (all zeros
    for an empty mask).
    """
    window = np.asarray(window, dtype=bool)
    if window.ndim != 2:
        raise ValueError(f'window must be 2-D, got shape {window.shape}')
    if window.size:
        if top < 0 or left < 0 or top + window.shape[0] > height or left + window.shape[1] > width:
            raise ValueError(f'window {window.shape} at ({top}, {left}) exceeds the {height}x{width} image')
    rows = np.flatnonzero(window.any(axis=1))
    if rows.size == 0:
        return empty_rle(height, width), 0, (0.0, 0.0, 0.0, 0.0)
    cols = np.flatnonzero(window.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    tight = window[r0:r1, c0:c1]
    y0, x0 = top + int(r0), left + int(c0)
    ncols = int(c1 - c0)
    # The touched columns, full height, column-major: image positions x0*H .. (x0+ncols)*H.
    block = np.zeros((ncols, height), dtype=np.uint8)
    block[:, y0:y0 + tight.shape[0]] = tight.T
    flat = block.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).astype(np.int64)
    if flat[0]:
        runs = np.concatenate(([0], runs))  # COCO counts start with a (here empty) run of zeros
    runs[0] += x0 * height
    after = (width - x0 - ncols) * height
    if len(runs) % 2 == 1:  # ends with a zero run: extend it
        runs[-1] += after
    elif after:
        runs = np.concatenate((runs, [after]))
    area = int(tight.sum())
    bbox = (float(x0), float(y0), float(ncols), float(tight.shape[0]))
    return _compress(runs, height, width), area, bbox
