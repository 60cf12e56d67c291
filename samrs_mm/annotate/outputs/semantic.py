"""The semantic label of one image: which object's class each pixel takes, and its encodings.

Overlaps: where masks of several objects cover a pixel, the semantic map takes the class
of one of them by a deterministic rule (:data:`OVERLAP_RULES`); the default,
``'small_on_top'``, paints objects from the largest mask area to the smallest, so a small
object lying on a large one (a car on a bridge) stays visible; objects of equal area are
painted in instance order (the later one ends on top).
"""
from __future__ import annotations

import io
from typing import List, Optional, Sequence

import numpy as np

from ...structures.rle import decode_window

__all__ = ['OVERLAP_RULES', 'paint_order', 'compose_semantic', 'label_palette', 'encode_gray_png',
           'encode_palette_png', 'encode_geotiff', 'encode_rgb_png']

OVERLAP_RULES = ('small_on_top', 'large_on_top', 'first_on_top', 'last_on_top', 'score_on_top')


def paint_order(areas: Sequence[int], scores: Sequence[float], rule: str = 'small_on_top') -> List[int]:
    """Positions of the objects in the order they are painted (the last painted ends on top).

    ``small_on_top``: largest area first; ``large_on_top``: smallest first; ``first_on_top``:
    reverse instance order; ``last_on_top``: instance order; ``score_on_top``: lowest SAM
    score first. Ties keep instance order, so the later object of a tie ends on top.
    """
    n = len(areas)
    idx = list(range(n))
    if rule == 'small_on_top':
        return sorted(idx, key=lambda i: (-int(areas[i]), i))
    if rule == 'large_on_top':
        return sorted(idx, key=lambda i: (int(areas[i]), i))
    if rule == 'first_on_top':
        return idx[::-1]
    if rule == 'last_on_top':
        return idx
    if rule == 'score_on_top':
        return sorted(idx, key=lambda i: (float(scores[i]), i))
    raise ValueError(f'unknown overlap rule {rule!r}; choose one of {", ".join(OVERLAP_RULES)}')


def compose_semantic(masks: Sequence, class_indices: Sequence[int], height: int, width: int,
                     overlap: str = 'small_on_top', ignore_index: int = 255) -> np.ndarray:
    """The ``height x width`` uint8 semantic map of one image's object masks.

    ``masks`` are :class:`~samrs_mm.annotate.engine.backend.ObjectMask` objects (``rle``, ``area``,
    ``bbox``, ``score``), ``class_indices[i]`` the label of ``masks[i]``. Pixels no mask covers
    are ``ignore_index``; overlaps follow ``overlap`` (see :func:`paint_order`).
    """
    if len(masks) != len(class_indices):
        raise ValueError(f'{len(masks)} masks but {len(class_indices)} class indices')
    label = np.full((height, width), ignore_index, dtype=np.uint8)
    areas = [int(m.area) for m in masks]
    scores = [float(m.score) for m in masks]
    for i in paint_order(areas, scores, overlap):
        mask = masks[i]
        if mask.area == 0:
            continue
        cls = int(class_indices[i])
        if not 0 <= cls <= 255 or cls == ignore_index:
            raise ValueError(f'class index {cls} cannot be stored in a uint8 label with ignore index {ignore_index}')
        size = tuple(int(v) for v in mask.rle['size'])
        if size != (height, width):
            raise ValueError(f'mask of object {i} is {size[1]}x{size[0]}, the image {width}x{height}')
        # Only the mask's bounding box can hold pixels: paint that window, not the whole image.
        x, y, w, h = (int(round(v)) for v in mask.bbox)
        label[y:y + h, x:x + w][decode_window(mask.rle, x, y, w, h)] = cls
    return label


def label_palette(classes: Sequence[str]) -> List[List[int]]:
    """RGB colour per class index: the project's one palette (the SAMRS datasets use it too)."""
    from ...datasets.samrs import make_palette
    return make_palette(len(classes))


def encode_gray_png(label: np.ndarray) -> bytes:
    """PNG bytes of a 2-D uint8 array as an 8-bit gray image."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), mode='L').save(buf, format='PNG')
    return buf.getvalue()


def encode_palette_png(label: np.ndarray, palette: Sequence[Sequence[int]], ignore_color=(0, 0, 0)) -> bytes:
    """PNG bytes of a 2-D uint8 index array as a palette ('P' mode) image.

    Index ``k < len(palette)`` shows ``palette[k]``; 255 (unlabeled) shows ``ignore_color``.
    """
    from PIL import Image
    table = np.zeros((256, 3), dtype=np.uint8)
    if len(palette) > 255:
        raise ValueError(f'a palette PNG holds at most 255 classes, got {len(palette)}')
    if len(palette):
        table[:len(palette)] = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    table[255] = ignore_color
    img = Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), mode='P')
    img.putpalette(table.reshape(-1).tolist())
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return buf.getvalue()


def encode_geotiff(label: np.ndarray, georef: dict, ignore_index: int) -> Optional[bytes]:
    """GeoTIFF bytes of a label in the frame of ``georef``, or None without rasterio."""
    try:
        import rasterio
        from rasterio.io import MemoryFile
        from rasterio.transform import Affine
    except ImportError:
        return None
    profile = dict(driver='GTiff', width=int(label.shape[1]), height=int(label.shape[0]), count=1,
                   dtype='uint8', nodata=ignore_index, compress='deflate',
                   transform=Affine(*georef['transform']))
    if georef.get('crs'):
        profile['crs'] = rasterio.crs.CRS.from_wkt(georef['crs'])
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(label[None])
        return mem.read()



def encode_rgb_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``H x W x 3`` uint8 RGB image."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode='RGB').save(buf, format='PNG')
    return buf.getvalue()

