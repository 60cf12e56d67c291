"""Normalising, padding and stacking a batch of multi-task samples."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from torch import Tensor


def add_background_class(label: Tensor, ignore_index: int = 255) -> Tensor:
    """MTP's ``background=True`` labels: classes shifted by one, uncovered pixels class 0."""
    return torch.where(label == ignore_index, torch.zeros_like(label), label + 1)


@MODELS.register_module()
class MultiTaskDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` for :class:`~samrs_mm.datasets.multitask_sample.MultiTaskDataSample`.

    Everything of the stock preprocessor stays (normalisation, padding the images to a
    multiple of ``pad_size_divisor``, ``pad_mask`` for the instance masks, horizontal boxes to
    tensors; the rotated boxes stay ``RotatedBoxes`` as mmrotate keeps them). The semantic map
    is mmseg's ``gt_sem_seg.data`` (mmdet pads ``gt_sem_seg.sem_seg``): with ``pad_seg`` it is
    padded to the batch shape with ``seg_pad_value`` (ignored), after the background shift.

    Args:
        background (bool): MTP's background class: during training, uncovered pixels
            (``seg_pad_value``) become class 0 and the classes move up by one, before the
            padding (which stays ignored). The multi-task model sets it from its own
            ``background`` switch.
        **kwargs: arguments of mmdet's ``DetDataPreprocessor``.
    """

    def __init__(self, *args, background: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.background = background

    def pad_gt_sem_seg(self, batch_data_samples: Sequence) -> None:
        """Shift (``background``) and pad ``gt_sem_seg.data`` to the batch input shape."""
        for sample in batch_data_samples:
            if 'gt_sem_seg' not in sample:
                continue
            label = sample.gt_sem_seg.data
            if self.background:
                label = add_background_class(label, self.seg_pad_value)
            height, width = label.shape[-2:]
            pad_h, pad_w = sample.batch_input_shape
            label = F.pad(label, pad=(0, max(pad_w - width, 0), 0, max(pad_h - height, 0)), mode='constant',
                          value=self.seg_pad_value)
            sample.gt_sem_seg = PixelData(data=label)
