"""Crop large images into fixed-size, overlapping patches, with their objects.

What a patch gets (``SplitSettings``; ``tools/split_images.py`` is the command line):

* **Windows.** The image is first rescaled by each ``rate``; windows of ``patch_size`` start
  at 0 and advance by ``patch_size - gap`` until one reaches the right / bottom border.
  Windows that run past the border are **padded** (``pad_value``) to the full size, never
  shifted, so the name's offset is the true offset (P0706, 1111x1182, gives the four
  patches ``P0706__1024__{0,824}___{0,824}``). Presets: ``dota-v2`` = 1024 / gap 200
  (SOTA), ``fair1m`` = 600 / gap 200 (FAST; the paper gives the size only, the gap is ours),
  ``dior`` = 800 / gap 0 (DIOR images are 800x800 already: one patch each, as in SIOR).
* **Objects.** Each object's polygon (its quad, or its hbox corners) is intersected with
  the window (shapely). With ``iof`` = intersection area / object area:

  - inside the window: **kept** unchanged (shifted into the patch frame);
  - ``iof >= iof_thr`` (default **0.7**, the DOTA devkit's threshold): **clipped**: the
    polygon is cut at the patch border and its boxes recomputed (the clipped polygon when
    it still has 4 corners, else its minimum-area rectangle; the hbox is the clipped
    polygon's extent);
  - ``0 < iof < iof_thr``: heavily truncated: **dropped**, or with
    ``truncated='difficult'`` clipped as above and marked difficult (written as ``2``, the
    devkit's value for such objects).

  Per source object the summary says whether it was kept whole in at least one patch,
  only ever clipped, only marked difficult, or dropped everywhere, so every object is
  accounted for.
* **Output.** ``images/<name>.png`` and ``labelTxt/<name>.txt`` in DOTA format (SAMRS class
  names, the source's ``imagesource`` / ``gsd`` header with ``gsd / rate``), readable by
  the DOTA reader. Names: ``<stem>__<size>__<x>___<y>`` (rate 1) or
  ``<stem>__<rate>__<size>__<x>___<y>``; :func:`parse_patch_name` inverts it.
  Patches without objects are not written unless ``keep_empty``.
* **Resume.** Every file is written atomically (temporary file + rename), and each source
  image ends with a manifest ``split_manifest/<stem>.json`` (settings, patches with their
  valid, unpadded size, object accounting). A rerun skips images whose manifest has the
  same settings, and patches whose image and label already exist.

* **Ground-truth masks** (iSAID, HRSC, COCO records) are carried into the patches: each
  patch whose objects have masks gets ``masks/<name>.json`` (written before the label), the
  masks as COCO RLE in the padded patch frame, keyed by the label file's line numbers. The
  DOTA reader attaches them again (its ``mask_dir``, default ``masks/`` beside the labels),
  so the prompt ablation runs on patches. A mask is taken from its object's box (+1 pixel
  margin) and, for ``rate != 1``, resized with nearest-neighbour sampling.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import geometry as G
from .dota import dota_lines
from .errors import AnnotationError, ReadStats
from .masks import decode_crop, encode_crop
from .record import ImageRecord, Instance

PRESETS: Dict[str, Dict[str, Any]] = {
    'dota-v2': dict(patch_size=1024, gap=200),
    'fair1m': dict(patch_size=600, gap=200),
    'dior': dict(patch_size=800, gap=0),
}
MANIFEST_DIR = 'split_manifest'
MASK_DIR = 'masks'
MASK_FILE_VERSION = 1

# An object counts as inside a window when its hull exceeds the window by at most this.
_INSIDE_EPS = 1e-6


@dataclass
class SplitSettings:
    """How images are cut into patches (see the module docstring)."""

    patch_size: int = 1024
    gap: int = 200
    rates: Tuple[float, ...] = (1.0,)
    iof_thr: float = 0.7
    truncated: str = 'drop'
    pad_value: Tuple[int, int, int] = (0, 0, 0)
    keep_empty: bool = False
    img_ext: str = '.png'

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

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> 'SplitSettings':
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


def window_starts(length: int, patch_size: int, gap: int) -> List[int]:
    """Start offsets along one axis: 0, step, 2*step, ... until a window reaches ``length``."""
    step = patch_size - gap
    starts = [0]
    while starts[-1] + patch_size < length:
        starts.append(starts[-1] + step)
    return starts


def patch_windows(width: int, height: int, patch_size: int, gap: int) -> np.ndarray:
    """Windows ``[K, 4]`` = ``(x1, y1, x2, y2)`` covering a ``width`` x ``height`` image."""
    xs = window_starts(width, patch_size, gap)
    ys = window_starts(height, patch_size, gap)
    windows = [[x, y, x + patch_size, y + patch_size] for y in ys for x in xs]
    return np.array(windows, dtype=np.int64)


def format_rate(rate: float) -> str:
    """Compact text of a rate for patch names (``0.5``, ``2``)."""
    return f'{rate:g}'


def patch_name(stem: str, x: int, y: int, patch_size: int, rate: float = 1.0) -> str:
    """``P0706__1024__0___824`` (rate 1) or ``P0706__0.5__1024__0___824``."""
    rate_part = '' if rate == 1 else f'__{format_rate(rate)}'
    return f'{stem}{rate_part}__{patch_size}__{x}___{y}'


_PATCH_NAME = re.compile(r'^(?P<stem>.+?)(?:__(?P<rate>\d+(?:\.\d+)?(?:e[-+]?\d+)?))?'
                         r'__(?P<size>\d+)__(?P<x>\d+)___(?P<y>\d+)$')


def parse_patch_name(name: str) -> Dict[str, Any]:
    """Inverse of :func:`patch_name`: ``{'stem', 'rate', 'size', 'x', 'y'}``."""
    base = osp.splitext(osp.basename(name))[0] if osp.splitext(name)[1] in (
        '.png', '.jpg', '.bmp', '.tif', '.txt') else osp.basename(name)
    match = _PATCH_NAME.match(base)
    if match is None:
        raise ValueError(f'{name!r} is not a patch name (<stem>[__<rate>]__<size>__<x>___<y>)')
    return dict(stem=match['stem'], rate=float(match['rate']) if match['rate'] else 1.0,
                size=int(match['size']), x=int(match['x']), y=int(match['y']))


def _object_polygons(record: ImageRecord, rate: float) -> np.ndarray:
    """``[N, 4, 2]`` polygon of each instance (quad, else hbox corners), scaled by ``rate``."""
    quads = [inst.quad if inst.quad is not None else G.hbox_to_quad(inst.hbox)
             for inst in record.instances]
    if not quads:
        return np.zeros((0, 4, 2))
    return np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2) * rate


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


def _clipped_quad(geometry) -> Tuple[np.ndarray, np.ndarray]:
    """``(quad [4, 2], hbox [4])`` of a clipped shapely geometry.

    The clipped polygon itself when it has 4 corners, else its minimum-area rectangle; the
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
    return G.rbox_to_quad(G.points_to_rbox(ring)), hbox


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
    crop = decode_crop(instance.mask, bx0, by0, bx1 - bx0, by1 - by0)
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
        return encode_crop(np.zeros((0, 0), dtype=bool), 0, 0, size, size)
    sub = crop[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0]
    return encode_crop(sub, ix0 - x1, iy0 - y1, size, size)


