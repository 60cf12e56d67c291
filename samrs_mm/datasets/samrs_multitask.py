"""The SAMRS subsets for multi-task pre-training: semantic map, instances and rotated boxes of an image.

``SOTAMultiTaskDataset`` / ``SIORMultiTaskDataset`` / ``FASTMultiTaskDataset`` (mmseg's
``DATASETS``; multi-task configs run in the mmseg scope) extend the instance datasets of
:mod:`samrs_mm.datasets.samrs_instances`: the same name lists, images, per-image instance
files and class orders (docs/samrs_tasks.md), plus for every listed image

* ``seg_map_path``: its semantic label PNG, ``<data_prefix['seg']>/<name>.png`` (class index
  in the subset's list, 255 where no mask covers the pixel: the SEP datasets' labels);
* per object, besides ``bbox`` (the box of its mask), ``bbox_label``, ``mask`` (RLE) and
  ``ignore_flag``: ``rbox``, its rotated box ``(cx, cy, w, h, theta)`` in mmrotate's ``le90``
  from ``rbox_source`` (``'annotation'``: the source's R-Box, a horizontal box at angle 0
  where the source had none; ``'mask'``: the minimum-area rectangle of the SAM mask), as the
  rotated datasets of :mod:`samrs_mm.datasets.samrs_rotated` take it.

So the three targets of one image describe the same objects; the pipeline
(``LoadAnnotations`` + ``LoadRotatedBoxes`` + ``PackMultiTaskInputs``,
:mod:`samrs_mm.datasets.multitask_transforms`) keeps them aligned through the augmentations.
Nothing here imports mmrotate.
"""
from __future__ import annotations

import os.path as osp
from typing import List

from mmengine.logging import print_log
from mmseg.registry import DATASETS

from ..structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES
from .samrs import make_palette
from .samrs_instances import SAMRSInstanceDataset
from .samrs_objects import RBOX_SOURCES, object_rbox

__all__ = ['SAMRSMultiTaskDataset', 'SOTAMultiTaskDataset', 'SIORMultiTaskDataset', 'FASTMultiTaskDataset',
           'SAMRS_MULTITASK_DATASETS']


class SAMRSMultiTaskDataset(SAMRSInstanceDataset):
    """Base of the three SAMRS multi-task datasets (see the module docstring).

    Args:
        rbox_source: ``'annotation'`` (default) or ``'mask'``.
        seg_map_suffix: extension of the semantic label files. Defaults to ``'.png'``.
        data_prefix: ``img`` (images), ``ins`` (instance files) and ``seg`` (semantic labels),
            relative to ``data_root``; default ``dict(img='images', ins='instances', seg='semantic')``.
        **kwargs: arguments of the instance datasets (``ann_file`` must be a name list).
    """

    def __init__(self, *args, rbox_source: str = 'annotation', seg_map_suffix: str = '.png',
                 data_prefix: dict = None, **kwargs) -> None:
        if rbox_source not in RBOX_SOURCES:
            raise ValueError(f'{type(self).__name__}: rbox_source must be one of {RBOX_SOURCES}, '
                             f'got {rbox_source!r}')
        self.rbox_source = rbox_source
        self._stand_ins = 0
        super().__init__(*args, seg_map_suffix=seg_map_suffix,
                         data_prefix=dict(data_prefix or dict(img='images', ins='instances', seg='semantic')),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per listed image with its semantic label file and its objects' three targets."""
        if self.ann_file.endswith('.json'):
            raise ValueError(f'{type(self).__name__}: ann_file must be a name list (train.txt / val.txt), '
                             f'got the COCO json {self.ann_file}: the rotated boxes are read from the '
                             'per-image instance files')
        if 'seg' not in self.data_prefix:
            raise ValueError(f'{type(self).__name__}: needs data_prefix["seg"], the folder of the semantic '
                             'label PNGs (semantic/ of the annotate tool, the release\'s gray/)')
        self._stand_ins = 0
        data_list = super().load_data_list()
        if self._stand_ins:
            print_log(f'{type(self).__name__}: {self._stand_ins} objects had only a horizontal box in their '
                      "annotation, used as rotated box at angle 0 (rbox_source='mask' takes the SAM "
                      "mask's rectangle instead)", logger='current')
        return data_list

    def object_info(self, obj) -> dict:
        """The instance of :class:`SAMRSInstanceDataset` plus the object's rotated box (``rbox``)."""
        rbox, horizontal = object_rbox(obj, self.rbox_source)
        self._stand_ins += horizontal
        return dict(super().object_info(obj), rbox=[float(v) for v in rbox])

    def seg_map_path(self, name: str) -> str:
        """``<data_prefix['seg']>/<name><seg_map_suffix>``."""
        return osp.join(self.data_prefix['seg'], name + self.seg_map_suffix)


@DATASETS.register_module()
class SOTAMultiTaskDataset(SAMRSMultiTaskDataset):
    """SOTA (DOTA-v2.0 patches) for multi-task pre-training, 18 classes in the paper's order."""

    METAINFO = dict(classes=SOTA_CLASSES, palette=[tuple(c) for c in make_palette(len(SOTA_CLASSES))])


@DATASETS.register_module()
class SIORMultiTaskDataset(SAMRSMultiTaskDataset):
    """SIOR (DIOR images) for multi-task pre-training, 20 classes in the paper's order."""

    METAINFO = dict(classes=SIOR_CLASSES, palette=[tuple(c) for c in make_palette(len(SIOR_CLASSES))])

    def __init__(self, *args, img_suffix: str = '.jpg', **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, **kwargs)


@DATASETS.register_module()
class FASTMultiTaskDataset(SAMRSMultiTaskDataset):
    """FAST (FAIR1M-2.0 patches) for multi-task pre-training, 37 classes in the paper's order."""

    METAINFO = dict(classes=FAST_CLASSES, palette=[tuple(c) for c in make_palette(len(FAST_CLASSES))])


# Registry name of each subset's multi-task dataset, keyed by the subset name.
SAMRS_MULTITASK_DATASETS = {'sota': 'SOTAMultiTaskDataset', 'sior': 'SIORMultiTaskDataset',
                            'fast': 'FASTMultiTaskDataset'}
