"""Cutting one image into patches with their objects (no I/O): :func:`crop_patches`.

For each ``rate`` the image is rescaled, covered by windows (:mod:`.windows`), and every
object touching a window is decided by its polygon's overlap with it (shapely), with
``iof`` = intersection area / object area:

* inside the window: **kept** unchanged (shifted into the patch frame);
* ``iof >= iof_thr`` (default 0.7, the DOTA devkit's threshold): **clipped**: the polygon
  is cut at the patch border and its boxes recomputed (the clipped polygon when it still has
  4 corners, else its minimum-area rectangle; the hbox is the clipped polygon's extent);
* ``0 < iof < iof_thr``: **dropped**, or with ``truncated='difficult'`` clipped as above and
  marked difficult.

Each source object is accounted for once, by its best outcome over all windows and rates.
Ground-truth masks (iSAID, HRSC, COCO records) travel into the patches: only the object's box
is decoded from its RLE, resized with the image for ``rate != 1``, and cut per window.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..structures import boxes as G
from ..structures.record import ImageRecord, Instance
from ..structures.rle import decode_window, encode_window
from .windows import WINDOW_RULES, patch_name, patch_windows

__all__ = ['PRESETS', 'PatchSettings', 'Patch', 'crop_patches']

PRESETS: Dict[str, Dict[str, Any]] = {
    'dota-v2': dict(patch_size=1024, gap=200),
    'fair1m': dict(patch_size=600, gap=200),
    'dior': dict(patch_size=800, gap=0),
}

# An object counts as inside a window when its hull exceeds the window by at most this.
_INSIDE_EPS = 1e-6

# Outcomes of an object in a window, ordered so that max() is the best one.
DROPPED, DIFFICULT, CLIPPED, KEPT = 0, 1, 2, 3


@dataclass
class PatchSettings:
    """How images are cut into patches (see the module docstring and :mod:`.windows`)."""

    patch_size: int = 1024
    gap: int = 200
    rates: Tuple[float, ...] = (1.0,)
    iof_thr: float = 0.7
    truncated: str = 'drop'
    pad_value: Tuple[int, int, int] = (0, 0, 0)
    keep_empty: bool = False
    img_ext: str = '.png'
    window_rule: str = 'shift'
    label_header: bool = False

    def __post_init__(self):
        self.rates = tuple(float(r) for r in (self.rates if isinstance(self.rates, (list, tuple))
                                              else [self.rates]))
        pad = self.pad_value
        values = pad if isinstance(pad, (list, tuple)) else [pad] * 3
        self.pad_value = tuple(int(v) for v in values)
        if self.patch_size <= 0:
            raise ValueError(f'patch_size must be > 0, got {self.patch_size}')
        if not 0 <= self.gap < self.patch_size:
            raise ValueError(f'gap must be in [0, patch_size), got {self.gap}')
        if not self.rates or any(r <= 0 for r in self.rates):
            raise ValueError(f'rates must be positive, got {self.rates}')
        if not 0 < self.iof_thr <= 1:
            raise ValueError(f'iof_thr must be in (0, 1], got {self.iof_thr}')
        if self.truncated not in ('drop', 'difficult'):
            raise ValueError(f"truncated must be 'drop' or 'difficult', got {self.truncated!r}")
        if len(self.pad_value) != 3:
            raise ValueError(f'pad_value must be one value or three, got {pad!r}')
        if self.img_ext not in ('.png', '.jpg', '.bmp', '.tif'):
            raise ValueError(f'img_ext must be .png, .jpg, .bmp or .tif, got {self.img_ext!r}')
        if self.window_rule not in WINDOW_RULES:
            raise ValueError(f'window_rule must be one of {", ".join(WINDOW_RULES)}, got {self.window_rule!r}')

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> 'PatchSettings':
        """Settings of a named preset (``'dota-v2'``, ``'fair1m'``, ``'dior'``) plus overrides."""
        if preset not in PRESETS:
            raise KeyError(f'unknown split preset {preset!r}; use one of {sorted(PRESETS)}')
        return cls(**{**PRESETS[preset], **overrides})

    def as_dict(self) -> dict:
        """Plain-dict form (stored in manifests, compared on resume)."""
        data = asdict(self)
        data['rates'] = list(self.rates)
        data['pad_value'] = list(self.pad_value)
        return data


@dataclass
class Patch:
    """One cropped patch: its pixels, name, window and the objects in the patch frame."""

    name: str
    image: np.ndarray
    x: int
    y: int
    rate: float
    valid_width: int
    valid_height: int
    instances: List[Instance] = field(default_factory=list)
    # Per instance: kept only because truncated='difficult' (written with difficult = 2).
    truncated: List[bool] = field(default_factory=list)


class _ObjectShapes:
    """The record's objects at one rate: polygons (quad, else hbox corners), shapely
    polygons (bow-tie quads replaced by their hull), areas, hulls, and their masks' boxes
    (decoded when a window first needs them)."""

    def __init__(self, record: ImageRecord, rate: float) -> None:
        import shapely
        self.record, self.rate = record, rate
        quads = [inst.quad if inst.quad is not None else G.hbox_to_quad(inst.hbox)
                 for inst in record.instances]
        self.points = (np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2) * rate if quads
                       else np.zeros((0, 4, 2)))
        n = len(quads)
        self.polygons = shapely.polygons(self.points) if n else np.array([])
        if n:
            # Self-intersecting quads (points in "bow-tie" order) have no proper area:
            # use their convex hull, which is the quad in a valid order.
            invalid = ~shapely.is_valid(self.polygons)
            if invalid.any():
                self.polygons[invalid] = shapely.convex_hull(self.polygons[invalid])
        self.areas = shapely.area(self.polygons) if n else np.zeros(0)
        self.hulls = G.quad_to_hbox(self.points) if n else np.zeros((0, 4))
        self._mask_boxes: Dict[int, Any] = {}

    def mask_in_window(self, k: int, x1: int, y1: int, size: int) -> Optional[dict]:
        """Object ``k``'s mask inside the window at (x1, y1), as a ``size`` x ``size`` RLE."""
        if k not in self._mask_boxes:
            self._mask_boxes[k] = _mask_box(self.record.instances[k], self.rate)
        return _mask_in_patch(self._mask_boxes[k], x1, y1, size)