def split_record(record: ImageRecord, image: np.ndarray,
                 settings: SplitSettings) -> Tuple[List[Patch], Dict[str, int]]:
    """Cut one image into patches (no I/O).

    Returns the patches (all windows, empty ones included) and the per-object accounting
    ``{'objects', 'kept', 'clipped', 'difficult', 'dropped'}`` (each source object counted
    once, by its best outcome over all windows and rates).
    """
    import cv2
    import shapely

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'split_record expects HxWx3 uint8 (load_image output), got '
                         f'{image.shape} {image.dtype}')
    n = len(record.instances)
    best = np.zeros(n, dtype=np.int64)  # 0 dropped, 1 marked difficult, 2 clipped, 3 kept
    patches: List[Patch] = []
    size = settings.patch_size
    for rate in settings.rates:
        if rate == 1:
            scaled = image
        else:
            interp = cv2.INTER_AREA if rate < 1 else cv2.INTER_LINEAR
            scaled = cv2.resize(image, None, fx=rate, fy=rate, interpolation=interp)
        height, width = scaled.shape[:2]
        polys_np = _object_polygons(record, rate)
        polys = shapely.polygons(polys_np) if n else np.array([])
        if n:
            # Self-intersecting quads (points in "bow-tie" order) have no proper area:
            # use their convex hull, which is the quad in a valid order.
            invalid = ~shapely.is_valid(polys)
            if invalid.any():
                polys[invalid] = shapely.convex_hull(polys[invalid])
        areas = shapely.area(polys) if n else np.zeros(0)
        hulls = G.quad_to_hbox(polys_np) if n else np.zeros((0, 4))
        # Instance -> its _mask_box at this rate, made when a window first needs it.
        mask_boxes: Dict[int, Any] = {}

        def patch_mask(k: int, x1: int, y1: int) -> Optional[dict]:
            if k not in mask_boxes:
                mask_boxes[k] = _mask_box(record.instances[k], rate)
            return _mask_in_patch(mask_boxes[k], x1, y1, size)

        for x1, y1, x2, y2 in patch_windows(width, height, size, settings.gap):
            x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
            crop = scaled[y1:min(y2, height), x1:min(x2, width)]
            canvas = np.empty((size, size, 3), dtype=np.uint8)
            canvas[...] = np.asarray(settings.pad_value, dtype=np.uint8)
            canvas[:crop.shape[0], :crop.shape[1]] = crop
            patch = Patch(name=patch_name(record.stem, x1, y1, size, rate), image=canvas, x=x1,
                          y=y1, rate=rate, valid_width=crop.shape[1], valid_height=crop.shape[0])
            touching = np.flatnonzero((hulls[:, 0] < x2) & (hulls[:, 2] > x1) &
                                      (hulls[:, 1] < y2) & (hulls[:, 3] > y1))
            if len(touching):
                window = shapely.box(x1, y1, x2, y2)
                inside = ((hulls[touching, 0] >= x1 - _INSIDE_EPS) &
                          (hulls[touching, 1] >= y1 - _INSIDE_EPS) &
                          (hulls[touching, 2] <= x2 + _INSIDE_EPS) &
                          (hulls[touching, 3] <= y2 + _INSIDE_EPS))
                clipped = shapely.intersection(polys[touching], window)
                iof = np.where(areas[touching] > 0,
                               shapely.area(clipped) / np.maximum(areas[touching], 1e-12), 0)
                offset = np.array([x1, y1], dtype=np.float64)
                for j, k in enumerate(touching):
                    source = record.instances[k]
                    if inside[j]:
                        best[k] = max(best[k], 3)
                        quad = polys_np[k] - offset
                        # hbox-only sources stay without a rotated box (quad = hbox corners,
                        # needed for the DOTA label line).
                        patch.instances.append(Instance(
                            class_name=source.class_name, class_index=source.class_index,
                            hbox=G.quad_to_hbox(quad), quad=quad, difficult=source.difficult,
                            origin=source.origin, mask=patch_mask(k, x1, y1),
                            rbox=None if source.quad is None else G.quad_to_rbox(quad)))
                        patch.truncated.append(False)
                        continue
                    if iof[j] <= 0 or clipped[j].is_empty:
                        continue
                    heavy = iof[j] < settings.iof_thr
                    if heavy and settings.truncated == 'drop':
                        continue
                    best[k] = max(best[k], 1 if heavy else 2)
                    quad, hbox = _clipped_quad(clipped[j])
                    quad, hbox = quad - offset, hbox - np.tile(offset, 2)
                    patch.instances.append(Instance(
                        class_name=source.class_name, class_index=source.class_index, hbox=hbox,
                        quad=quad, difficult=source.difficult or heavy, origin=source.origin,
                        mask=patch_mask(k, x1, y1),
                        rbox=None if source.quad is None else G.quad_to_rbox(quad)))
                    patch.truncated.append(bool(heavy))
            patches.append(patch)
    accounting = dict(objects=n, kept=int(np.sum(best == 3)), clipped=int(np.sum(best == 2)),
                      difficult=int(np.sum(best == 1)), dropped=int(np.sum(best == 0)))
    return patches, accounting


