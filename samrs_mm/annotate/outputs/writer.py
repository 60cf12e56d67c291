"""Write one image's label files atomically, and read its instance file back.

Every file is written atomically (a temporary file in ``<work_dir>/.tmp`` then
``os.replace``), and ``instances/<stem>.json`` is written last: its presence with the run's
settings fingerprint marks the image as finished, so a run killed at any moment resumes
without leaving half-written files behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ...fileio import atomic_write, temp_path
from ...structures.mask_quality import GEOMETRIC_FIELDS, prompt_agreement
from ...structures.rle import decode_window, text_rle
from .semantic import (
    OVERLAP_RULES,
    compose_semantic,
    encode_geotiff,
    encode_gray_png,
    encode_palette_png,
    encode_rgb_png,
    label_palette,
)
from .vector import encode_geojson, vector_problem

__all__ = ['COPY_MODES', 'INSTANCES_FORMAT_VERSION', 'TMP_DIR_NAME', 'AtomicFiles', 'ImageResult', 'LabelWriter',
           'quality_signals', 'read_instances']

COPY_MODES = (None, 'copy', 'link', 'symlink', 'png')
# 2: every object carries the quality signals of structures.mask_quality.QUALITY_FIELDS.
INSTANCES_FORMAT_VERSION = 2
TMP_DIR_NAME = '.tmp'


class AtomicFiles:
    """Atomic writes (:mod:`samrs_mm.fileio`) whose temporary files live under ``tmp_dir``,
    one folder per process inside the work dir, so a killed run's leftovers are found and
    removed in one place."""

    def __init__(self, tmp_dir: str) -> None:
        self.tmp_dir = tmp_dir

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path``; readers see the old file or the complete new one."""
        atomic_write(path, data, self.tmp_dir)

    def write_json(self, path: str, obj: Any, indent: Optional[int] = None) -> None:
        """Write ``obj`` as deterministic json (compact unless ``indent``)."""
        seps = (',', ':') if indent is None else (',', ': ')
        text = json.dumps(obj, separators=seps, indent=indent, ensure_ascii=False)
        self.write_bytes(path, (text + '\n').encode('utf-8'))

    def place_file(self, src: str, path: str, mode: str) -> None:
        """Put a copy (``'copy'``), hard link (``'link'``, copy across devices) or symlink of ``src`` at ``path``."""
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        tmp = temp_path(path, self.tmp_dir)
        try:
            if mode == 'symlink':
                os.symlink(osp.abspath(src), tmp)
            elif mode == 'link':
                try:
                    os.link(src, tmp)
                except OSError:  # other device or no hard links: a copy has the same bytes
                    shutil.copyfile(src, tmp)
            else:
                shutil.copyfile(src, tmp)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            if exc.filename2 in (tmp, None) and exc.filename in (tmp, src):
                exc.filename, exc.filename2 = path, None  # name the file being written
            raise


@dataclass
class ImageResult:
    """What was written for one image."""

    stem: str
    objects: int = 0
    empty_masks: int = 0
    class_counts: Dict[str, int] = field(default_factory=dict)


def _floats(values) -> Optional[List[float]]:
    if values is None:
        return None
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def quality_signals(mask, inst) -> Dict[str, Any]:
    """The :data:`~samrs_mm.structures.mask_quality.QUALITY_FIELDS` of one object's mask, json-ready.

    The geometric ones are measured on the mask's bounding window against the record's boxes;
    floats are kept to 6 decimals (the stability follows the decoder's last float bits, as the
    score does).
    """
    x, y, w, h = (int(round(v)) for v in mask.bbox)
    window = decode_window(mask.rle, x, y, w, h) if mask.area else np.zeros((0, 0), dtype=bool)
    rbox = None if inst.rbox is None else np.asarray(inst.rbox, dtype=np.float64)
    signals = prompt_agreement(window, np.asarray(inst.hbox, dtype=np.float64), rbox, offset=(x, y))
    stability = getattr(mask, 'stability', None)
    out: Dict[str, Any] = dict(stability=None if stability is None else round(float(stability), 6))
    for key in GEOMETRIC_FIELDS:
        value = signals[key]
        out[key] = value if value is None or key == 'parts' else round(float(value), 6)
    return out


