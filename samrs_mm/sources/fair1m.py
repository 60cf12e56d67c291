"""FAIR1M 1.0 / 2.0 xml reader.

One xml per image in ``labelXml/`` (images in ``images/`` beside it)::

    <annotation>
      <source><filename>0.tif</filename></source>
      <size><width>..</width><height>..</height></size>
      <objects><object>
        <possibleresult><name>Dry Cargo Ship</name></possibleresult>
        <points><point>x,y</point> x5 </points>      the 5th point repeats the 1st
      </object></objects>
    </annotation>

The four corners are kept as the quad (hbox = hull, rbox = minimum-area rectangle). Names
with spaces (``'Small Car'``) map to FAST's hyphenated names by the explicit table.
"""
from __future__ import annotations

import numpy as np

from ..structures.record import Instance
from .base import build_instance, parse_float
from .errors import AnnotationError
from .registry import register_source
from .voc import VOCSource
from .xml_tree import XmlNode


@register_source('fair1m')
class FAIR1MSource(VOCSource):
    """FAIR1M xml reader (``class_list`` defaults to ``'fast'``).

    Args:
        ann_dir: the ``labelXml`` folder.
        img_dir: image folder; default ``images`` beside ``labelXml``.
        split_file: optional list of image stems.
    """

    default_class_list = 'fast'
    default_img_dirs = ('images',)
    filename_path = 'source/filename'
    object_path = 'objects/object'

    def _parse_object(self, obj: XmlNode, path: str, width: int, height: int) -> Instance:
        name_node = obj.find('possibleresult/name')
        if name_node is None or not name_node.text:
            raise AnnotationError('<object> has no <possibleresult><name>', path, obj.line,
                                  reason='malformed')
        point_nodes = obj.findall('points/point')
        points = [self._point(node, path) for node in point_nodes]
        if len(points) == 5 and np.allclose(points[0], points[4]):
            points = points[:4]
        if len(points) != 4:
            line = point_nodes[0].line if point_nodes else obj.line
            raise AnnotationError(
                f'expected 4 corner points (5 with the first repeated), got {len(point_nodes)}',
                path, line, reason='malformed')
        class_index = self._class_index(name_node.text, path, name_node.line)
        return build_instance(name_node.text, class_index, path, point_nodes[0].line,
                              quad=np.array(points), width=width, height=height)

    @staticmethod
    def _point(node: XmlNode, path: str):
        parts = node.text.split(',')
        if len(parts) != 2:
            raise AnnotationError(f'a <point> must be "x,y", got {node.text!r}', path, node.line,
                                  reason='malformed')
        return [parse_float(p, path, node.line, 'point coordinate') for p in parts]