# ---- writing patches ---------------------------------------------------------------------
def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no half-written files)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def patch_label_lines(patch: Patch, classes: Sequence[str],
                      header: Optional[Dict[str, Any]] = None) -> List[str]:
    """DOTA label lines of a patch, with SAMRS class names (whitespace-free by construction)."""
    names = [classes[inst.class_index] if 0 <= inst.class_index < len(classes)
             else inst.class_name.replace(' ', '-') for inst in patch.instances]
    difficult = [2 if trunc else int(inst.difficult)
                 for inst, trunc in zip(patch.instances, patch.truncated)]
    return dota_lines([inst.quad for inst in patch.instances], names, difficult, header)


def patch_mask_file(patch: Patch, n_lines: int) -> dict:
    """The ``masks/<name>.json`` content of a patch whose label file has ``n_lines`` lines.

    Object lines follow the header lines, so object ``i`` is on line
    ``n_lines - len(instances) + i + 1``; objects without a mask are left out.
    """
    first_line = n_lines - len(patch.instances) + 1
    masks = [dict(line=first_line + i, mask=inst.mask) for i, inst in enumerate(patch.instances)
             if inst.mask is not None]
    return dict(version=MASK_FILE_VERSION, label=patch.name + '.txt', masks=masks)


def _encode_image(image: np.ndarray, ext: str) -> bytes:
    import cv2
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OSError(f'OpenCV could not encode a {ext} image')
    return buf.tobytes()