def read_instances(path: str) -> dict:
    """Load an ``instances/<stem>.json`` file, with an error naming it when it is broken."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f'{path}: cannot read instance file ({exc})') from None


class LabelWriter:
    """Writes the label files of one image (layout in the module docstring).

    Args:
        work_dir: output root.
        classes: class names in label order (pixel value = position in this list).
        palette: RGB per class for the colour PNG; default :func:`label_palette`.
        overlap: overlap rule, one of :data:`OVERLAP_RULES`.
        ignore_index: value of unlabeled pixels (255).
        copy_images: None (no ``images/``), ``'copy'``, ``'link'`` (hard link, copy across
            devices), ``'symlink'``, or ``'png'`` (the 8-bit RGB the engine saw, as PNG; for
            16-bit or multi-band inputs).
        color: write ``color/<stem>.png``.
        geotiff: write ``semantic/<stem>.tif`` for inputs with a georeference (needs rasterio).
        image_root: folder that ``file_name`` in the json files is relative to when images
            are not copied (default: only the file name).
        vector: None, or ``'geojson'`` to write ``vector/<stem>.geojson`` (needs rasterio).
    """

    def __init__(self, work_dir: str, classes: Sequence[str], palette: Optional[Sequence] = None,
                 overlap: str = 'small_on_top', ignore_index: int = 255, copy_images: Optional[str] = None,
                 color: bool = True, geotiff: bool = True, image_root: Optional[str] = None,
                 vector: Optional[str] = None) -> None:
        if overlap not in OVERLAP_RULES:
            raise ValueError(f'unknown overlap rule {overlap!r}; choose one of {", ".join(OVERLAP_RULES)}')
        if copy_images is False:
            copy_images = None
        if copy_images not in COPY_MODES:
            raise ValueError(f'copy_images must be one of {COPY_MODES}, got {copy_images!r}')
        problem = vector_problem(vector)
        if problem:
            raise ValueError(problem)
        if len(classes) >= 255:
            raise ValueError(f'{len(classes)} classes do not fit a uint8 label with 255 = unlabeled')
        self.work_dir = work_dir
        self.classes = tuple(classes)
        self.palette = [list(c) for c in (palette if palette is not None else label_palette(self.classes))]
        if len(self.palette) < len(self.classes):
            raise ValueError(f'palette has {len(self.palette)} colours for {len(self.classes)} classes')
        self.overlap = overlap
        self.ignore_index = int(ignore_index)
        self.copy_images = copy_images
        self.color = bool(color)
        self.geotiff = bool(geotiff)
        self.image_root = image_root
        self.vector = vector
        self.files = AtomicFiles(osp.join(work_dir, TMP_DIR_NAME, f'pid{os.getpid()}'))

    # ---- paths ----------------------------------------------------------------------------
    def instances_path(self, stem: str) -> str:
        """``instances/<stem>.json``: written last, marks the image as finished."""
        return osp.join(self.work_dir, 'instances', stem + '.json')

    def semantic_path(self, stem: str) -> str:
        """``semantic/<stem>.png``."""
        return osp.join(self.work_dir, 'semantic', stem + '.png')

    def color_path(self, stem: str) -> str:
        """``color/<stem>.png``."""
        return osp.join(self.work_dir, 'color', stem + '.png')

    def geotiff_path(self, stem: str) -> str:
        """``semantic/<stem>.tif``."""
        return osp.join(self.work_dir, 'semantic', stem + '.tif')

    def vector_path(self, stem: str) -> str:
        """``vector/<stem>.geojson``."""
        return osp.join(self.work_dir, 'vector', stem + '.geojson')

    def file_name(self, image_path: str) -> str:
        """Image name as the json files store it: relative to the image folder of the dataset."""
        base = osp.basename(image_path)
        if self.copy_images == 'png':
            return osp.splitext(base)[0] + '.png'
        if self.copy_images or not self.image_root:
            return base
        return osp.relpath(osp.abspath(image_path), osp.abspath(self.image_root)).replace(os.sep, '/')

    def copied_image_path(self, image_path: str) -> str:
        """Where ``copy_images`` puts the image."""
        return osp.join(self.work_dir, 'images', self.file_name(image_path))

    # ---- resume ---------------------------------------------------------------------------
    def finished(self, record, fingerprint: str) -> bool:
        """True when ``record``'s labels exist and were made with the same settings.

        Raises ValueError when the finished file belongs to another image with the same
        stem (two inputs would overwrite each other's labels).
        """
        path = self.instances_path(record.stem)
        if not osp.isfile(path):
            return False
        try:
            data = read_instances(path)
        except ValueError:
            return False  # unreadable: redo it
        image = data.get('image', {})
        if osp.abspath(image.get('path', '')) != osp.abspath(record.image_path):
            raise ValueError(f'{record.image_path}: its labels would overwrite those of {image.get("path")} '
                             f'(same file stem {record.stem!r}); give images unique names')
        if data.get('settings') != fingerprint or data.get('version') != INSTANCES_FORMAT_VERSION:
            return False
        needed = [self.semantic_path(record.stem)]
        if self.color:
            needed.append(self.color_path(record.stem))
        if self.copy_images:
            needed.append(self.copied_image_path(record.image_path))
        if self.geotiff and record.georef and _rasterio_available():
            needed.append(self.geotiff_path(record.stem))
        if self.vector:
            needed.append(self.vector_path(record.stem))
        return all(osp.lexists(p) for p in needed)

    # ---- writing --------------------------------------------------------------------------
    def instance_entries(self, record, masks: Sequence) -> List[dict]:
        """The per-object dicts of ``instances/<stem>.json``, with each mask's quality signals."""
        entries = []
        for k, (inst, mask) in enumerate(zip(record.instances, masks)):
            entry = dict(
                id=k,
                class_name=self.classes[inst.class_index],
                class_index=int(inst.class_index),
                source_class=inst.class_name,
                hbox=_floats(inst.hbox),
                rbox=_floats(inst.rbox),
                quad=None if inst.quad is None else [_floats(p) for p in np.asarray(inst.quad).reshape(-1, 2)],
                difficult=bool(inst.difficult),
                segmentation=text_rle(mask.rle),
                bbox=[float(v) for v in mask.bbox],
                area=int(mask.area),
                # SAM's float32 score to 6 decimals: the last bits depend on the decoder's
                # batch composition, which must not change the files (resume, shards).
                score=round(float(mask.score), 6),
                prompt=str(mask.prompt),
            )
            entry.update(quality_signals(mask, inst))
            entries.append(entry)
        return entries

    def write(self, record, masks: Sequence, fingerprint: str, image: Optional[np.ndarray] = None) -> ImageResult:
        """Write every output of one image; ``masks[i]`` belongs to ``record.instances[i]``.

        ``image`` (the RGB the engine saw) is needed for ``copy_images='png'`` only.
        """
        if len(masks) != len(record.instances):
            raise ValueError(f'{record.image_path}: {len(masks)} masks for {len(record.instances)} instances')
        for inst in record.instances:
            if not 0 <= inst.class_index < len(self.classes):
                raise ValueError(f'{inst.origin or record.ann_path}: class {inst.class_name!r} has index '
                                 f'{inst.class_index}, outside the {len(self.classes)}-class list')
        height, width = int(record.height), int(record.width)
        if image is not None:
            height, width = image.shape[:2]
        label = compose_semantic(masks, [inst.class_index for inst in record.instances], height, width,
                                 self.overlap, self.ignore_index)
        stem = record.stem
        if self.copy_images:
            target = self.copied_image_path(record.image_path)
            if self.copy_images == 'png':
                if image is None:
                    raise ValueError("copy_images='png' needs the decoded image")
                self.files.write_bytes(target, encode_rgb_png(image))
            else:
                self.files.place_file(record.image_path, target, self.copy_images)
        self.files.write_bytes(self.semantic_path(stem), encode_gray_png(label))
        if self.color:
            self.files.write_bytes(self.color_path(stem), encode_palette_png(label, self.palette[:len(self.classes)]))
        if self.geotiff and record.georef:
            data = encode_geotiff(label, record.georef, self.ignore_index)
            if data is not None:
                self.files.write_bytes(self.geotiff_path(stem), data)
        objects = self.instance_entries(record, masks)
        if self.vector == 'geojson':
            self.files.write_bytes(self.vector_path(stem), encode_geojson(objects, stem, record.georef))
        counts: Dict[str, int] = {}
        for obj in objects:
            counts[obj['class_name']] = counts.get(obj['class_name'], 0) + 1
        image_info = dict(file_name=self.file_name(record.image_path), path=record.image_path,
                          width=width, height=height, source=record.source, ann_path=record.ann_path)
        if record.georef:
            image_info['georef'] = record.georef
        self.files.write_json(self.instances_path(stem), dict(
            version=INSTANCES_FORMAT_VERSION, settings=fingerprint, image=image_info, objects=objects))
        return ImageResult(stem=stem, objects=len(objects), empty_masks=sum(1 for m in masks if m.area == 0),
                           class_counts=counts)


def _rasterio_available() -> bool:
    try:
        import rasterio  # noqa: F401
        return True
    except ImportError:
        return False

