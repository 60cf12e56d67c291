"""The objects of SAMRS images, read from per-image instance files (for instance / rotated datasets).

Two per-image formats, found by name under one folder (``<ins_dir>/<name>.json`` or
``<ins_dir>/<name>.pkl``), where ``<name>`` comes from the subset's ``train.txt`` /
``val.txt`` (the SEP datasets' name lists):

* ``instances/<stem>.json`` of ``tools/samrs_annotate.py`` (:mod:`samrs_mm.annotate.outputs`):
  the image's ``file_name`` / size and, per object, ``class_name``, ``segmentation`` (COCO
  RLE), ``rbox`` / ``hbox`` / ``quad`` of the source annotation, ``difficult``, ``score``;
* ``ins/<name>.pkl`` of the official SAMRS release (its generation scripts pickle one list per
  image): per object ``mask`` (COCO RLE), ``label`` (index in the subset's class list),
  ``category`` (class name; an integer in early files), the prompt box ``bbox``
  (``x1, y1, x2, y2``) or, for the rotated-box runs (FAST), ``rbox`` (the 4 corner points)
  and ``rhbox``. The pickles are read with an allow-list (numpy arrays and plain types
  only), so a file that would run code is refused instead of executed.

Every object's box and area are recomputed from its RLE mask (pycocotools' ``toBbox`` /
``area``), so boxes always agree with the masks whatever the file stored; objects whose
mask is empty are dropped (and counted). Rotated boxes follow the record convention
(``(cx, cy, w, h, theta)``, radians, mmrotate's ``le90``): from the source annotation, or
the minimum-area rectangle around the mask's pixels.
"""
from __future__ import annotations

import io
import json
import os.path as osp
import pickle
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..structures import boxes as G
from ..structures.rle import decode_window, pycoco_rle, text_rle

__all__ = ['RBOX_SOURCES', 'SAMRSObject', 'SAMRSImageObjects', 'find_object_file', 'read_object_file',
           'object_rbox', 'load_subset_objects']

OBJECT_FILE_SUFFIXES = ('.json', '.pkl')
# Where a rotated box comes from: the source annotation (the R-Box the annotate tool kept;
# objects whose source had only a horizontal box use that box), or the minimum-area
# rectangle of the SAM mask (sam-mmrotate's idea).
RBOX_SOURCES = ('annotation', 'mask')


@dataclass
class SAMRSObject:
    """One object of a SAMRS image: class, mask and the boxes derived from it."""

    class_index: int
    rle: dict                                  # COCO RLE of the full image, text counts
    area: int                                  # mask pixels
    bbox: Tuple[float, float, float, float]    # COCO (x, y, w, h) of the mask
    source_rbox: Optional[np.ndarray] = None   # le90 rotated box of the source annotation
    source_hbox: Optional[np.ndarray] = None   # horizontal box of the source annotation
    difficult: bool = False
    ignore: bool = False                       # set by label QC's --apply --apply-mode ignore

    @property
    def hbox(self) -> List[float]:
        """The mask's horizontal box as ``[x1, y1, x2, y2]`` (pixel edges)."""
        x, y, w, h = self.bbox
        return [x, y, x + w, y + h]


@dataclass
class SAMRSImageObjects:
    """What one per-image instance file says about its image."""

    path: str
    file_name: Optional[str]           # image file name the file records (None: not recorded)
    width: Optional[int]
    height: Optional[int]
    objects: List[SAMRSObject] = field(default_factory=list)
    empty_masks: int = 0


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays / scalars, nothing that could run code."""

    _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
                ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', 'scalar')}

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            target = 'numpy._core.multiarray' if module.endswith('multiarray') else module
            try:
                return getattr(__import__(target, fromlist=[name]), name)
            except ImportError:  # numpy 1.x has no numpy._core
                return getattr(__import__('numpy.core.multiarray', fromlist=[name]), name)
        if module == 'numpy.dtypes' and name.endswith('DType'):
            import numpy.dtypes
            return getattr(numpy.dtypes, name)
        raise pickle.UnpicklingError(f'refusing to load {module}.{name} (only numpy arrays and plain '
                                     'types are expected in a SAMRS instance file)')


def _load_pickle(path: str):
    with open(path, 'rb') as f:
        return _NumpyOnlyUnpickler(io.BytesIO(f.read())).load()


def find_object_file(ins_dir: str, name: str) -> str:
    """``<ins_dir>/<name>.json`` or ``.pkl``; a clear error when neither exists."""
    for suffix in OBJECT_FILE_SUFFIXES:
        path = osp.join(ins_dir, name + suffix)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no instance file for {name!r} in {ins_dir} (looked for {name}.json from '
                            'tools/samrs_annotate.py and the official release\'s {name}.pkl)')


def _text_rle(rle, path: str, where: str) -> dict:
    """The object's mask as text RLE (any counts spelling), or an error naming the file."""
    if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
        raise ValueError(f'{path}: {where}: mask is not a COCO RLE dict with size and counts')
    return text_rle(rle)