def _label_header(record: ImageRecord, rate: float) -> Dict[str, Any]:
    header: Dict[str, Any] = {}
    if 'imagesource' in record.meta:
        header['imagesource'] = record.meta['imagesource']
    if 'gsd' in record.meta:
        gsd = record.meta['gsd']
        header['gsd'] = None if gsd is None else float(gsd) / rate
    return header


def split_image(record: ImageRecord, image: np.ndarray, out_dir: str, classes: Sequence[str],
                settings: SplitSettings) -> Dict[str, Any]:
    """Split one image and write its patches, labels and manifest under ``out_dir``.

    Patches whose image and label already exist are not rewritten (resume after a kill).
    Returns the manifest dict.
    """
    img_out, label_out = osp.join(out_dir, 'images'), osp.join(out_dir, 'labelTxt')
    manifest_dir, mask_out = osp.join(out_dir, MANIFEST_DIR), osp.join(out_dir, MASK_DIR)
    for folder in (img_out, label_out, manifest_dir):
        os.makedirs(folder, exist_ok=True)
    patches, accounting = split_record(record, image, settings)
    if any(inst.mask is not None for inst in record.instances):
        os.makedirs(mask_out, exist_ok=True)
    entries, written, existing, empty = [], 0, 0, 0
    for patch in patches:
        if not patch.instances and not settings.keep_empty:
            empty += 1
            continue
        img_path = osp.join(img_out, patch.name + settings.img_ext)
        label_path = osp.join(label_out, patch.name + '.txt')
        if osp.isfile(img_path) and osp.isfile(label_path):
            existing += 1
        else:
            lines = patch_label_lines(patch, classes, _label_header(record, patch.rate))
            atomic_write(img_path, _encode_image(patch.image, settings.img_ext))
            if any(inst.mask is not None for inst in patch.instances):
                atomic_write(osp.join(mask_out, patch.name + '.json'),
                             json.dumps(patch_mask_file(patch, len(lines))).encode('utf-8'))
            # The label goes last: a patch counts as done only when its label exists.
            atomic_write(label_path, ('\n'.join(lines) + '\n').encode('utf-8'))
            written += 1
        entries.append(dict(name=patch.name, x=patch.x, y=patch.y, rate=patch.rate,
                            valid_width=patch.valid_width, valid_height=patch.valid_height,
                            objects=len(patch.instances)))
    manifest = dict(settings=settings.as_dict(), image=record.image_path, ann=record.ann_path,
                    width=record.width, height=record.height, patches=entries,
                    accounting=accounting, written=written, existing=existing, empty=empty)
    atomic_write(osp.join(manifest_dir, record.stem + '.json'),
                 json.dumps(manifest, indent=1).encode('utf-8'))
    return manifest


