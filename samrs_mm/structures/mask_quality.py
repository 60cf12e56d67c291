"""Per-object quality signals of a SAM mask: its stability and its agreement with the prompt.

Computed once per object at labelling time (stored in ``instances/<stem>.json`` objects and
the COCO annotations under the names of :data:`QUALITY_FIELDS`) and by the label QC stage
(:mod:`samrs_mm.qc`) for outputs written before they existed. docs/label_qc.md explains each
signal and the thresholds that turn them into flags.

* ``stability``: SAM's stability score (``calculate_stability_score`` of
  ``segment_anything/utils/amg.py``): the IoU of the mask thresholded at ``threshold + offset``
  and at ``threshold - offset`` of the logits, counted in integer pixels. The higher mask is
  inside the lower one, so the IoU is the ratio of their pixel counts. Where SAM divides
  0 by 0 (no logit above ``threshold - offset``: an empty mask) we return 0.0, not NaN: an
  empty mask is the least stable answer and NaN would escape every threshold comparison.
* ``outside_box``: fraction of the mask's pixels whose centre lies outside the prompt's
  horizontal box enlarged on each side by ``max(margin * side, min_margin)`` pixels;
* ``box_fill``: mask area over the area of the prompt's horizontal box;
* ``rbox_iou``: IoU of the minimum-area rotated rectangle around the mask's pixel squares with
  the prompt's rotated box (None without one);
* ``parts``: number of 8-connected components of the mask.

Everything works on the mask's bounding window, never on the whole image, and needs only
numpy and OpenCV (torch tensors are accepted by :func:`stability_score`, not imported).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .boxes import rbox_to_quad

__all__ = ['QUALITY_FIELDS', 'GEOMETRIC_FIELDS', 'BOX_MARGIN', 'MIN_BOX_MARGIN', 'stability_score',
           'prompt_agreement', 'mask_window', 'convex_polygon_iou']

QUALITY_FIELDS = ('stability', 'outside_box', 'box_fill', 'rbox_iou', 'parts')
GEOMETRIC_FIELDS = QUALITY_FIELDS[1:]   # what the mask and its prompt alone determine
BOX_MARGIN = 0.1       # the prompt box grows by 10% of its side on each side ...
MIN_BOX_MARGIN = 2.0   # ... and by at least 2 pixels (a box drawn a pixel tight is not a leak)


def stability_score(logits, mask_threshold: float = 0.0, offset: float = 1.0):
    """SAM's stability score of mask logits ``[..., H, W]`` -> ``[...]`` (torch or numpy).

    ``|logits > t + offset| / |logits > t - offset|`` with integer pixel counts, exactly as
    SAM's automatic mask generator defines it (``mask_threshold`` is the model's, 0.0;
    ``offset`` its ``stability_score_offset``, 1.0); float32 like SAM's. An empty lower mask
    gives 0.0 where SAM gives NaN (module docstring).
    """
    high = logits > (mask_threshold + offset)
    low = logits > (mask_threshold - offset)
    if isinstance(logits, np.ndarray):
        inter = high.sum(axis=(-1, -2), dtype=np.int64)
        union = low.sum(axis=(-1, -2), dtype=np.int64)
        return (inter.astype(np.float32) / np.maximum(union, 1).astype(np.float32)).astype(np.float32)
    inter = high.sum(dim=(-1, -2))  # torch: int64 counts
    union = low.sum(dim=(-1, -2))
    # int / int in torch is a float32 division of exactly representable counts (< 2**24), as SAM's.
    return inter / union.clamp(min=1)


def mask_window(mask: np.ndarray, offset: Sequence[float] = (0, 0)) -> Tuple[np.ndarray, int, int]:
    """The smallest window of ``mask`` holding all its pixels and that window's ``(x, y)`` in the image."""
    mask = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return mask[:0, :0], int(offset[0]), int(offset[1])
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return mask[y0:y1, x0:x1], int(offset[0]) + int(x0), int(offset[1]) + int(y0)


