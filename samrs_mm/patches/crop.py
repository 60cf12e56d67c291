"""Cutting one image into patches with their objects (no I/O): :func:`crop_patches`.

For each ``rate`` the image is covered by windows (:mod:`.windows`): with
``rate_mode='resize'`` (the DOTA devkit's way) the image is rescaled by ``rate`` and cut into
``patch_size`` windows; with ``rate_mode='window'`` (mmrotate's ``img_split.py``) the image
keeps its scale and is cut into windows of ``int(patch_size / rate)`` every
``int(patch_size / rate) - int(gap / rate)`` pixels, and windows mostly outside the image are
dropped as mmrotate does (``img_rate_thr``). Every object touching a window is decided by its
polygon's overlap with it (shapely), with ``iof`` = intersection area / object area:

* inside the window: **kept** unchanged (shifted into the patch frame);
* ``iof >= iof_thr`` (default 0.7, the DOTA devkit's threshold): **clipped**: written by the
  ``cut_rule`` (:mod:`.cut`: by default the rectangle that best fits the visible part inside
  the patch); its hbox is the visible part's extent;
* ``0 < iof < iof_thr``: **dropped**, or with ``truncated='difficult'`` cut as above and
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
from .cut import CUT_RULES, cut_object
from .windows import WINDOW_RULES, keep_image_windows, patch_name, patch_windows

__all__ = ['PRESETS', 'RATE_MODES', 'PatchSettings', 'recorded_settings', 'Patch', 'crop_patches']

PRESETS: Dict[str, Dict[str, Any]] = {
    'dota-v2': dict(patch_size=1024, gap=200),
    'fair1m': dict(patch_size=600, gap=200),
    'dior': dict(patch_size=800, gap=0),
}

# How rates other than 1 make patches: the DOTA devkit's rescaled image, or mmrotate's
# larger / smaller windows on the image as it is.
RATE_MODES = ('resize', 'window')

# An object counts as inside a window when its hull exceeds the window by at most this.
_INSIDE_EPS = 1e-6

# Outcomes of an object in a window, ordered so that max() is the best one.
DROPPED, DIFFICULT, CLIPPED, KEPT = 0, 1, 2, 3


@dataclass
class PatchSettings:
    """How images are cut into patches (see the module docstring, :mod:`.windows` and :mod:`.cut`).

    ``pad_value`` is the fill of padded pixels in RGB order (the tool's ``--padding-value``
    takes mmrotate's order, B G R, and is turned into this). ``cut_rule``: how an object cut by
    a border is written (:data:`~.cut.CUT_RULES`). ``rate_mode``: how rates other than 1 make
    patches (:data:`RATE_MODES`); ``img_rate_thr`` is mmrotate's window filter, used with
    ``rate_mode='window'`` only.
    """

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
    cut_rule: str = 'fit'
    rate_mode: str = 'resize'
    img_rate_thr: float = 0.6

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
        if len(self.pad_value) != 3 or not all(0 <= v <= 255 for v in self.pad_value):
            raise ValueError(f'pad_value must be one value or three, each in 0..255, got {pad!r}')
        if self.img_ext not in ('.png', '.jpg', '.bmp', '.tif'):
            raise ValueError(f'img_ext must be .png, .jpg, .bmp or .tif, got {self.img_ext!r}')
        if self.window_rule not in WINDOW_RULES:
            raise ValueError(f'window_rule must be one of {", ".join(WINDOW_RULES)}, got {self.window_rule!r}')
        if self.cut_rule not in CUT_RULES:
            raise ValueError(f'cut_rule must be one of {", ".join(CUT_RULES)}, got {self.cut_rule!r}')
        if self.rate_mode not in RATE_MODES:
            raise ValueError(f'rate_mode must be one of {", ".join(RATE_MODES)}, got {self.rate_mode!r}')
        if not 0 <= self.img_rate_thr < 1:
            raise ValueError(f'img_rate_thr must be in [0, 1), got {self.img_rate_thr}')
        if len(set(self.rates)) != len(self.rates):
            raise ValueError(f'rates must differ from each other, got {list(self.rates)}')
        sizes = [size for _, _, size, _ in self.scales()]
        if self.rate_mode == 'window' and (len(set(sizes)) != len(sizes) or any(
                not 0 <= gap < size for _, _, size, gap in self.scales())):
            raise ValueError(f'with rate_mode window, rates {list(self.rates)} give windows (size, gap) '
                             f'{[(size, gap) for _, _, size, gap in self.scales()]}: each needs 0 <= gap < size '
                             'and a size of its own')

    def scales(self) -> List[Tuple[float, float, int, int]]:
        """Per rate: ``(rate, pixel scale, window size, gap)`` in the pixels of the scaled image.

        ``'resize'``: the image rescaled by ``rate``, ``patch_size`` windows. ``'window'``: the
        image as it is, windows of ``int(patch_size / rate)`` with gap ``int(gap / rate)`` (the
        integer parts, as mmrotate computes them).
        """
        if self.rate_mode == 'resize':
            return [(rate, rate, self.patch_size, self.gap) for rate in self.rates]
        return [(rate, 1.0, int(self.patch_size / rate), int(self.gap / rate)) for rate in self.rates]

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


# Settings added after folders were first cut, with what those folders were cut with.
_ADDED_LATER = dict(cut_rule='clip', rate_mode='resize', img_rate_thr=0.6)


def recorded_settings(recorded: Dict[str, Any]) -> Dict[str, Any]:
    """Settings read from a folder's records, completed with what versions before a setting
    existed did (a folder cut before ``cut_rule`` was clipped by ``'clip'``)."""
    return {**_ADDED_LATER, **recorded}


@dataclass
class Patch:
    """One cropped patch: its pixels, name, window and the objects in the patch frame."""

    name: str
    image: np.ndarray
    x: int
    y: int
    rate: float  # the scale of the pixels (1 under rate_mode='window', whose windows change size)
    valid_width: int
    valid_height: int
    instances: List[Instance] = field(default_factory=list)
    # Per instance: written with difficulty 2, the devkit's and mmrotate's mark of truncated
    # objects (kept only because truncated='difficult', or any cut object under cut_rule='original').
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
    size = x2 - x1
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
        quad, hbox = cut_object(shapes.points[k], clipped[j], window, settings.cut_rule)
        marked = heavy or settings.cut_rule == 'original'  # mmrotate marks every cut object 2
        patch.instances.append(_patch_instance(source, quad - offset, hbox - np.tile(offset, 2),
                                               source.difficult or marked,
                                               shapes.mask_in_window(k, x1, y1, size)))
        patch.truncated.append(bool(marked))


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
    layers = []  # (pixel scale, scaled image, object shapes, windows), one per rate
    scaled_images: Dict[float, Tuple[np.ndarray, _ObjectShapes]] = {}
    for _, scale, size, gap in settings.scales():
        if scale not in scaled_images:
            if scale == 1:
                scaled = image
            else:
                interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
                scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)
            scaled_images[scale] = scaled, _ObjectShapes(record, scale)
        scaled, shapes = scaled_images[scale]
        height, width = scaled.shape[:2]
        layers.append((scale, scaled, shapes, patch_windows(width, height, size, gap, settings.window_rule)))
    if settings.rate_mode == 'window':
        # mmrotate drops the windows of all rates together that hold too little image.
        kept = keep_image_windows([w for *_, w in layers], image.shape[1], image.shape[0], settings.img_rate_thr)
        layers = [(scale, scaled, shapes, windows[keep]) for (scale, scaled, shapes, windows), keep
                  in zip(layers, kept)]
    for scale, scaled, shapes, windows in layers:
        for window in windows:
            window = tuple(int(v) for v in window)
            size = window[2] - window[0]
            canvas, valid_width, valid_height = _window_canvas(scaled, window[0], window[1], size,
                                                               settings.pad_value)
            patch = Patch(name=patch_name(record.stem, window[0], window[1], size, scale), image=canvas,
                          x=window[0], y=window[1], rate=scale, valid_width=valid_width,
                          valid_height=valid_height)
            _fill_window(patch, shapes, best, window, settings)
            patches.append(patch)
    accounting = dict(objects=len(best), kept=int(np.sum(best == KEPT)), clipped=int(np.sum(best == CLIPPED)),
                      difficult=int(np.sum(best == DIFFICULT)), dropped=int(np.sum(best == DROPPED)))
    return patches, accounting