def _clean_ring(coords: np.ndarray) -> np.ndarray:
    """Polygon ring without the closing point, duplicates and collinear vertices."""
    pts = np.asarray(coords, dtype=np.float64)[:-1]
    changed = True
    while changed and len(pts) > 3:
        changed = False
        prev, nxt = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
        cross = (pts[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1]) - \
            (pts[:, 1] - prev[:, 1]) * (nxt[:, 0] - prev[:, 0])
        scale = np.maximum(np.abs(nxt - prev).sum(1), 1.0)
        flat = np.abs(cross) <= 1e-9 * scale * scale
        if flat.any():
            pts = pts[~flat]
            changed = True
    return pts


def _clipped_quad(geometry, window) -> Tuple[np.ndarray, np.ndarray]:
    """``(quad [4, 2], hbox [4])`` of a clipped shapely geometry, both inside ``window``.

    The clipped polygon itself when it has 4 corners; else the smallest rectangle around it
    that stays inside the window (among the rectangles with a side on a hull edge, and the
    axis-aligned one, which always fits), so a written object never leaves its patch. The
    hbox is always the clipped geometry's extent.
    """
    import shapely
    hbox = np.asarray(shapely.bounds(geometry), dtype=np.float64)
    if geometry.geom_type != 'Polygon':
        geometry = shapely.convex_hull(geometry)
    ring = _clean_ring(np.asarray(geometry.exterior.coords))
    if len(ring) == 4:
        x, y = ring[:, 0], ring[:, 1]
        if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:
            ring = ring[::-1]  # clockwise on screen, like DOTA labels
        start = int(np.argmin(ring.sum(1)))  # the top-left-most corner first
        return np.roll(ring, -start, axis=0), hbox
    candidates = np.concatenate([G.enclosing_rboxes(ring), G.hbox_to_rbox(hbox)[None]])
    quads = G.rbox_to_quad(candidates)
    x1, y1, x2, y2 = window
    inside = ((quads[..., 0] >= x1 - _INSIDE_EPS) & (quads[..., 0] <= x2 + _INSIDE_EPS) &
              (quads[..., 1] >= y1 - _INSIDE_EPS) & (quads[..., 1] <= y2 + _INSIDE_EPS)).all(axis=1)
    areas = np.where(inside, candidates[:, 2] * candidates[:, 3], np.inf)
    quad = quads[int(np.argmin(areas))]
    # Rounding may leave a corner a hair outside: put it on the border.
    return np.stack([np.clip(quad[:, 0], x1, x2), np.clip(quad[:, 1], y1, y2)], axis=1), hbox