def _class_index(name, label, classes: Sequence[str], path: str, where: str) -> int:
    """Index in ``classes`` of an object named ``name`` (str) and/or numbered ``label``."""
    index = None
    if isinstance(name, str):
        if name not in classes:
            raise ValueError(f'{path}: {where}: class {name!r} is not one of the {len(classes)} classes '
                             f'of this dataset ({", ".join(classes[:4])}, ...)')
        index = classes.index(name)
    if label is not None and not isinstance(label, str):
        number = int(label)
        if index is not None and number != index:
            raise ValueError(f'{path}: {where}: label {number} contradicts class {name!r} '
                             f'(index {index} in this dataset\'s class list)')
        index = number
    if index is None:
        raise ValueError(f'{path}: {where}: object has neither a class name nor a label')
    if not 0 <= index < len(classes):
        raise ValueError(f'{path}: {where}: label {index} is outside the {len(classes)}-class list')
    return index


def _raw_objects(path: str) -> Tuple[dict, List[dict]]:
    """``(image info, per-object dicts with keys name, label, rle, rbox, hbox, difficult)``."""
    if path.endswith('.json'):
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f'{path}: cannot read instance file ({exc})') from None
        if not isinstance(data, dict) or not isinstance(data.get('objects'), list):
            raise ValueError(f'{path}: not an instances/<stem>.json of tools/samrs_annotate.py '
                             '(no "objects" list)')
        raw = [dict(name=o.get('class_name'), label=None, rle=o.get('segmentation'), rbox=o.get('rbox'),
                    hbox=o.get('hbox'), difficult=bool(o.get('difficult', False)),
                    ignore=bool(o.get('ignore', False))) for o in data['objects']]
        return dict(data.get('image') or {}), raw
    try:
        data = _load_pickle(path)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise ValueError(f'{path}: cannot read instance pickle ({exc})') from None
    if not isinstance(data, (list, tuple)):
        raise ValueError(f'{path}: expected a list of objects (the official SAMRS instance format), '
                         f'got {type(data).__name__}')
    raw = []
    for k, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise ValueError(f'{path}: object {k} is a {type(obj).__name__}, not a dict')
        category = obj.get('category')
        name = category if isinstance(category, str) else None
        label = obj.get('label', None if name is not None else category)
        quad = obj.get('rbox')
        hbox = obj.get('bbox', obj.get('rhbox'))
        raw.append(dict(name=name, label=label, rle=obj.get('mask'), quad=quad, hbox=hbox, difficult=False))
    return {}, raw


