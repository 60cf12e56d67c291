"""samrs_mm.structures: the data every stage shares, with no OpenMMLab and no torch.

* :mod:`.record`: :class:`ImageRecord` / :class:`Instance`, what readers produce;
* :mod:`.boxes`: box conversions and the one place an object's boxes are completed and
  checked (:func:`complete_boxes`, :func:`check_boxes`, :class:`BoxError`);
* :mod:`.rle`: COCO run-length encoding of masks (encode, decode, windows, counts spellings);
* :mod:`.classes`: the SAMRS class lists in label order (and how a command line names one);
* :mod:`.errors`: :class:`AnnotationError`, the bad-input error naming file and line.
"""
from .boxes import BoxError, ObjectBoxes, check_boxes, complete_boxes
from .classes import FAST_CLASSES, IGNORE_INDEX, SAMRS_CLASS_LISTS, SIOR_CLASSES, SOTA_CLASSES, class_list_from_text
from .errors import AnnotationError
from .record import ImageRecord, Instance

__all__ = ['BoxError', 'ObjectBoxes', 'check_boxes', 'complete_boxes', 'FAST_CLASSES', 'IGNORE_INDEX',
           'SAMRS_CLASS_LISTS', 'SIOR_CLASSES', 'SOTA_CLASSES', 'class_list_from_text', 'AnnotationError',
           'ImageRecord', 'Instance']
