"""COCO json reader, for users' own datasets (boxes, and masks when segmentations exist).

Reads ``images`` (``id``, ``file_name``, ``width``, ``height``), ``annotations`` (``bbox``
as ``[x, y, w, h]``, optional ``segmentation``, ``iscrowd``) and ``categories``. The json is
parsed once; records are built per image on indexing.

* ``bbox`` gives the hbox ``(x, y, x + w, y + h)``; without a bbox the segmentation's extent.
* ``segmentation`` may be polygons (``[[x, y, ...], ...]``), a single flat polygon (as some
  exporters write, e.g. the SpaceNet sample), or RLE (compressed or not); it becomes
  ``Instance.mask`` (COCO RLE in the image frame).
* ``iscrowd = 1`` objects are marked ``difficult`` (to be ignored, as COCO does).
* Without ``class_list`` the classes are the category names in ascending category id
  (non-string names such as ``1.0`` become their text, ``'1.0'``).
* GeoTIFF images get their georeference on ``ImageRecord.georef``.
"""
from __future__ import annotations

import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Sequence, Union

import numpy as np

from ..structures import boxes as G
from ..structures import rle as R
from ..structures.record import ImageRecord, Instance
from .base import DetectionSource, build_instance
from .class_maps import ClassMapper, build_class_mapper
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex, image_size, read_georef
from .registry import register_source


