"""COCO RLE of a mask known only on a window of the image, without the full-image array.

COCO RLE runs over the image in column-major order, starting with a run of zeros. A mask
that is zero outside a window ``[top:top+h, left:left+w]`` only touches columns
``left .. left+w-1``; the runs before and after them are plain zero runs. So the counts are
built from those columns alone (``w x H`` bytes at most) and compressed by pycocotools.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import torch
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


def window_to_rle(window, top: int, left: int, height: int,
                  width: int) -> Tuple[Dict, int, Tuple[float, float, float, float]]:
    """Compressed COCO RLE, area and COCO ``(x, y, w, h)`` bbox of a windowed mask.

    ``window`` is a 2-D bool array (numpy, or a torch tensor on any device) placed with its
    pixel ``(0, 0)`` at image pixel ``(top, left)``; the image is ``height x width`` and zero
    elsewhere. The RLE equals ``pycocotools.mask.encode`` of the full mask; the bbox equals
    ``mask.toBbox`` (all zeros for an empty mask). A CUDA window is scanned on its device:
    only the run boundaries are copied to the host.
    """
    if window.ndim != 2:
        raise ValueError(f'window must be 2-D, got shape {tuple(window.shape)}')
    if window.shape[0] * window.shape[1]:
        if top < 0 or left < 0 or top + window.shape[0] > height or left + window.shape[1] > width:
            raise ValueError(f'window {tuple(window.shape)} at ({top}, {left}) exceeds the '
                             f'{height}x{width} image')
    if isinstance(window, torch.Tensor):
        if window.is_cuda:
            scan = _scan_torch(window.bool(), top, left, height)
        else:
            scan = _scan_numpy(window.numpy().astype(bool, copy=False), top, left, height)
    else:
        scan = _scan_numpy(np.asarray(window, dtype=bool), top, left, height)
    if scan is None:
        return empty_rle(height, width), 0, (0.0, 0.0, 0.0, 0.0)
    change, first, length, x0, y0, ncols, nrows, area = scan
    runs = np.diff(np.concatenate(([0], change, [length]))).astype(np.int64)
    if first:
        runs = np.concatenate(([0], runs))  # COCO counts start with a (here empty) run of zeros
    runs[0] += x0 * height
    after = (width - x0 - ncols) * height
    if len(runs) % 2 == 1:  # ends with a zero run: extend it
        runs[-1] += after
    elif after:
        runs = np.concatenate((runs, [after]))
    bbox = (float(x0), float(y0), float(ncols), float(nrows))
    return _compress(runs, height, width), area, bbox


def _scan_numpy(window: np.ndarray, top: int, left: int, height: int):
    """Run boundaries of the touched columns of a numpy window (see :func:`window_to_rle`)."""
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
    return change, bool(flat[0]), flat.size, x0, y0, ncols, r1 - r0, int(tight.sum())


def _scan_torch(window: torch.Tensor, top: int, left: int, height: int):
    """:func:`_scan_numpy` on the window's device; returns host numbers."""
    rows = torch.nonzero(window.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(window.any(dim=0)).flatten()
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    tight = window[r0:r1, c0:c1]
    y0, x0, ncols = top + r0, left + c0, c1 - c0
    block = torch.zeros((ncols, height), dtype=torch.bool, device=window.device)
    block[:, y0:y0 + tight.shape[0]] = tight.t()
    flat = block.view(-1)
    change = (torch.nonzero(flat[1:] != flat[:-1]).flatten() + 1).cpu().numpy()
    return change, bool(flat[0]), flat.numel(), x0, y0, ncols, r1 - r0, int(tight.sum())