def _polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _counter_clockwise(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    signed = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return poly if signed >= 0 else poly[::-1]


def convex_polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two convex polygons ``[N, 2]`` (any orientation), by clipping one with the other."""
    a = _counter_clockwise(np.asarray(a, dtype=np.float64))
    b = _counter_clockwise(np.asarray(b, dtype=np.float64))
    area_a, area_b = _polygon_area(a), _polygon_area(b)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    clipped = list(a)
    for i in range(len(b)):  # Sutherland-Hodgman: keep the part of `clipped` left of each edge of b
        p, q = b[i], b[(i + 1) % len(b)]
        edge = q - p
        points, clipped = clipped, []
        if not points:
            break

        def side(v, p=p, edge=edge):
            return edge[0] * (v[1] - p[1]) - edge[1] * (v[0] - p[0])
        for j in range(len(points)):
            cur, nxt = points[j], points[(j + 1) % len(points)]
            s_cur, s_nxt = side(cur), side(nxt)
            if s_cur >= 0:
                clipped.append(cur)
            if (s_cur >= 0) != (s_nxt >= 0):
                t = s_cur / (s_cur - s_nxt)
                clipped.append(cur + t * (nxt - cur))
    inter = _polygon_area(np.asarray(clipped)) if len(clipped) >= 3 else 0.0
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def _mask_rect(window: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """Corners (4 x 2, image pixels) of the minimum-area rectangle around the window's pixel squares."""
    import cv2
    contours, _ = cv2.findContours(window.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    centres = np.concatenate([c.reshape(-1, 2) for c in contours], axis=0)
    # Each outline pixel as its 4 corners, so the rectangle covers whole pixels (a filled
    # axis-aligned box is its own rectangle).
    corners = (centres[:, None, :] + np.array([[0, 0], [1, 0], [0, 1], [1, 1]])).reshape(-1, 2)
    rect = cv2.minAreaRect(corners.astype(np.float32))
    return cv2.boxPoints(rect).astype(np.float64) + np.array([x0, y0], dtype=np.float64)


def prompt_agreement(mask: np.ndarray, hbox: Sequence[float], rbox: Optional[Sequence[float]] = None,
                     offset: Sequence[float] = (0, 0), margin: float = BOX_MARGIN,
                     min_margin: float = MIN_BOX_MARGIN) -> Dict[str, Optional[float]]:
    """The geometric signals of one mask against its prompt (module docstring).

    Args:
        mask: ``H x W`` boolean mask, the whole image or a window of it (then ``offset`` is
            the window's top-left ``(x, y)`` in the image); only its pixels' bounding window
            is examined, so pass a window for speed.
        hbox: the prompt's ``(x1, y1, x2, y2)`` in image pixels (pixel edges; a box under one
            pixel of area counts as one pixel in ``box_fill``).
        rbox: the prompt's rotated box ``(cx, cy, w, h, theta)`` (radians, le90), or None.
        margin, min_margin: the box enlargement for ``outside_box`` (each side grows by
            ``max(margin * side length, min_margin)`` pixels).

    Returns ``{'outside_box', 'box_fill', 'rbox_iou', 'parts'}`` (floats; ``parts`` an int;
    ``rbox_iou`` None without ``rbox``). An empty mask gives 0.0 / 0.0 / 0.0 (None) / 0.
    """
    window, x0, y0 = mask_window(mask, offset)
    area = int(np.count_nonzero(window))
    x1, y1, x2, y2 = (float(v) for v in hbox)
    box_area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    if area == 0:
        return dict(outside_box=0.0, box_fill=0.0, rbox_iou=None if rbox is None else 0.0, parts=0)
    pad_x = max(margin * (x2 - x1), min_margin)
    pad_y = max(margin * (y2 - y1), min_margin)
    # Pixel (c, r) is inside when its centre (c + 0.5, r + 0.5) is inside the enlarged box.
    c_lo = int(np.ceil(x1 - pad_x - 0.5)) - x0
    c_hi = int(np.floor(x2 + pad_x - 0.5)) - x0 + 1
    r_lo = int(np.ceil(y1 - pad_y - 0.5)) - y0
    r_hi = int(np.floor(y2 + pad_y - 0.5)) - y0 + 1
    h, w = window.shape
    c_lo, c_hi, r_lo, r_hi = max(c_lo, 0), min(c_hi, w), max(r_lo, 0), min(r_hi, h)
    inside = int(np.count_nonzero(window[r_lo:r_hi, c_lo:c_hi])) if c_lo < c_hi and r_lo < r_hi else 0
    import cv2
    parts = int(cv2.connectedComponents(window.astype(np.uint8), connectivity=8)[0]) - 1
    rbox_iou = None
    if rbox is not None:
        quad = rbox_to_quad(np.asarray(rbox, dtype=np.float64).reshape(5))
        rbox_iou = convex_polygon_iou(_mask_rect(window, x0, y0), quad)
    return dict(outside_box=(area - inside) / area, box_fill=area / max(box_area, 1.0),
                rbox_iou=rbox_iou, parts=parts)
