"""samrs_mm.sources: detection-annotation readers, one record type, box geometry, patch cropping.

Entry points:

* :func:`build_source` / :data:`SOURCES`: readers by name (``'dota'``, ``'dior'``,
  ``'fair1m'``, ``'hrsc'``, ``'isaid'``, ``'coco'``, ``'voc'``), each a lazy sequence of
  :class:`ImageRecord`;
* :func:`load_image`: the one way to read an image as ``HxWx3`` uint8 RGB;
* :mod:`.geometry`: numpy box conversions (quad / rbox / hbox);
* :mod:`.split`: cropping large images into patches (``tools/split_images.py``).
"""
from . import geometry
from .base import DetectionSource
from .class_maps import ClassMapper, SOURCE_TO_SAMRS
from .classes import FAST_CLASSES, IGNORE_INDEX, SAMRS_CLASS_LISTS, SIOR_CLASSES, SOTA_CLASSES
from .coco import COCOSource
from .dior import DIORSource
from .dota import DOTASource
from .errors import AnnotationError, ImageReadError, ReadStats
from .fair1m import FAIR1MSource
from .hrsc import HRSCSource
from .image_io import load_image, read_georef
from .isaid import ISAIDSource
from .record import ImageRecord, Instance
from .registry import SOURCES, build_source, register_source
from .voc import VOCSource

__all__ = [
    'geometry', 'DetectionSource', 'ClassMapper', 'SOURCE_TO_SAMRS', 'SAMRS_CLASS_LISTS',
    'SOTA_CLASSES', 'SIOR_CLASSES', 'FAST_CLASSES', 'IGNORE_INDEX', 'DOTASource',
    'DIORSource', 'FAIR1MSource', 'HRSCSource', 'ISAIDSource', 'COCOSource', 'VOCSource',
    'AnnotationError', 'ImageReadError', 'ReadStats', 'load_image', 'read_georef',
    'ImageRecord', 'Instance', 'SOURCES', 'build_source', 'register_source',
]
