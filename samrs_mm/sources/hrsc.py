"""HRSC2016 xml reader, with the ground-truth ship masks where the dataset has them.

HRSC2016's layout (``FullDataSet``)::

    AllImages/100000006.bmp
    Annotations/100000006.xml
    Segmentations/100000006.png    colour instance masks (only some images)
    LandMask/100000006.bmp         sea/land mask (only some images)
    ImageSets/{train,val,trainval,test}.txt

Per object the xml gives the horizontal box ``box_xmin .. box_ymax`` (kept as the hbox) and
the rotated box ``mbox_cx, mbox_cy, mbox_w, mbox_h, mbox_ang`` with the angle in radians in
the same convention as ours (x-axis to the width side, clockwise on screen), normalised to
le90. The image size comes from ``Img_SizeWidth`` / ``Img_SizeHeight``.

Masks (the paper's prompt ablation set): when an object has a ``seg_color`` (``"R,G,B"``;
any non-digit separator) and the image's segmentation file exists
(``Img_SegFileName.Img_SegFileFmt`` or ``<stem>.png``/``.bmp`` in ``seg_dir``), the
object's mask is the set of pixels of exactly that colour, stored as COCO RLE on
``Instance.mask``. A segmented object whose colour does not occur, or whose segmentation file
is missing while ``seg_dir`` exists, is an error (``'missing-mask'``). The LandMask path, when
present, is kept in ``ImageRecord.meta['land_mask']``.

HRSC's class hierarchy is not used: every object is ``'ship'`` (its level-1 class), which
maps to SOTA's ``ship``; the fine ``Class_ID`` is kept in the instance origin string.
"""
from __future__ import annotations

import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..structures import rle as R
from ..structures.record import ImageRecord, Instance
from .base import build_instance, parse_float
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex
from .registry import register_source
from .voc import VOCSource
from .xml_tree import XmlNode, parse_xml

HBOX_FIELDS = ('box_xmin', 'box_ymin', 'box_xmax', 'box_ymax')
RBOX_FIELDS = ('mbox_cx', 'mbox_cy', 'mbox_w', 'mbox_h', 'mbox_ang')


def parse_seg_color(text: str, path: str, line: int, order: str = 'rgb') -> Optional[tuple]:
    """``(R, G, B)`` from a ``seg_color`` text, or None when it is empty."""
    values = [int(v) for v in re.findall(r'\d+', text or '')]
    if not values:
        return None
    if len(values) != 3 or any(v > 255 for v in values):
        raise AnnotationError(f'seg_color must be three 0-255 values, got {text!r}', path, line,
                              reason='malformed')
    return tuple(values if order == 'rgb' else values[::-1])


