"""samrs_mm.sources: the readers of source detection datasets, each giving one record type.

A *source* is the detection dataset labels are made from; its *reader* turns it into
:class:`~samrs_mm.structures.record.ImageRecord` objects. Entry points:

* :func:`build_source` / :data:`SOURCES`: readers by name (``'dota'``, ``'dior'``,
  ``'fair1m'``, ``'hrsc'``, ``'isaid'``, ``'coco'``, ``'voc'``), each a lazy sequence of
  records;
* :func:`load_image`: the one way to read an image as ``HxWx3`` uint8 RGB;
* the class tables that map each source's names onto the SAMRS class lists (``class_maps``).

Records, boxes, masks and the class lists themselves live in :mod:`samrs_mm.structures`;
cutting images into patches is the stage :mod:`samrs_mm.patches`.
"""
from .base import DetectionSource, duplicate_stems, duplicate_stems_message
from .class_maps import SOURCE_TO_SAMRS, ClassMapper
from .coco import COCOSource
from .dior import DIORSource
from .dota import DOTASource
from .errors import AnnotationError, ImageReadError, ReadStats
from .fair1m import FAIR1MSource
from .hrsc import HRSCSource
from .image_io import load_image, read_georef
from .isaid import ISAIDSource
from .registry import SOURCES, build_source, register_source
from .voc import VOCSource

__all__ = [
    'DetectionSource', 'duplicate_stems', 'duplicate_stems_message',
    'ClassMapper', 'SOURCE_TO_SAMRS', 'DOTASource', 'DIORSource', 'FAIR1MSource',
    'HRSCSource', 'ISAIDSource', 'COCOSource', 'VOCSource', 'AnnotationError', 'ImageReadError',
    'ReadStats', 'load_image', 'read_georef', 'SOURCES', 'build_source', 'register_source',
]