def read_object_file(path: str, classes: Sequence[str]) -> SAMRSImageObjects:
    """Read one per-image instance file (json of the annotate tool or the official pickle).

    Class names / labels are checked against ``classes`` (errors name the file and object);
    boxes and areas come from the masks; empty masks are dropped and counted.
    """
    from pycocotools import mask as mask_utils
    image, raw = _raw_objects(path)
    result = SAMRSImageObjects(path=path, file_name=image.get('file_name'), width=image.get('width'),
                               height=image.get('height'))
    rles = [_text_rle(obj['rle'], path, f'object {k}') for k, obj in enumerate(raw)]
    if rles:
        size = rles[0]['size']
        for k, rle in enumerate(rles):
            if rle['size'] != size:
                raise ValueError(f'{path}: object {k}: mask is {rle["size"][1]}x{rle["size"][0]}, '
                                 f'object 0\'s is {size[1]}x{size[0]}')
        if result.height is None:
            result.height, result.width = int(size[0]), int(size[1])
        elif [int(result.height), int(result.width)] != size:
            raise ValueError(f'{path}: masks are {size[1]}x{size[0]} but the image is '
                             f'{result.width}x{result.height}')
        encoded = [pycoco_rle(r) for r in rles]
        areas = mask_utils.area(encoded)
        bboxes = mask_utils.toBbox(encoded)
    for k, obj in enumerate(raw):
        where = f'object {k}'
        index = _class_index(obj['name'], obj['label'], classes, path, where)
        if int(areas[k]) == 0:
            result.empty_masks += 1
            continue
        source_rbox = source_hbox = None
        try:
            if obj.get('rbox') is not None:
                source_rbox = G.normalize_angle_le90(np.asarray(obj['rbox'], dtype=np.float64).reshape(5))
            elif obj.get('quad') is not None:
                source_rbox = G.quad_to_rbox(np.asarray(obj['quad'], dtype=np.float64).reshape(4, 2))
            if obj.get('hbox') is not None:
                source_hbox = np.asarray(obj['hbox'], dtype=np.float64).reshape(4)
        except (TypeError, ValueError) as exc:
            raise ValueError(f'{path}: {where}: unreadable box ({exc})') from None
        result.objects.append(SAMRSObject(
            class_index=index, rle=rles[k], area=int(areas[k]), bbox=tuple(float(v) for v in bboxes[k]),
            source_rbox=source_rbox, source_hbox=source_hbox, difficult=obj['difficult'],
            ignore=obj.get('ignore', False)))
    return result


def object_rbox(obj: SAMRSObject, rbox_source: str = 'annotation') -> Tuple[np.ndarray, bool]:
    """The rotated box (le90) of an object, and whether a horizontal box stood in for it.

    ``'annotation'``: the source's rotated box; an object whose source had only a horizontal
    box (DIOR's ``bndbox``, the official H-Box pickles) gets that box at angle 0 (second
    value True). ``'mask'``: the minimum-area rectangle around the mask's pixel squares.
    """
    if rbox_source not in RBOX_SOURCES:
        raise ValueError(f'rbox_source must be one of {RBOX_SOURCES}, got {rbox_source!r}')
    if rbox_source == 'annotation':
        if obj.source_rbox is not None:
            return obj.source_rbox, False
        hbox = obj.source_hbox if obj.source_hbox is not None else np.asarray(obj.hbox)
        return G.hbox_to_rbox(hbox), True
    from ..sources.isaid import pixel_mask_rbox
    x, y, w, h = (int(round(v)) for v in obj.bbox)
    return pixel_mask_rbox(decode_window(obj.rle, x, y, w, h), (x, y)), False


def load_subset_objects(names: Sequence[str], ins_dir: str, img_dir: str, classes: Sequence[str],
                        img_suffix: str) -> Tuple[List[Tuple[str, str, SAMRSImageObjects]], Dict[str, int]]:
    """Read the instance file of every listed image.

    Returns ``[(name, image path, objects)]`` in list order and counts (``images``,
    ``objects``, ``empty_masks``). The image is ``<img_dir>/<file_name>`` when the instance
    file records its name (annotate tool), else ``<img_dir>/<name><img_suffix>``; its size
    comes from the file, the masks, or (no objects, official format) the image header.
    """
    from ..sources.image_io import image_size
    out = []
    counts = dict(images=0, objects=0, empty_masks=0)
    for name in names:
        info = read_object_file(find_object_file(ins_dir, name), classes)
        file_name = info.file_name or name + img_suffix
        img_path = osp.join(img_dir, file_name)
        if info.width is None or info.height is None:
            info.width, info.height = image_size(img_path)
        out.append((name, img_path, info))
        counts['images'] += 1
        counts['objects'] += len(info.objects)
        counts['empty_masks'] += info.empty_masks
    return out, counts