@register_source('hrsc')
class HRSCSource(VOCSource):
    """HRSC2016 reader (``class_list`` defaults to ``'sota'``: every object is a ``ship``).

    Args:
        ann_dir: the ``Annotations`` folder.
        img_dir: image folder; default ``AllImages`` beside it.
        seg_dir: colour segmentation folder; default ``Segmentations`` beside it (no masks
            when the folder does not exist).
        land_mask_dir: default ``LandMask`` beside it.
        with_masks: read the ground-truth masks when available.
        seg_color_order: ``'rgb'`` or ``'bgr'``, how ``seg_color`` lists the channels.
    """

    default_class_list = 'sota'
    default_img_dirs = ('AllImages', 'Images', 'images')

    def __init__(self, ann_dir: str, img_dir: Union[None, str, Sequence[str]] = None,
                 split_file: Optional[str] = None, seg_dir: Optional[str] = None,
                 land_mask_dir: Optional[str] = None, with_masks: bool = True,
                 seg_color_order: str = 'rgb', **kwargs):
        root = osp.dirname(osp.normpath(ann_dir))
        self.seg_dir = seg_dir if seg_dir is not None else osp.join(root, 'Segmentations')
        self.land_mask_dir = (land_mask_dir if land_mask_dir is not None
                              else osp.join(root, 'LandMask'))
        if seg_color_order not in ('rgb', 'bgr'):
            raise ValueError(f"seg_color_order must be 'rgb' or 'bgr', got {seg_color_order!r}")
        self.with_masks = with_masks
        self.seg_color_order = seg_color_order
        super().__init__(ann_dir, img_dir, split_file, **kwargs)
        self._segs = ImageIndex(self.seg_dir if with_masks and osp.isdir(self.seg_dir) else None)
        self._land = ImageIndex(self.land_mask_dir if osp.isdir(self.land_mask_dir) else None)

    def _read(self, item, stats: ReadStats) -> ImageRecord:
        path = item.ann_path
        root = parse_xml(path)
        stem = root.findtext('Img_FileName') or item.stem
        fmt = root.findtext('Img_FileFmt') or ''
        image_path = self._image_path(self._images, stem, path, f'{stem}.{fmt}' if fmt else None)
        width = int(self._number(root, 'Img_SizeWidth', path))
        height = int(self._number(root, 'Img_SizeHeight', path))
        objects = root.findall('HRSC_Objects/HRSC_Object')
        seg_image = None
        # Malformed colours are reported per object below, so only look for digits here.
        if self.with_masks and self._segs.img_dirs and any(
                re.search(r'\d', o.findtext('seg_color') or '') for o in objects):
            seg_image = self._load_segmentation(root, stem, path, width, height)
        instances: List[Instance] = []
        for obj in objects:
            try:
                instances.append(self._parse_hrsc_object(obj, path, width, height, seg_image))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        self._empty_check(instances, len(objects), path)
        meta: Dict[str, object] = {}
        land = self._land.lookup(stem, root.findtext('Img_MaskFileName') or None)
        if land:
            meta['land_mask'] = land
        return ImageRecord(image_path=image_path, width=width, height=height,
                           instances=instances, source=self.name, ann_path=path, meta=meta)

    @staticmethod
    def _number(node: XmlNode, field: str, path: str) -> float:
        child = node.find(field)
        if child is None or child.text == '':
            raise AnnotationError(f'<{node.tag}> has no <{field}>', path, node.line,
                                  reason='malformed')
        return parse_float(child.text, path, child.line, f'<{field}>')

    def _load_segmentation(self, root: XmlNode, stem: str, path: str, width: int,
                           height: int) -> np.ndarray:
        import cv2
        seg_name = root.findtext('Img_SegFileName') or ''
        seg_fmt = root.findtext('Img_SegFileFmt') or ''
        file_name = f'{seg_name}.{seg_fmt}' if seg_name and seg_fmt else None
        seg_path = self._segs.lookup(seg_name or stem, file_name) or self._segs.lookup(stem)
        if seg_path is None:
            raise AnnotationError(
                f'objects have seg_color but no segmentation image was found in {self.seg_dir}',
                path, reason='missing-mask')
        seg = cv2.imread(seg_path, cv2.IMREAD_COLOR)
        if seg is None:
            raise AnnotationError(f'cannot decode segmentation image {seg_path}', path,
                                  reason='missing-mask')
        if seg.shape[:2] != (height, width):
            raise AnnotationError(f'segmentation image {seg_path} is '
                                  f'{seg.shape[1]}x{seg.shape[0]}, '
                                  f'the image is {width}x{height}', path, reason='missing-mask')
        return seg[..., ::-1]  # RGB

    def _parse_hrsc_object(self, obj: XmlNode, path: str, width: int, height: int,
                           seg_image: Optional[np.ndarray]) -> Instance:
        rbox = np.array([self._number(obj, f, path) for f in RBOX_FIELDS])
        hbox = None
        if all(obj.find(f) is not None and obj.findtext(f) != '' for f in HBOX_FIELDS):
            hbox = np.array([self._number(obj, f, path) for f in HBOX_FIELDS])
        difficult = self._difficult(obj, path)
        class_index = self._class_index('ship', path, obj.line)
        mask = None
        color = parse_seg_color(obj.findtext('seg_color'), path, obj.line, self.seg_color_order)
        if color is not None and seg_image is not None:
            binary = np.all(seg_image == np.array(color, dtype=np.uint8), axis=-1)
            if not binary.any():
                raise AnnotationError(f'seg_color {color} does not occur in the segmentation image',
                                      path, obj.find('seg_color').line, reason='missing-mask')
            mask = R.encode(binary)
        instance = build_instance('ship', class_index, path, obj.line, hbox=hbox, rbox=rbox,
                                  difficult=difficult, mask=mask, width=width, height=height)
        class_id = obj.findtext('Class_ID')
        if class_id:
            instance.origin += f' Class_ID={class_id}'
        return instance
