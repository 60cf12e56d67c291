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
    from pycocotools import mask as mask_utils
    crop = np.asarray(crop, dtype=bool)
    h, w = crop.shape
    if x0 < 0 or y0 < 0 or x0 + w > width or y0 + h > height:
        raise ValueError(f'crop {w}x{h} at ({x0}, {y0}) exceeds the {width}x{height} image')
    # The full-height columns x0 .. x0 + w, flattened column by column like COCO RLE.
    columns = np.zeros((height, w), dtype=np.uint8)
    columns[y0:y0 + h] = crop
    flat = columns.ravel(order='F')
    if flat.size == 0:
        runs = np.zeros(0, dtype=np.int64)
    else:
        bounds = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
        runs = np.diff(bounds)
        if flat[0]:
            runs = np.concatenate([[0], runs])  # RLE starts with a (possibly empty) zero run
    runs = runs.astype(np.int64)
    before, after = x0 * height, (width - x0 - w) * height
    if len(runs) == 0:
        runs = np.array([before + after], dtype=np.int64)
    else:
        runs[0] += before
        if len(runs) % 2:  # ends on a zero run
            runs[-1] += after
        elif after:
            runs = np.concatenate([runs, [after]])
    rle = mask_utils.frPyObjects({'counts': runs.tolist(), 'size': [height, width]},
                                 height, width)
    return _text_rle(rle)