def _mask_box(instance: Instance, rate: float) -> Optional[Tuple[np.ndarray, int, int]]:
    """The instance's mask around its box at ``rate``: ``(bool crop, x0, y0)``, or None.

    Only the box (+1 pixel against rounding) is decoded, so full-size iSAID masks cost what
    the object costs.
    """
    if instance.mask is None:
        return None
    import cv2
    mask_h, mask_w = (int(v) for v in instance.mask['size'])
    x1, y1, x2, y2 = np.asarray(instance.hbox, dtype=np.float64)
    bx0, by0 = max(int(np.floor(x1)) - 1, 0), max(int(np.floor(y1)) - 1, 0)
    bx1, by1 = min(int(np.ceil(x2)) + 1, mask_w), min(int(np.ceil(y2)) + 1, mask_h)
    if bx1 <= bx0 or by1 <= by0:
        return np.zeros((0, 0), dtype=bool), 0, 0
    crop = decode_window(instance.mask, bx0, by0, bx1 - bx0, by1 - by0)
    if rate != 1:
        sx0, sy0 = int(round(bx0 * rate)), int(round(by0 * rate))
        sx1, sy1 = max(int(round(bx1 * rate)), sx0 + 1), max(int(round(by1 * rate)), sy0 + 1)
        crop = cv2.resize(crop.astype(np.uint8), (sx1 - sx0, sy1 - sy0),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        bx0, by0 = sx0, sy0
    return crop, bx0, by0


def _mask_in_patch(mask_box: Optional[Tuple[np.ndarray, int, int]], x1: int, y1: int,
                   size: int) -> Optional[dict]:
    """COCO RLE (``size`` x ``size``) of the part of ``mask_box`` inside the window at (x1, y1)."""
    if mask_box is None:
        return None
    crop, bx0, by0 = mask_box
    ix0, iy0 = max(bx0, x1), max(by0, y1)
    ix1, iy1 = min(bx0 + crop.shape[1], x1 + size), min(by0 + crop.shape[0], y1 + size)
    if ix1 <= ix0 or iy1 <= iy0:
        return encode_window(np.zeros((0, 0), dtype=bool), 0, 0, size, size)[0]
    sub = crop[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0]
    return encode_window(sub, iy0 - y1, ix0 - x1, size, size)[0]


def _window_canvas(scaled: np.ndarray, x1: int, y1: int, size: int, pad_value) -> Tuple[np.ndarray, int, int]:
    """The window's pixels on a ``size`` x ``size`` canvas padded with ``pad_value``, and the
    valid (unpadded) width and height."""
    height, width = scaled.shape[:2]
    crop = scaled[y1:min(y1 + size, height), x1:min(x1 + size, width)]
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[...] = np.asarray(pad_value, dtype=np.uint8)
    canvas[:crop.shape[0], :crop.shape[1]] = crop
    return canvas, crop.shape[1], crop.shape[0]


def _patch_instance(source: Instance, quad: np.ndarray, hbox: np.ndarray, difficult: bool,
                    mask: Optional[dict]) -> Instance:
    """An object in the patch frame; objects of hbox-only sources stay without a rotated box
    (their quad, the hbox corners, is what the DOTA label line needs)."""
    rbox = None if source.quad is None else G.complete_boxes(hbox=hbox, quad=quad).rbox
    return Instance(class_name=source.class_name, class_index=source.class_index, hbox=hbox,
                    quad=quad, difficult=difficult, origin=source.origin, mask=mask, rbox=rbox)


def _fill_window(patch: Patch, shapes: _ObjectShapes, best: np.ndarray, window, settings: PatchSettings) -> None:
    """Decide every object touching ``window`` (kept / clipped / marked / dropped, see the
    module docstring), add the patch-frame objects to ``patch`` and raise ``best``."""
    import shapely
    x1, y1, x2, y2 = window
    hulls = shapes.hulls
    touching = np.flatnonzero((hulls[:, 0] < x2) & (hulls[:, 2] > x1) &
                              (hulls[:, 1] < y2) & (hulls[:, 3] > y1))
    if not len(touching):
        return
    inside = ((hulls[touching, 0] >= x1 - _INSIDE_EPS) & (hulls[touching, 1] >= y1 - _INSIDE_EPS) &
              (hulls[touching, 2] <= x2 + _INSIDE_EPS) & (hulls[touching, 3] <= y2 + _INSIDE_EPS))
    clipped = shapely.intersection(shapes.polygons[touching], shapely.box(x1, y1, x2, y2))
    areas = shapes.areas[touching]
    iof = np.where(areas > 0, shapely.area(clipped) / np.maximum(areas, 1e-12), 0)
    offset = np.array([x1, y1], dtype=np.float64)
    size = settings.patch_size
    for j, k in enumerate(touching):
        source = shapes.record.instances[k]
        if inside[j]:
            best[k] = max(best[k], KEPT)
            quad = shapes.points[k] - offset
            patch.instances.append(_patch_instance(source, quad, G.quad_to_hbox(quad), source.difficult,
                                                   shapes.mask_in_window(k, x1, y1, size)))
            patch.truncated.append(False)
            continue
        if iof[j] <= 0 or clipped[j].is_empty:
            continue
        heavy = iof[j] < settings.iof_thr
        if heavy and settings.truncated == 'drop':
            continue
        best[k] = max(best[k], DIFFICULT if heavy else CLIPPED)
        quad, hbox = _clipped_quad(clipped[j], window)
        patch.instances.append(_patch_instance(source, quad - offset, hbox - np.tile(offset, 2),
                                               source.difficult or heavy,
                                               shapes.mask_in_window(k, x1, y1, size)))
        patch.truncated.append(bool(heavy))


def crop_patches(record: ImageRecord, image: np.ndarray,
                 settings: PatchSettings) -> Tuple[List[Patch], Dict[str, int]]:
    """Cut one image into patches (no I/O).

    Returns the patches (all windows, empty ones included) and the per-object accounting
    ``{'objects', 'kept', 'clipped', 'difficult', 'dropped'}`` (each source object counted
    once, by its best outcome over all windows and rates).
    """
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'crop_patches expects HxWx3 uint8 (load_image output), got '
                         f'{image.shape} {image.dtype}')
    best = np.full(len(record.instances), DROPPED, dtype=np.int64)
    patches: List[Patch] = []
    size = settings.patch_size
    for rate in settings.rates:
        if rate == 1:
            scaled = image
        else:
            interp = cv2.INTER_AREA if rate < 1 else cv2.INTER_LINEAR
            scaled = cv2.resize(image, None, fx=rate, fy=rate, interpolation=interp)
        shapes = _ObjectShapes(record, rate)
        height, width = scaled.shape[:2]
        for window in patch_windows(width, height, size, settings.gap, settings.window_rule):
            window = tuple(int(v) for v in window)
            canvas, valid_width, valid_height = _window_canvas(scaled, window[0], window[1], size,
                                                               settings.pad_value)
            patch = Patch(name=patch_name(record.stem, window[0], window[1], size, rate), image=canvas,
                          x=window[0], y=window[1], rate=rate, valid_width=valid_width,
                          valid_height=valid_height)
            _fill_window(patch, shapes, best, window, settings)
            patches.append(patch)
    accounting = dict(objects=len(best), kept=int(np.sum(best == KEPT)), clipped=int(np.sum(best == CLIPPED)),
                      difficult=int(np.sum(best == DIFFICULT)), dropped=int(np.sum(best == DROPPED)))
    return patches, accounting