def _finished_manifest(out_dir: str, stem: str, settings: SplitSettings) -> Optional[dict]:
    """The manifest of an image finished earlier with the same settings, else None."""
    path = osp.join(out_dir, MANIFEST_DIR, stem + '.json')
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if manifest.get('settings') == settings.as_dict() else None


# ---- running over a dataset ----------------------------------------------------------------
_WORKER: Dict[str, Any] = {}


def _init_worker(source, out_dir: str, settings: SplitSettings, resume: bool) -> None:
    # Do not touch OpenCV's thread settings here: cv2.setNumThreads() in a forked child
    # joins the parent's (absent) pool threads and hangs.
    _WORKER.update(source=source, out_dir=out_dir, settings=settings, resume=resume)


def _split_one(index: int) -> Dict[str, Any]:
    """Split image ``index`` of the worker's source; never raises (failures are reported)."""
    from .image_io import load_image
    source, out_dir = _WORKER['source'], _WORKER['out_dir']
    settings, resume = _WORKER['settings'], _WORKER['resume']
    result: Dict[str, Any] = dict(index=index, status='failed', stats=None)
    try:
        record, stats = source.read_with_stats(index)
        result['stats'] = stats
        result['stem'] = record.stem
        if 'skip_reason' in record.meta:
            result.update(status='skipped', error=record.meta.get('error', ''))
            return result
        if resume:
            manifest = _finished_manifest(out_dir, record.stem, settings)
            if manifest is not None:
                result.update(status='resumed', manifest=manifest)
                return result
        image = load_image(record)
        manifest = split_image(record, image, out_dir, source.classes, settings)
        result.update(status='done', manifest=manifest)
    except AnnotationError as exc:
        result.update(error=str(exc))
    except Exception as exc:  # a bug or an I/O failure: report it, keep the other images going
        result.update(error=f'{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}')
    return result


