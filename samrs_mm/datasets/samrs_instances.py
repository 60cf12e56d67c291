"""The SAMRS subsets as mmdet instance-segmentation datasets (Mask R-CNN and friends).

``SOTAInstanceDataset`` / ``SIORInstanceDataset`` / ``FASTInstanceDataset`` (mmdet's
``DATASETS``) use the SEP datasets' layout, name lists and class orders (docs/samrs_tasks.md):

* ``ann_file`` a name list (``train.txt`` / ``val.txt`` of ``tools/make_splits.py``, or the
  official release's ``train.txt`` / ``valid.txt``): each listed image's objects come from
  its per-image instance file under ``data_prefix['ins']`` (``instances/<name>.json`` of
  ``tools/samrs_annotate.py``, or the release's ``<name>.pkl``; see
  :mod:`samrs_mm.datasets.samrs_objects`), the image from ``data_prefix['img']``;
* ``ann_file`` a COCO json (the annotate tool's ``annotations.json`` or
  ``annotations_<split>.json``): read by mmdet's ``CocoDataset`` as it is.

Boxes and areas are those of the RLE masks; objects with empty masks are left out. Labels
are positions in the subset's class list (``SOTA_CLASSES`` ...), the order of the semantic
labels. Evaluate with mmdet's ``CocoMetric(metric=['bbox', 'segm'])``: with ``ann_file=None``
it builds the ground truth from the dataset (``'instances'`` must be in ``PackDetInputs``'
``meta_keys``, as the shipped configs do).
"""
from __future__ import annotations

import os.path as osp
from collections import defaultdict
from typing import List

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from ..sources.base import read_split_file
from ..structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES
from .samrs import make_palette
from .samrs_objects import load_subset_objects

__all__ = ['SAMRSInstanceDataset', 'SOTAInstanceDataset', 'SIORInstanceDataset', 'FASTInstanceDataset',
           'SAMRS_INSTANCE_DATASETS']


class SAMRSInstanceDataset(CocoDataset):
    """Base of the three SAMRS instance datasets (see the module docstring).

    Args:
        img_suffix: image extension of names from a list whose instance files do not record
            the image name (the official pickles).
        ignore_difficult: mark objects flagged ``difficult`` in the source annotation as
            ignored (``ignore_flag=1``); default False, as the semantic labels include them.
        data_prefix: ``img`` (image folder) and ``ins`` (instance files), relative to
            ``data_root``; default ``dict(img='images', ins='instances')``.
    """

    METAINFO: dict = dict(classes=(), palette=[])

    def __init__(self, *args, img_suffix: str = '.png', ignore_difficult: bool = False,
                 data_prefix: dict = None, **kwargs) -> None:
        self.img_suffix = img_suffix
        self.ignore_difficult = ignore_difficult
        super().__init__(*args, data_prefix=dict(data_prefix or dict(img='images', ins='instances')), **kwargs)

    def load_data_list(self) -> List[dict]:
        """A COCO json through ``CocoDataset``; a name list through the per-image instance files."""
        if self.ann_file.endswith('.json'):
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{type(self).__name__}: annotation file {self.ann_file} not found')
            return super().load_data_list()
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: name list {self.ann_file} not found')
        if 'ins' not in self.data_prefix:
            raise ValueError(f'{type(self).__name__}: a name list needs data_prefix["ins"], the folder of '
                             'the per-image instance files (instances/ or the release\'s ins/)')
        classes = tuple(self.metainfo['classes'])
        images, counts = load_subset_objects(read_split_file(self.ann_file), self.data_prefix['ins'],
                                             self.data_prefix.get('img', ''), classes, self.img_suffix)
        # What CocoDataset.filter_data reads: every class is its own category id.
        self.cat_ids = list(range(len(classes)))
        self.cat2label = {i: i for i in self.cat_ids}
        self.cat_img_map = defaultdict(list)
        data_list = []
        for img_id, (name, img_path, info) in enumerate(images):
            instances = []
            for obj in info.objects:
                instances.append(self.object_info(obj))
                self.cat_img_map[obj.class_index].append(img_id)
            data_list.append(dict(img_path=img_path, img_id=img_id, seg_map_path=self.seg_map_path(name),
                                  height=int(info.height), width=int(info.width), instances=instances))
        print_log(f'{type(self).__name__}: {counts["images"]} images, {counts["objects"]} objects '
                  f'from {self.ann_file} ({counts["empty_masks"]} empty masks left out)', logger='current')
        return data_list

    def object_info(self, obj) -> dict:
        """One object of a listed image as an mmdet instance (box and area from its mask)."""
        return dict(bbox=obj.hbox, bbox_label=obj.class_index, mask=obj.rle,
                    ignore_flag=int(obj.ignore or (self.ignore_difficult and obj.difficult)))

    def seg_map_path(self, name: str):
        """The semantic label file of a listed image (none for instance segmentation)."""
        return None


@DATASETS.register_module()
class SOTAInstanceDataset(SAMRSInstanceDataset):
    """SOTA instances (DOTA-v2.0 patches), 18 classes in the paper's order."""

    METAINFO = dict(classes=SOTA_CLASSES, palette=[tuple(c) for c in make_palette(len(SOTA_CLASSES))])


@DATASETS.register_module()
class SIORInstanceDataset(SAMRSInstanceDataset):
    """SIOR instances (DIOR images), 20 classes in the paper's order."""

    METAINFO = dict(classes=SIOR_CLASSES, palette=[tuple(c) for c in make_palette(len(SIOR_CLASSES))])

    def __init__(self, *args, img_suffix: str = '.jpg', **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, **kwargs)


@DATASETS.register_module()
class FASTInstanceDataset(SAMRSInstanceDataset):
    """FAST instances (FAIR1M-2.0 patches), 37 classes in the paper's order."""

    METAINFO = dict(classes=FAST_CLASSES, palette=[tuple(c) for c in make_palette(len(FAST_CLASSES))])


# Registry name of each subset's instance dataset, keyed by the subset name.
SAMRS_INSTANCE_DATASETS = {'sota': 'SOTAInstanceDataset', 'sior': 'SIORInstanceDataset',
                           'fast': 'FASTInstanceDataset'}
