"""DIOR (``bndbox``) and DIOR-R (``robndbox``) xml reader.

DIOR's layout::

    DIOR/JPEGImages-trainval/, JPEGImages-test/        (or one JPEGImages/)
    DIOR/Annotations/Horizontal Bounding Boxes/*.xml   VOC ``bndbox``
    DIOR/Annotations/Oriented Bounding Boxes/*.xml     DIOR-R ``robndbox``
    DIOR/ImageSets/Main/{train,val,test}.txt           split files (``split_file``)

Point ``ann_dir`` at either annotation folder; each object is read from the ``robndbox``
when it has one (four named corners ``x_left_top .. y_left_bottom``: quad kept, hbox = hull,
rbox = minimum-area rectangle; the redundant ``angle`` element is not used because the
corners define the box) and from the ``bndbox`` otherwise (hbox only). Class names are
DIOR's mixed-case spellings, mapped to SIOR by the explicit table of
:mod:`~samrs_mm.sources.class_maps`.
"""
from __future__ import annotations

import os.path as osp

import numpy as np

from ..structures.record import Instance
from .base import build_instance
from .registry import register_source
from .voc import VOCSource, xml_number
from .xml_tree import XmlNode

# Corner order as DOTA (top-left, top-right, bottom-right, bottom-left: clockwise on screen).
ROBNDBOX_FIELDS = (('x_left_top', 'y_left_top'), ('x_right_top', 'y_right_top'),
                   ('x_right_bottom', 'y_right_bottom'), ('x_left_bottom', 'y_left_bottom'))


@register_source('dior')
class DIORSource(VOCSource):
    """DIOR / DIOR-R reader (``class_list`` defaults to ``'sior'``).

    Args:
        ann_dir: ``Annotations/Horizontal Bounding Boxes`` or ``.../Oriented Bounding Boxes``.
        img_dir: image folder(s); default: every ``JPEGImages*`` folder of the DIOR root.
        split_file: e.g. ``ImageSets/Main/trainval.txt``.
    """

    default_class_list = 'sior'
    default_img_dirs = ('JPEGImages', 'JPEGImages-trainval', 'JPEGImages-test')

    def _dataset_root(self, ann_dir: str) -> str:
        parent = osp.dirname(osp.normpath(ann_dir))
        # Annotations/<kind>/ -> the DIOR root is two levels up.
        if osp.basename(parent) == 'Annotations':
            return osp.dirname(parent)
        return parent

    def _geometry(self, obj: XmlNode, name: str, class_index: int, difficult: bool, path: str,
                  width: int, height: int) -> Instance:
        rbox_node = obj.find('robndbox')
        if rbox_node is None:
            return super()._geometry(obj, name, class_index, difficult, path, width, height)
        quad = np.array([[xml_number(rbox_node, fx, path), xml_number(rbox_node, fy, path)]
                         for fx, fy in ROBNDBOX_FIELDS])
        return build_instance(name, class_index, path, rbox_node.line, quad=quad,
                              difficult=difficult, width=width, height=height)
