"""The SAMRS subsets as mmseg datasets: SOTA (DOTA-v2), SIOR (DIOR), FAST (FAIR1M-2.0).

Each reads two layouts (see docs/sep.md):

* the official SAMRS release / any "images + gray PNG labels + split list" layout:
  ``ann_file`` is a text file with one image name (no extension) per line, e.g.
  ``train.txt`` / ``valid.txt``; images are ``<img_path>/<name><img_suffix>`` and labels
  ``<seg_map_path>/<name>.png``;
* the output of ``tools/samrs_annotate.py``: ``ann_file`` is its merged COCO json
  (``annotations.json``); ``images[*].file_name`` is relative to ``img_path`` and the
  semantic labels are ``<seg_map_path>/<stem>.png``.

Without ``ann_file`` every image under ``img_path`` is used (mmseg's default behaviour).
Label pixels hold the class index in the subset's list; 255 is ignored.
"""
from __future__ import annotations

import colorsys
import json
import os.path as osp
from typing import List, Sequence, Tuple

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from samrs_mm.structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES


def make_palette(num_classes: int) -> List[List[int]]:
    """Return ``num_classes`` distinct RGB colours, the same on every machine.

    Hues step by the golden ratio so neighbouring class indices get far-apart colours;
    saturation and value alternate to separate hues that come close again.
    """
    palette = []
    for index in range(num_classes):
        hue = (index * 0.618033988749895) % 1.0
        saturation = 0.65 if index % 2 == 0 else 0.95
        value = 0.95 if index % 3 else 0.75
        red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
        palette.append([int(round(red * 255)), int(round(green * 255)), int(round(blue * 255))])
    return palette


class SAMRSDataset(BaseSegDataset):
    """Base of the three SAMRS subsets: class list, palette and the two file layouts."""

    METAINFO: dict = dict(classes=(), palette=[])

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the split list, the annotate tool's COCO json, or the image folder."""
        if self.ann_file and self.ann_file.endswith('.json'):
            return self._load_from_coco(self.ann_file)
        if self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: split list {self.ann_file} not found')
        return super().load_data_list()

    def _load_from_coco(self, json_path: str) -> List[dict]:
        if not osp.isfile(json_path):
            raise FileNotFoundError(f'{type(self).__name__}: annotation file {json_path} not found')
        try:
            with open(json_path) as f:
                images = json.load(f)['images']
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f'{json_path}: not a COCO json with an "images" list ({error})') from None
        img_dir = self.data_prefix.get('img_path', '') or ''
        ann_dir = self.data_prefix.get('seg_map_path', None)
        data_list = []
        for image in images:
            file_name = image['file_name']
            data_info = dict(img_path=osp.join(img_dir, file_name), label_map=self.label_map,
                             reduce_zero_label=self.reduce_zero_label, seg_fields=[])
            if ann_dir is not None:
                stem = osp.splitext(osp.basename(file_name))[0]
                data_info['seg_map_path'] = osp.join(ann_dir, stem + self.seg_map_suffix)
            data_list.append(data_info)
        return sorted(data_list, key=lambda info: info['img_path'])


@DATASETS.register_module()
class SOTADataset(SAMRSDataset):
    """SOTA: DOTA-v2.0 crops (1024x1024) with SAM labels, 18 classes (paper order)."""

    METAINFO = dict(classes=SOTA_CLASSES, palette=make_palette(len(SOTA_CLASSES)))


@DATASETS.register_module()
class SIORDataset(SAMRSDataset):
    """SIOR: DIOR images (800x800) with SAM labels, 20 classes (paper order)."""

    METAINFO = dict(classes=SIOR_CLASSES, palette=make_palette(len(SIOR_CLASSES)))

    def __init__(self, img_suffix: str = '.jpg', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, **kwargs)


@DATASETS.register_module()
class FASTDataset(SAMRSDataset):
    """FAST: FAIR1M-2.0 crops (600x600) with SAM labels, 37 classes (paper order)."""

    METAINFO = dict(classes=FAST_CLASSES, palette=make_palette(len(FAST_CLASSES)))


# Registry name of each subset's dataset class, keyed by the subset name (the TagSubset tag).
SAMRS_DATASETS = {'sota': 'SOTADataset', 'sior': 'SIORDataset', 'fast': 'FASTDataset'}


def samrs_class_counts(subsets: Sequence[str]) -> Tuple[int, ...]:
    """Number of classes of each named SAMRS subset, in the given order."""
    return tuple(len(DATASETS.get(SAMRS_DATASETS[name]).METAINFO['classes']) for name in subsets)
