"""DOTA v1.0 / v1.5 / v2.0 ``labelTxt`` reader and writer.

One text file per image (``labelTxt/P0706.txt`` beside ``images/P0706.png``)::

    imagesource:GoogleEarth          optional header lines ``key:value``
    gsd:0.255589285596
    x1 y1 x2 y2 x3 y3 x4 y4 class difficult

The quadrilateral is kept as given (``Instance.quad``); the horizontal box is the hull of all
four points (not corners 1 and 3), the rotated box their minimum-area rectangle. The
``difficult`` column may be missing (then 0); any non-zero value is difficult (the DOTA
devkit writes 2 for objects cut by a patch border). Header values are kept in
``ImageRecord.meta`` (``gsd`` as a float, None for ``null``).

Patches written by :mod:`.split` from sources with ground-truth masks also have
``masks/<stem>.json`` (COCO RLE per label line); when that folder exists the masks are
attached to their objects again (``Instance.mask``).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..structures import boxes as G
from ..structures.record import ImageRecord, Instance
from .base import AnnotationItem, DetectionSource, build_instance, index_annotation_files, parse_float
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex, image_size
from .registry import register_source


def _parse_header(line: str) -> Optional[tuple]:
    """``(key, value)`` of a ``key:value`` header line, or None for an object line."""
    if ':' not in line:
        return None
    key, _, value = line.partition(':')
    key = key.strip()
    if not key or ' ' in key:
        return None
    return key, value.strip()


@register_source('dota')
class DOTASource(DetectionSource):
    """DOTA ``labelTxt`` reader (also reads the patches written by :mod:`samrs_mm.patches`).

    Args:
        ann_dir: folder of ``*.txt`` label files.
        img_dir: folder of images; default: ``images`` beside ``ann_dir``.
        split_file: optional file listing the image stems to read, one per line.
        mask_dir: folder of ``<stem>.json`` ground-truth masks (written by the patch
            cropping); default: ``masks`` beside ``ann_dir``, used when it exists.
        meta_dir: folder of ``<stem>.json`` header values (``imagesource``, ``gsd``) of label
            files written without header lines (the patch cropping's default, so that
            mmrotate can read them); default: ``label_meta`` beside ``ann_dir``.
        **kwargs: see :class:`~samrs_mm.sources.base.DetectionSource` (``class_list``
            defaults to ``'sota'``).
    """

    default_class_list = 'sota'

    def __init__(self, ann_dir: str, img_dir: Optional[str] = None,
                 split_file: Optional[str] = None, mask_dir: Optional[str] = None,
                 meta_dir: Optional[str] = None, **kwargs):
        if not osp.isdir(ann_dir):
            raise FileNotFoundError(f'DOTA annotation folder not found: {ann_dir}')
        self.ann_dir = ann_dir
        if img_dir is None:
            img_dir = osp.join(osp.dirname(osp.normpath(ann_dir)), 'images')
        self.img_dir = img_dir
        self.split_file = split_file
        if mask_dir is None:
            mask_dir = osp.join(osp.dirname(osp.normpath(ann_dir)), 'masks')
        self.mask_dir = mask_dir
        self.meta_dir = meta_dir or osp.join(osp.dirname(osp.normpath(ann_dir)), 'label_meta')
        super().__init__(**kwargs)
        self._images = ImageIndex(img_dir if osp.isdir(img_dir) or self.check_images else None)

    def _index(self) -> List[AnnotationItem]:
        return index_annotation_files(self.ann_dir, '.txt', self.split_file, 'label file')

    def _item_paths(self, item: AnnotationItem):
        path = self._images.lookup(item.stem) or self._images.expected_path(item.stem)
        return path, item.ann_path

    def _read(self, item: AnnotationItem, stats: ReadStats) -> ImageRecord:
        image_path = self._image_path(self._images, item.stem, item.ann_path)
        width = height = 0
        if osp.isfile(image_path):
            width, height = image_size(image_path)
        try:
            with open(item.ann_path, encoding='utf-8') as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AnnotationError(f'cannot read label file ({exc})', item.ann_path,
                                  reason='parse-error') from None
        meta: Dict[str, object] = self._read_meta(item.stem)
        parsed = []
        n_objects = 0
        object_lines: List[int] = []
        for line_no, raw in enumerate(lines, start=1):
            text = raw.strip()
            if not text:
                continue
            header = _parse_header(text) if n_objects == 0 else None
            if header is not None:
                key, value = header
                if key == 'gsd':
                    try:
                        value = float(value)
                    except ValueError:
                        value = None  # DOTA writes 'gsd:null' when unknown.
                meta[key] = value
                continue
            n_objects += 1
            object_lines.append(line_no)
            try:
                parsed.append((line_no,) + self._parse_line(text, item.ann_path, line_no))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        # Rotated boxes of all objects in one vectorised call (per-object numpy calls would
        # dominate the reading time of images with hundreds of objects).
        quads = np.array([p[1] for p in parsed], dtype=np.float64).reshape(-1, 4, 2)
        with np.errstate(invalid='ignore'):
            rboxes = G.quad_to_rbox(quads)
        masks = self._read_masks(item.stem, set(object_lines), width, height)
        instances: List[Instance] = []
        for entry, quad, rbox in zip(parsed, quads, rboxes):
            line_no, _, class_name, class_index, difficult = entry
            try:
                instances.append(build_instance(
                    class_name, class_index, item.ann_path, line_no, quad=quad,
                    rbox=rbox if np.all(np.isfinite(rbox)) else None, difficult=difficult,
                    mask=masks.get(line_no), width=width, height=height))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        self._empty_check(instances, n_objects, item.ann_path)
        return ImageRecord(image_path=image_path, width=width, height=height,
                           instances=instances, source=self.name, ann_path=item.ann_path,
                           meta=meta)

    def _read_meta(self, stem: str) -> Dict[str, object]:
        """Header values from ``<meta_dir>/<stem>.json`` (empty without it); header lines in
        the label file itself override them."""
        path = osp.join(self.meta_dir, stem + '.json')
        if not osp.isfile(path):
            return {}
        try:
            with open(path, encoding='utf-8') as f:
                meta = json.load(f)
        except (OSError, ValueError) as exc:
            raise AnnotationError(f'cannot read label meta file ({type(exc).__name__}: {exc})', path,
                                  reason='parse-error') from None
        if not isinstance(meta, dict):
            raise AnnotationError('label meta file must hold a json object', path, reason='parse-error')
        return meta

    def _read_masks(self, stem: str, object_lines: set, width: int, height: int) -> Dict[int, dict]:
        """``{label line: COCO RLE}`` from ``<mask_dir>/<stem>.json``; empty without the file.

        A mask for a line that is not an object line, or of another size than the image, is
        an error naming the file; masks of objects the reader skips go with them.
        """
        path = osp.join(self.mask_dir, stem + '.json')
        if not osp.isfile(path):
            return {}
        try:
            with open(path, encoding='utf-8') as f:
                entries = json.load(f)['masks']
            masks = {int(e['line']): e['mask'] for e in entries}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnnotationError(f'cannot read mask file ({type(exc).__name__}: {exc})', path,
                                  reason='parse-error') from None
        for line, mask in masks.items():
            size = [int(v) for v in mask.get('size', ())] if isinstance(mask, dict) else None
            if size is None or 'counts' not in mask:
                raise AnnotationError(f'mask of label line {line} is not a COCO RLE', path,
                                      reason='parse-error')
            if width and height and size != [height, width]:
                raise AnnotationError(f'mask of label line {line} is {size[1]}x{size[0]}, the image '
                                      f'{width}x{height}', path, reason='size-mismatch')
            if line not in object_lines:
                raise AnnotationError(f'mask for label line {line}, which is not an object line '
                                      f'of {stem}.txt', path, reason='parse-error')
        return masks

    def _parse_line(self, text: str, path: str, line_no: int) -> tuple:
        """``(coords, class_name, class_index, difficult)`` of one object line."""
        tokens = text.split()
        if len(tokens) not in (9, 10):
            raise AnnotationError(
                f'expected "x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]" (9 or 10 fields), '
                f'got {len(tokens)} fields: {text!r}', path, line_no, reason='malformed')
        coords = [parse_float(t, path, line_no, f'coordinate #{i + 1}')
                  for i, t in enumerate(tokens[:8])]
        class_name = tokens[8]
        difficult = 0
        if len(tokens) == 10:
            try:
                difficult = int(tokens[9])
            except ValueError:
                raise AnnotationError(f'difficult flag must be an integer, got {tokens[9]!r}',
                                      path, line_no, reason='malformed') from None
        class_index = self._class_index(class_name, path, line_no)
        return coords, class_name, class_index, difficult != 0


def format_number(value: float) -> str:
    """Shortest fixed-point text of a coordinate to 1/1000 pixel (``12.5``, ``824``)."""
    text = f'{float(value):.3f}'.rstrip('0').rstrip('.')
    return '0' if text in ('-0', '') else text


def dota_lines(quads: Iterable, class_names: Sequence[str], difficult: Sequence[int],
               header: Optional[Dict[str, object]] = None) -> List[str]:
    """Lines of a DOTA label file: optional ``key:value`` header, then one line per object.

    Class names must not contain whitespace (DOTA's format splits on it).
    """
    lines = []
    for key, value in (header or {}).items():
        lines.append(f'{key}:{"null" if value is None else value}')
    for quad, name, diff in zip(quads, class_names, difficult):
        if any(ch.isspace() for ch in name):
            raise ValueError(f'class name {name!r} contains whitespace; DOTA labels cannot hold it')
        coords = ' '.join(format_number(v) for v in np.asarray(quad, dtype=np.float64).reshape(8))
        lines.append(f'{coords} {name} {int(diff)}')
    return lines
