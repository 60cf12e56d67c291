"""Read a labelled folder one image at a time for QC: the annotate tool's output or the release's.

Two layouts (docs/label_qc.md):

* ``tools/samrs_annotate.py`` (:mod:`samrs_mm.annotate.outputs`): ``instances/<stem>.json``
  (objects with ``segmentation``, ``hbox``, ``rbox``, ``score`` and, from runs that record
  them, the fields of :data:`~samrs_mm.structures.mask_quality.QUALITY_FIELDS`),
  ``semantic/<stem>.png``, ``summary.json`` (classes, the writer's overlap rule);
* the official SAMRS release: ``ins/<name>.pkl`` (read by
  :func:`samrs_mm.datasets.samrs_objects.read_object_file`'s rules: masks, prompt boxes, no
  SAM scores), images in ``images/`` (or ``img/``), labels in ``semantic/`` or ``gray/``.

Only one image's objects are in memory at a time.
"""
from __future__ import annotations

import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..annotate.outputs import OVERLAP_RULES, read_instances
from ..structures.classes import SAMRS_CLASS_LISTS
from ..structures.mask_quality import QUALITY_FIELDS
from ..structures.rle import decode_window

__all__ = ['QCObject', 'QCImage', 'LabelFolder', 'WorkDirError', 'open_label_folder']

IMAGE_DIRS = ('images', 'img', 'JPEGImages')
LABEL_DIRS = ('semantic', 'gray')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')


class WorkDirError(ValueError):
    """The folder is not a labelled folder QC can read; the message names it and says why."""


@dataclass
class QCObject:
    """One object: its mask (text RLE), boxes, SAM score and the quality signals stored with it."""

    id: int
    class_name: str
    class_index: int
    rle: dict
    area: int
    bbox: Sequence[float]              # COCO (x, y, w, h) of the mask
    hbox: Optional[Sequence[float]]    # prompt box (x1, y1, x2, y2)
    rbox: Optional[Sequence[float]]    # prompt rotated box (le90) or None
    score: Optional[float]
    stored: Dict[str, object] = field(default_factory=dict)  # quality fields found in the file
    raw: Optional[dict] = None         # the annotate json object, written back by --apply

    def window(self):
        """``(bool window, x, y)``: the mask inside its bounding box (empty for an empty mask)."""
        x, y, w, h = (int(round(v)) for v in self.bbox)
        if self.area == 0 or w == 0 or h == 0:
            return np.zeros((0, 0), dtype=bool), x, y
        return decode_window(self.rle, x, y, w, h), x, y


@dataclass
class QCImage:
    """One image's objects and where its files are."""

    stem: str
    width: int
    height: int
    image_path: Optional[str]
    semantic_path: Optional[str]
    objects: List[QCObject]
    data: Optional[dict] = None        # the whole instances json (annotate layout)


