"""The SAMRS subsets as mmrotate rotated-box datasets (Oriented R-CNN and friends).

Importing this module imports mmrotate 1.0.0rc1 (through :func:`samrs_mm.compat.import_mmrotate`)
and registers mmrotate's own modules, so it is NOT imported by ``import samrs_mm``: rotated
configs list it, ``custom_imports = dict(imports=['samrs_mm', 'samrs_mm.datasets.samrs_rotated'])``
(``configs/_base_/rotated_runtime.py`` does).

``SOTARotatedDataset`` / ``SIORRotatedDataset`` / ``FASTRotatedDataset`` (mmrotate's
``DATASETS``) read the same layout, name lists (``ann_file``) and class orders as the SEP and
instance datasets: each listed image's objects from its per-image instance file under
``data_prefix['ins']`` (:mod:`samrs_mm.datasets.samrs_objects`). Each object's rotated box
(``le90``) comes from

* ``rbox_source='annotation'`` (default): the source annotation's R-Box, which the annotate
  tool keeps in ``instances/<stem>.json`` (DOTA / FAIR1M quadrilaterals, DIOR-R ``robndbox``;
  the FAST release pickles keep the corners too). Objects whose source had only a horizontal
  box (DIOR's ``bndbox``, the H-Box release pickles) get that box at angle 0, and the log
  says how many;
* ``rbox_source='mask'``: the minimum-area rectangle around the SAM mask's pixels.

Instances carry the box as its four corners (``qbox``), exactly as mmrotate's ``DOTADataset``
does, so mmrotate's DOTA pipelines apply unchanged (``LoadAnnotations(box_type='qbox')`` then
``ConvertBoxType(box_type_mapping=dict(gt_bboxes='rbox'))``) and ``DOTAMetric`` evaluates.
"""
from __future__ import annotations

import os.path as osp
from typing import List

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..compat import import_mmrotate
from ..sources.base import read_split_file
from ..structures import boxes as G
from ..structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES
from .samrs import make_palette
from .samrs_objects import RBOX_SOURCES, load_subset_objects, object_rbox

import_mmrotate()
from mmrotate.registry import DATASETS  # noqa: E402
from mmrotate.utils import register_all_modules  # noqa: E402

# mmrotate 1.0.0rc1's registries have no import locations: its models, transforms and
# metrics register only when their modules are imported (its own tools call this too).
register_all_modules(init_default_scope=False)

__all__ = ['SAMRSRotatedDataset', 'SOTARotatedDataset', 'SIORRotatedDataset', 'FASTRotatedDataset',
           'SAMRS_ROTATED_DATASETS']


class SAMRSRotatedDataset(BaseDataset):
    """Base of the three SAMRS rotated-box datasets (see the module docstring).

    Args:
        rbox_source: ``'annotation'`` or ``'mask'`` (see the module docstring).
        img_suffix: image extension for instance files that do not record the image name.
        ignore_difficult: mark source-``difficult`` objects as ignored (``ignore_flag=1``).
        data_prefix: ``img_path`` (images) and ``ins`` (instance files), relative to
            ``data_root``; default ``dict(img_path='images', ins='instances')``.
    """

    METAINFO: dict = dict(classes=(), palette=[])

    def __init__(self, *args, rbox_source: str = 'annotation', img_suffix: str = '.png',
                 ignore_difficult: bool = False, data_prefix: dict = None, **kwargs) -> None:
        if rbox_source not in RBOX_SOURCES:
            raise ValueError(f'{type(self).__name__}: rbox_source must be one of {RBOX_SOURCES}, '
                             f'got {rbox_source!r}')
        self.rbox_source = rbox_source
        self.img_suffix = img_suffix
        self.ignore_difficult = ignore_difficult
        super().__init__(*args, data_prefix=dict(data_prefix or dict(img_path='images', ins='instances')),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per listed image: path, size and the objects as ``qbox`` instances."""
        if not self.ann_file or not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: name list {self.ann_file!r} not found '
                                    '(train.txt / val.txt of tools/make_splits.py, or the release\'s lists)')
        if 'ins' not in self.data_prefix:
            raise ValueError(f'{type(self).__name__}: needs data_prefix["ins"], the folder of the '
                             'per-image instance files (instances/ or the release\'s ins/)')
        images, counts = load_subset_objects(read_split_file(self.ann_file), self.data_prefix['ins'],
                                             self.data_prefix.get('img_path', ''),
                                             tuple(self.metainfo['classes']), self.img_suffix)
        data_list, stand_ins = [], 0
        for name, img_path, info in images:
            instances = []
            for obj in info.objects:
                rbox, horizontal = object_rbox(obj, self.rbox_source)
                stand_ins += horizontal
                instances.append(dict(bbox=[float(v) for v in G.rbox_to_quad(rbox).reshape(8)],
                                      bbox_label=obj.class_index,
                                      ignore_flag=int(obj.ignore or (self.ignore_difficult and obj.difficult))))
            data_list.append(dict(img_path=img_path, img_id=name, file_name=osp.basename(img_path),
                                  height=int(info.height), width=int(info.width), instances=instances))
        note = (f'; {stand_ins} had only a horizontal box in their annotation, used at angle 0 '
                "(rbox_source='mask' takes the SAM mask's rectangle instead)" if stand_ins else '')
        print_log(f'{type(self).__name__}: {counts["images"]} images, {counts["objects"]} objects from '
                  f'{self.ann_file}, rotated boxes from the {self.rbox_source} '
                  f'({counts["empty_masks"]} empty masks left out{note})', logger='current')
        return data_list

    def filter_data(self) -> List[dict]:
        """``filter_cfg.filter_empty_gt`` drops training images without objects (as DOTADataset)."""
        if self.test_mode or not (self.filter_cfg or {}).get('filter_empty_gt', False):
            return self.data_list
        return [info for info in self.data_list if info['instances']]

    def get_cat_ids(self, idx: int) -> List[int]:
        """Labels of the objects of image ``idx``."""
        return [instance['bbox_label'] for instance in self.get_data_info(idx)['instances']]


@DATASETS.register_module()
class SOTARotatedDataset(SAMRSRotatedDataset):
    """SOTA rotated boxes (DOTA-v2.0 patches), 18 classes in the paper's order."""

    METAINFO = dict(classes=SOTA_CLASSES, palette=[tuple(c) for c in make_palette(len(SOTA_CLASSES))])


@DATASETS.register_module()
class SIORRotatedDataset(SAMRSRotatedDataset):
    """SIOR rotated boxes (DIOR images), 20 classes in the paper's order."""

    METAINFO = dict(classes=SIOR_CLASSES, palette=[tuple(c) for c in make_palette(len(SIOR_CLASSES))])

    def __init__(self, *args, img_suffix: str = '.jpg', **kwargs) -> None:
        super().__init__(*args, img_suffix=img_suffix, **kwargs)


@DATASETS.register_module()
class FASTRotatedDataset(SAMRSRotatedDataset):
    """FAST rotated boxes (FAIR1M-2.0 patches), 37 classes in the paper's order."""

    METAINFO = dict(classes=FAST_CLASSES, palette=[tuple(c) for c in make_palette(len(FAST_CLASSES))])


# Registry name of each subset's rotated dataset, keyed by the subset name.
SAMRS_ROTATED_DATASETS = {'sota': 'SOTARotatedDataset', 'sior': 'SIORRotatedDataset',
                          'fast': 'FASTRotatedDataset'}