@dataclass
class SplitSummary:
    """Totals of a split run; ``failures`` lists ``(index, message)`` of images not split."""

    images: int = 0
    status: Counter = field(default_factory=Counter)
    patches_written: int = 0
    patches_existing: int = 0
    patches_empty: int = 0
    objects: Counter = field(default_factory=Counter)
    failures: List[Tuple[int, str]] = field(default_factory=list)
    skipped: List[Tuple[int, str]] = field(default_factory=list)
    read_stats: ReadStats = field(default_factory=ReadStats)

    @property
    def ok(self) -> bool:
        """True when every image was split (done or resumed) or skipped by lenient mode."""
        return not self.failures

    def add(self, result: Dict[str, Any]) -> None:
        """Fold one image's result into the totals."""
        self.images += 1
        self.status[result['status']] += 1
        if result.get('stats') is not None:
            self.read_stats.merge(result['stats'])
        if result['status'] == 'failed':
            self.failures.append((result['index'], result.get('error', '')))
        elif result['status'] == 'skipped':
            self.skipped.append((result['index'], result.get('error', '')))
        manifest = result.get('manifest')
        if manifest is None:
            return
        self.objects.update(manifest['accounting'])
        if result['status'] == 'done':
            self.patches_written += manifest['written']
            self.patches_existing += manifest['existing']
        else:
            self.patches_existing += len(manifest['patches'])
        self.patches_empty += manifest['empty']

    def as_dict(self) -> dict:
        """Plain-dict form, written to ``split_summary.json``."""
        return dict(images=self.images, status=dict(self.status),
                    patches_written=self.patches_written,
                    patches_existing=self.patches_existing, patches_empty=self.patches_empty,
                    objects=dict(self.objects), failures=self.failures, skipped=self.skipped,
                    read_stats=self.read_stats.as_dict())

    def report(self) -> str:
        """Human-readable summary printed at the end of a run."""
        obj = self.objects
        status = ', '.join(f'{k} {v}' for k, v in sorted(self.status.items()))
        lines = [
            f'images: {self.images} ({status})',
            f'patches: {self.patches_written} written, {self.patches_existing} already there, '
            f'{self.patches_empty} empty (not written)',
            f'objects: {obj.get("objects", 0)} = {obj.get("kept", 0)} kept whole + '
            f'{obj.get("clipped", 0)} only clipped + {obj.get("difficult", 0)} only as '
            f'truncated-difficult + {obj.get("dropped", 0)} dropped (iof below threshold)',
        ]
        if self.read_stats.num_skipped or self.read_stats.unknown_classes:
            lines.append(self.read_stats.summary())
        for index, message in self.skipped[:10]:
            lines.append(f'SKIPPED image #{index}: {message}')
        for index, message in self.failures[:20]:
            lines.append(f'FAILED image #{index}: {message}')
        if len(self.failures) > 20:
            lines.append(f'... and {len(self.failures) - 20} more failures '
                         '(see split_summary.json)')
        return '\n'.join(lines)


def split_dataset(source, out_dir: str, settings: Optional[SplitSettings] = None,
                  nproc: int = 1, resume: bool = True, progress: bool = True,
                  indices: Optional[Sequence[int]] = None) -> SplitSummary:
    """Split every image of ``source`` (a reader) into ``out_dir``; return the summary.

    Runs ``nproc`` worker processes with a progress bar. Bad images do not stop the run:
    they are listed in ``summary.failures`` (check ``summary.ok``). With ``resume`` images
    finished earlier with the same settings are skipped. ``split_summary.json`` is written
    to ``out_dir``.
    """
    from tqdm import tqdm
    settings = settings or SplitSettings()
    os.makedirs(out_dir, exist_ok=True)
    todo = list(range(len(source))) if indices is None else list(indices)
    summary = SplitSummary(read_stats=ReadStats(getattr(source, 'name', '')))
    if nproc <= 1:
        _init_worker(source, out_dir, settings, resume)
        results = map(_split_one, todo)
        pool = None
    else:
        import multiprocessing as mp
        pool = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn').Pool(
            nproc, initializer=_init_worker, initargs=(source, out_dir, settings, resume))
        results = pool.imap_unordered(_split_one, todo, chunksize=1)
    # The bar (and its monitor thread) comes after the fork, so no child inherits its locks.
    bar = tqdm(total=len(todo), desc='split', unit='img', disable=not progress, dynamic_ncols=True)
    try:
        for result in results:
            summary.add(result)
            bar.update(1)
            bar.set_postfix(patches=summary.patches_written, failed=len(summary.failures))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    summary.failures.sort()
    summary.skipped.sort()
    atomic_write(osp.join(out_dir, 'split_summary.json'),
                 json.dumps(summary.as_dict(), indent=1, default=str).encode('utf-8'))
    return summary