class LabelFolder:
    """A labelled folder: its layout, classes, overlap rule and images in name order."""

    def __init__(self, root: str, layout: str, classes: Sequence[str], overlap: str, files: List[str]) -> None:
        self.root = root
        self.layout = layout
        self.classes = list(classes)
        self.overlap = overlap
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def stems(self) -> List[str]:
        """Image stems in reading order."""
        return [osp.splitext(osp.basename(p))[0] for p in self.files]

    def _find(self, dirs, stem, suffixes) -> Optional[str]:
        for d in dirs:
            for suffix in suffixes:
                path = osp.join(self.root, d, stem + suffix)
                if osp.isfile(path):
                    return path
        return None

    def images(self) -> Iterator[QCImage]:
        """Every image's :class:`QCImage`, one at a time."""
        for path in self.files:
            yield self._read_json(path) if self.layout == 'annotate' else self._read_pickle(path)

    def _read_json(self, path: str) -> QCImage:
        data = read_instances(path)
        stem = osp.splitext(osp.basename(path))[0]
        if not isinstance(data, dict) or not isinstance(data.get('objects'), list):
            raise WorkDirError(f'{path}: not an instances/<stem>.json of tools/samrs_annotate.py (no "objects" list)')
        image = data.get('image') or {}
        objects = []
        for k, obj in enumerate(data['objects']):
            try:
                name = obj['class_name']
                index = int(obj.get('class_index', self.classes.index(name) if name in self.classes else -1))
                objects.append(QCObject(
                    id=int(obj.get('id', k)), class_name=name, class_index=index, rle=obj['segmentation'],
                    area=int(obj['area']), bbox=obj['bbox'], hbox=obj.get('hbox'), rbox=obj.get('rbox'),
                    score=None if obj.get('score') is None else float(obj['score']),
                    stored={f: obj[f] for f in QUALITY_FIELDS if f in obj}, raw=obj))
            except (KeyError, TypeError, ValueError) as exc:
                raise WorkDirError(f'{path}: object {k}: unreadable ({type(exc).__name__}: {exc})') from None
        image_path = image.get('path')
        if not image_path or not osp.isfile(image_path):
            image_path = self._find(IMAGE_DIRS, osp.splitext(image.get('file_name', stem))[0], IMAGE_SUFFIXES)
        height, width = image.get('height'), image.get('width')
        if (height is None or width is None) and objects:
            height, width = objects[0].rle['size']
        return QCImage(stem=stem, width=int(width or 0), height=int(height or 0), image_path=image_path,
                       semantic_path=self._find(LABEL_DIRS, stem, ('.png',)), objects=objects, data=data)

    def _read_pickle(self, path: str) -> QCImage:
        from ..datasets.samrs_objects import read_object_file
        try:
            info = read_object_file(path, self.classes)
        except ValueError as exc:
            raise WorkDirError(str(exc)) from None
        stem = osp.splitext(osp.basename(path))[0]
        objects = []
        for k, obj in enumerate(info.objects):
            hbox = obj.source_hbox if obj.source_hbox is not None else obj.hbox
            objects.append(QCObject(id=k, class_name=self.classes[obj.class_index], class_index=obj.class_index,
                                    rle=obj.rle, area=obj.area, bbox=obj.bbox, hbox=[float(v) for v in hbox],
                                    rbox=None if obj.source_rbox is None else [float(v) for v in obj.source_rbox],
                                    score=None))
        return QCImage(stem=stem, width=int(info.width or 0), height=int(info.height or 0),
                       image_path=self._find(IMAGE_DIRS, stem, IMAGE_SUFFIXES),
                       semantic_path=self._find(LABEL_DIRS, stem, ('.png',)), objects=objects)


def _summary(root: str) -> dict:
    path = osp.join(root, 'summary.json')
    if not osp.isfile(path):
        return {}
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkDirError(f'{path}: cannot read ({exc})') from None
    return data if isinstance(data, dict) else {}


def open_label_folder(root: str, classes: Optional[Sequence[str]] = None) -> LabelFolder:
    """The :class:`LabelFolder` at ``root``; a one-line :class:`WorkDirError` when it is none.

    Classes: ``classes``, else the run's ``summary.json``, else (release) the folder's name
    when it is a SAMRS subset (``sota``, ``sior``, ``fast``), else the names in the files.
    """
    if not osp.isdir(root):
        raise WorkDirError(f'{root}: work dir not found')
    summary = _summary(root)
    json_files = sorted(glob.glob(osp.join(root, 'instances', '*.json')))
    pkl_files = sorted(glob.glob(osp.join(root, 'ins', '*.pkl')))
    overlap = (summary.get('writer') or {}).get('overlap') or 'small_on_top'
    if overlap not in OVERLAP_RULES:
        raise WorkDirError(f'{root}/summary.json: unknown overlap rule {overlap!r}; valid: {", ".join(OVERLAP_RULES)}')
    if json_files:
        layout, files = 'annotate', json_files
    elif pkl_files:
        layout, files = 'release', pkl_files
        overlap = 'last_on_top'  # the release's scripts paint in box order, the later box on top
    else:
        raise WorkDirError(f'{root}: no instances/<stem>.json (tools/samrs_annotate.py) and no ins/<name>.pkl '
                           '(official SAMRS release): not a labelled folder')
    names = list(classes or summary.get('classes') or [])
    if not names and layout == 'release':
        key = osp.basename(osp.normpath(root)).lower()
        if key not in SAMRS_CLASS_LISTS:
            raise WorkDirError(f'{root}: a release folder needs its class list (--classes sota|sior|fast or names), '
                               'its name is not a SAMRS subset')
        names = list(SAMRS_CLASS_LISTS[key])
    if not names:  # an annotate folder without summary.json: the class names its files use, by index
        table: Dict[int, str] = {}
        for path in json_files:
            for obj in read_instances(path).get('objects', []):
                table.setdefault(int(obj.get('class_index', len(table))), obj.get('class_name'))
        names = [table.get(i, f'class{i}') for i in range(max(table) + 1)] if table else []
    return LabelFolder(root, layout, names, overlap, files)