def _finite_numbers(values, what: str, path: str, where: str) -> np.ndarray:
    """Values as a float array; non-numeric entries raise ``'non-numeric'``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f'non-numeric {what}: {values!r}', path, reason='non-numeric',
                              where=where) from None
    return arr


@register_source('coco')
class COCOSource(DetectionSource):
    """COCO json reader.

    Args:
        ann_file: the json file.
        img_dir: image folder (or list); default: the json's folder.
        **kwargs: see :class:`~samrs_mm.sources.base.DetectionSource`.
    """

    def __init__(self, ann_file: str, img_dir: Union[None, str, Sequence[str]] = None, **kwargs):
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
        self.ann_file = ann_file
        self.img_dir = img_dir if img_dir is not None else osp.dirname(osp.abspath(ann_file))
        self._categories: Dict[int, str] = {}
        self._anns: Dict[int, List[dict]] = defaultdict(list)
        super().__init__(**kwargs)
        self._images = ImageIndex(self.img_dir)

    def _error(self, message: str, reason: str = 'malformed', where: str = '') -> AnnotationError:
        return AnnotationError(message, self.ann_file, reason=reason, where=where)

    def _index(self) -> List[dict]:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f'malformed json: {exc.msg}', self.ann_file, exc.lineno,
                                  reason='parse-error') from None
        if not isinstance(data, dict) or not isinstance(data.get('images'), list):
            raise self._error('not a COCO file: needs an "images" list')
        for cat in data.get('categories', []):
            if 'id' not in cat or 'name' not in cat:
                raise self._error(f'category without id or name: {cat!r}')
            self._categories[int(cat['id'])] = str(cat['name'])
        for ann in data.get('annotations', []):
            if not isinstance(ann, dict) or 'image_id' not in ann:
                raise self._error(f'annotation without image_id: {str(ann)[:200]}')
            self._anns[ann['image_id']].append(ann)
        images = []
        for img in data['images']:
            if not isinstance(img, dict) or 'id' not in img or 'file_name' not in img:
                raise self._error(f'image entry without id or file_name: {str(img)[:200]}')
            images.append(img)
        return images  # json order: deterministic, and what the user wrote

    def _build_mapper(self) -> ClassMapper:
        if self.class_list is None:
            names = [self._categories[k] for k in sorted(self._categories)]
            if not names:
                raise ValueError(f'{self.ann_file} has no categories; pass class_list')
            return ClassMapper(names, None, self.class_map)
        return build_class_mapper(self.name, self.class_list, None, self.class_map)

    def _item_paths(self, img: dict):
        name = img['file_name']
        path = self._images.lookup(osp.splitext(osp.basename(name))[0], osp.basename(name))
        return path or self._images.expected_path('', name), self.ann_file

    def _read(self, img: dict, stats: ReadStats) -> ImageRecord:
        file_name = str(img['file_name'])
        stem = osp.splitext(osp.basename(file_name))[0]
        image_path = self._image_path(self._images, stem, self.ann_file, osp.basename(file_name))
        width, height = int(img.get('width') or 0), int(img.get('height') or 0)
        if (width == 0 or height == 0) and osp.isfile(image_path):
            width, height = image_size(image_path)
        anns = self._anns.get(img['id'], [])
        instances: List[Instance] = []
        for ann in anns:
            try:
                instances.append(self._parse_annotation(ann, width, height))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        if not anns and not self.allow_empty:
            raise AnnotationError(f'image {file_name!r} (id {img["id"]}) has no annotations '
                                  '(pass allow_empty=True to keep such images)', self.ann_file,
                                  reason='empty')
        georef = read_georef(image_path) if osp.isfile(image_path) else None
        return ImageRecord(image_path=image_path, width=width, height=height,
                           instances=instances, source=self.name, ann_path=self.ann_file,
                           georef=georef, meta=dict(image_id=img['id']))

    def _parse_annotation(self, ann: dict, width: int, height: int) -> Instance:
        where = f'annotation id={ann.get("id", "?")}'
        cat_id = ann.get('category_id')
        if cat_id not in self._categories:
            raise AnnotationError(f'category_id {cat_id!r} is not in "categories"', self.ann_file,
                                  reason='unknown-class', where=where, class_name=str(cat_id))
        class_name = self._categories[cat_id]
        class_index = self._class_index(class_name, self.ann_file, where=where)
        mask, seg_hbox = self._segmentation(ann.get('segmentation'), width, height, where)
        hbox = seg_hbox
        if ann.get('bbox') is not None:
            bbox = _finite_numbers(ann['bbox'], 'bbox', self.ann_file, where)
            if bbox.shape != (4,):
                raise AnnotationError(f'bbox must be [x, y, w, h], got {ann["bbox"]!r}',
                                      self.ann_file, reason='malformed', where=where)
            hbox = np.array([bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]])
        if hbox is None:
            raise AnnotationError('annotation has neither bbox nor segmentation', self.ann_file,
                                  reason='malformed', where=where)
        return build_instance(class_name, class_index, self.ann_file, hbox=hbox,
                              difficult=bool(ann.get('iscrowd', 0)), mask=mask, width=width,
                              height=height, where=where)

    def _segmentation(self, seg, width: int, height: int, where: str):
        """``(rle, hbox)`` of a COCO segmentation, ``(None, None)`` when absent."""
        if seg is None or (isinstance(seg, list) and len(seg) == 0):
            return None, None
        from pycocotools import mask as mask_utils
        if width <= 0 or height <= 0:
            raise AnnotationError('segmentation needs the image size (width/height)',
                                  self.ann_file, reason='malformed', where=where)
        if isinstance(seg, dict):
            if 'counts' not in seg or 'size' not in seg:
                raise AnnotationError('RLE segmentation needs "counts" and "size"', self.ann_file,
                                      reason='malformed', where=where)
            rle = R.pycoco_rle(seg)
            hbox = np.asarray(mask_utils.toBbox(rle), dtype=np.float64)
        else:
            polygons = [seg] if all(not isinstance(v, (list, tuple)) for v in seg) else seg
            arrays = []
            for poly in polygons:
                arr = _finite_numbers(poly, 'polygon coordinate', self.ann_file, where)
                if arr.ndim != 1 or arr.size < 6 or arr.size % 2:
                    raise AnnotationError(f'a polygon needs an even number (>= 6) of values, got '
                                          f'{arr.size}', self.ann_file, reason='malformed',
                                          where=where)
                if not np.all(np.isfinite(arr)):
                    raise AnnotationError('NaN or infinite polygon coordinate', self.ann_file,
                                          reason='degenerate', where=where)
                arrays.append(arr)
            rle = mask_utils.merge(mask_utils.frPyObjects([a.tolist() for a in arrays],
                                                          height, width))
            hbox = G.polygon_to_hbox(np.concatenate(arrays).reshape(-1, 2))
            return R.text_rle(rle), hbox
        if list(rle['size']) != [height, width]:
            raise AnnotationError(f'RLE size {list(rle["size"])} differs from the image size '
                                  f'{[height, width]}', self.ann_file, reason='malformed',
                                  where=where)
        hbox = np.array([hbox[0], hbox[1], hbox[0] + hbox[2], hbox[1] + hbox[3]])
        return R.text_rle(rle), hbox
