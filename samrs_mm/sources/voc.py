"""Pascal VOC xml reader, for users' own horizontal-box datasets.

One xml per image (``Annotations/xxx.xml``) with ``size/width``, ``size/height`` and
``object`` entries holding ``name``, ``difficult`` and ``bndbox/xmin ymin xmax ymax``.
Coordinates are kept exactly as written (no VOC "minus one" shift). The image is found in
``img_dir`` by the xml's ``filename`` when that file exists, else by the xml's stem with any
image extension (DeepForest's xml says ``.tif`` beside a ``.png``). When the xml gives no
size (or 0), the image header gives it.

Without ``class_list`` the classes are the sorted set of names found in all xml files
(scanned once, on first use); give ``class_list`` to fix the label order.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np

from ..structures.record import ImageRecord, Instance
from .base import AnnotationItem, DetectionSource, build_instance, index_annotation_files, parse_float
from .class_maps import ClassMapper, build_class_mapper
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex, image_size
from .registry import register_source
from .xml_tree import XmlNode, parse_xml

BNDBOX_FIELDS = ('xmin', 'ymin', 'xmax', 'ymax')


def xml_number(node: XmlNode, field: str, ann_path: str) -> float:
    """Float value of ``node/field``; missing or non-numeric raises with the element's line."""
    child = node.find(field)
    if child is None:
        raise AnnotationError(f'<{node.tag}> has no <{field}>', ann_path, node.line,
                              reason='malformed')
    return parse_float(child.text, ann_path, child.line, f'<{field}>')


def xml_image_size(root: XmlNode, ann_path: str):
    """``(width, height)`` from ``size/width|height`` (0, 0 when absent or zero)."""
    size = root.find('size')
    if size is None or size.find('width') is None or size.find('height') is None:
        return 0, 0
    width = xml_number(size, 'width', ann_path)
    height = xml_number(size, 'height', ann_path)
    return max(int(width), 0), max(int(height), 0)


@register_source('voc')
class VOCSource(DetectionSource):
    """Pascal VOC xml reader (horizontal boxes).

    Args:
        ann_dir: folder of ``*.xml`` files.
        img_dir: image folder (or list of folders); default ``JPEGImages`` beside
            ``ann_dir``, else the annotation folder itself.
        split_file: optional file listing the image stems to read.
        **kwargs: see :class:`~samrs_mm.sources.base.DetectionSource`.
    """

    default_class_list = None
    default_img_dirs = ('JPEGImages',)
    # Where the xml keeps the image file name and the objects (FAIR1M nests both deeper).
    filename_path = 'filename'
    object_path = 'object'

    def __init__(self, ann_dir: str, img_dir: Union[None, str, Sequence[str]] = None,
                 split_file: Optional[str] = None, **kwargs):
        if not osp.isdir(ann_dir):
            raise FileNotFoundError(f'{self.name.upper()} annotation folder not found: {ann_dir}')
        self.ann_dir = ann_dir
        self.split_file = split_file
        if img_dir is None:
            img_dir = self._default_img_dir(ann_dir)
        self.img_dir = img_dir
        super().__init__(**kwargs)
        self._images = ImageIndex(img_dir)

    def _dataset_root(self, ann_dir: str) -> str:
        return osp.dirname(osp.normpath(ann_dir))

    def _default_img_dir(self, ann_dir: str):
        root = self._dataset_root(ann_dir)
        found = [osp.join(root, d) for d in self.default_img_dirs if osp.isdir(osp.join(root, d))]
        return found or [ann_dir]

    def _index(self) -> List[AnnotationItem]:
        return index_annotation_files(self.ann_dir, '.xml', self.split_file, 'xml',
                                      ignore_case=True)

    def _build_mapper(self) -> ClassMapper:
        if self.class_list is None and self.default_class_list is None:
            return ClassMapper(self.scan_class_names(), None, self.class_map)
        return build_class_mapper(self.name, self.class_list, self.default_class_list,
                                  self.class_map)

    def scan_class_names(self) -> List[str]:
        """Sorted set of object names over all xml files (unparsable files are left out)."""
        names = set()
        for item in self._items:
            try:
                root = parse_xml(item.ann_path)
            except AnnotationError:
                continue
            names.update(node.text for node in root.findall('object/name') if node.text)
        names.update(self.class_map.values())
        if not names:
            raise ValueError(f'no object names found in {self.ann_dir}; pass class_list')
        return sorted(names)

    def _item_paths(self, item: AnnotationItem):
        path = self._images.lookup(item.stem) or self._images.expected_path(item.stem)
        return path, item.ann_path

    def _read(self, item: AnnotationItem, stats: ReadStats) -> ImageRecord:
        root = parse_xml(item.ann_path)
        file_name = root.findtext(self.filename_path) or None
        image_path = self._image_path(self._images, item.stem, item.ann_path, file_name)
        width, height = xml_image_size(root, item.ann_path)
        if (width == 0 or height == 0) and osp.isfile(image_path):
            width, height = image_size(image_path)
        objects = root.findall(self.object_path)
        instances: List[Instance] = []
        for obj in objects:
            try:
                instances.append(self._parse_object(obj, item.ann_path, width, height))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        self._empty_check(instances, len(objects), item.ann_path)
        return ImageRecord(image_path=image_path, width=width, height=height,
                           instances=instances, source=self.name, ann_path=item.ann_path)

    def _parse_object(self, obj: XmlNode, path: str, width: int, height: int) -> Instance:
        name_node = obj.find('name')
        if name_node is None or not name_node.text:
            raise AnnotationError('<object> has no <name>', path, obj.line, reason='malformed')
        difficult = self._difficult(obj, path)
        class_index = self._class_index(name_node.text, path, name_node.line)
        return self._geometry(obj, name_node.text, class_index, difficult, path, width, height)

    @staticmethod
    def _difficult(obj: XmlNode, path: str) -> bool:
        node = obj.find('difficult')
        if node is None or node.text == '':
            return False
        return parse_float(node.text, path, node.line, '<difficult>') != 0

    def _geometry(self, obj: XmlNode, name: str, class_index: int, difficult: bool, path: str,
                  width: int, height: int) -> Instance:
        box = obj.find('bndbox')
        if box is None:
            raise AnnotationError('<object> has no <bndbox>', path, obj.line, reason='malformed')
        hbox = np.array([xml_number(box, f, path) for f in BNDBOX_FIELDS])
        return build_instance(name, class_index, path, box.line, hbox=hbox, difficult=difficult,
                              width=width, height=height)
