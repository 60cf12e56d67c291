"""Instance mask IoU of prompted segmentation: the SAMRS paper's mIoU_I and mIoU_P (Eq. 1).

Each predicted mask i is compared with the ground-truth mask of the same object (the
prompt came from that object's box, so predictions and ground truth are paired by
position, no matching is involved). With intersection ``I_i`` and union ``U_i``:

* ``mIoU_I = mean_i(I_i / U_i)``: every instance counts the same;
* ``mIoU_P = sum_i I_i / sum_i U_i``: every pixel counts the same (large objects dominate).

An instance whose prediction and ground truth are both empty (``U_i = 0``) agrees
perfectly: its IoU is 1 and it adds nothing to ``mIoU_P``'s sums. Values are fractions in
``[0, 1]``; tables print them in percent like the paper.

Masks can be given as boolean arrays or as COCO RLE dicts (``counts`` as str or bytes);
RLE pairs are compared without decoding (pycocotools).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmseg.registry import METRICS

__all__ = ['intersection_union', 'paired_intersection_union', 'miou_instance', 'miou_pixel',
           'InstanceIoUAccumulator', 'InstanceMaskIoUMetric']

MaskLike = Union[np.ndarray, dict]


def _as_rle(mask: MaskLike) -> dict:
    """A compressed COCO RLE with bytes counts, as pycocotools' C functions want it."""
    from pycocotools import mask as mask_utils

    from ..structures.rle import pycoco_rle
    if isinstance(mask, dict):
        return pycoco_rle(mask)
    arr = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    if arr.ndim != 2:
        raise ValueError(f'a mask must be 2-D, got shape {arr.shape}')
    return mask_utils.encode(arr)


def _size(mask: MaskLike) -> Tuple[int, int]:
    """``(height, width)`` of a mask given as array or RLE."""
    if isinstance(mask, dict):
        return tuple(int(v) for v in mask['size'])
    return tuple(np.asarray(mask).shape[:2])


def intersection_union(pred: MaskLike, gt: MaskLike) -> Tuple[int, int]:
    """Pixel counts ``(I, U)`` of one predicted and one ground-truth mask of the same size."""
    if _size(pred) != _size(gt):
        raise ValueError(f'mask sizes differ: prediction {_size(pred)}, ground truth {_size(gt)}')
    if not isinstance(pred, dict) and not isinstance(gt, dict):
        p, g = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
        inter = int(np.count_nonzero(p & g))
        return inter, int(np.count_nonzero(p)) + int(np.count_nonzero(g)) - inter
    from pycocotools import mask as mask_utils
    p, g = _as_rle(pred), _as_rle(gt)
    inter = int(mask_utils.area(mask_utils.merge([p, g], intersect=True)))
    return inter, int(mask_utils.area(p)) + int(mask_utils.area(g)) - inter


def paired_intersection_union(preds: Sequence[MaskLike], gts: Sequence[MaskLike]) -> np.ndarray:
    """``(N, 2)`` int64 array of ``(I_i, U_i)`` for masks paired by position."""
    if len(preds) != len(gts):
        raise ValueError(f'{len(preds)} predicted masks but {len(gts)} ground-truth masks: '
                         'prompted predictions pair with ground truth one to one')
    out = np.zeros((len(preds), 2), dtype=np.int64)
    for i, (p, g) in enumerate(zip(preds, gts)):
        out[i] = intersection_union(p, g)
    return out


def _split(inter_union) -> Tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(inter_union, dtype=np.float64).reshape(-1, 2)
    inter, union = arr[:, 0], arr[:, 1]
    if np.any(inter < 0) or np.any(inter > union):
        raise ValueError('every instance needs 0 <= I_i <= U_i')
    return inter, union


def miou_instance(inter_union) -> float:
    """``mean_i(I_i / U_i)`` over ``(N, 2)`` rows of ``(I_i, U_i)``; NaN when N = 0."""
    inter, union = _split(inter_union)
    if inter.size == 0:
        return float('nan')
    ious = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return float(ious.mean())


def miou_pixel(inter_union) -> float:
    """``sum_i I_i / sum_i U_i`` over ``(N, 2)`` rows of ``(I_i, U_i)``; NaN when N = 0.

    1.0 when there are instances but every union is empty (all of them agree on nothing).
    """
    inter, union = _split(inter_union)
    if inter.size == 0:
        return float('nan')
    total = union.sum()
    return float(inter.sum() / total) if total > 0 else 1.0


class InstanceIoUAccumulator:
    """Collects ``(I_i, U_i)`` pairs image by image and reports both metrics."""

    def __init__(self) -> None:
        self._parts: List[np.ndarray] = []

    def add(self, preds: Sequence[MaskLike], gts: Sequence[MaskLike]) -> np.ndarray:
        """Add one image's paired masks; returns their ``(I, U)`` rows."""
        rows = paired_intersection_union(preds, gts)
        self._parts.append(rows)
        return rows

    def add_counts(self, inter_union) -> None:
        """Add precomputed ``(I, U)`` rows."""
        self._parts.append(np.asarray(inter_union, dtype=np.int64).reshape(-1, 2))

    @property
    def counts(self) -> np.ndarray:
        """All ``(I, U)`` rows so far, ``(N, 2)``."""
        if not self._parts:
            return np.zeros((0, 2), dtype=np.int64)
        return np.concatenate(self._parts, axis=0)

    def __len__(self) -> int:
        return int(sum(len(p) for p in self._parts))

    def result(self) -> Dict[str, float]:
        """``{'mIoU_I': ..., 'mIoU_P': ..., 'instances': N}`` (fractions, not percent)."""
        counts = self.counts
        return dict(mIoU_I=miou_instance(counts), mIoU_P=miou_pixel(counts), instances=len(counts))


def _masks_of(instances, key: str, where: str) -> List[np.ndarray]:
    """Bool ``(H, W)`` masks of an mmdet ``InstanceData`` (tensor, BitmapMasks or array)."""
    masks = instances.get('masks', None) if hasattr(instances, 'get') else getattr(instances, 'masks', None)
    if masks is None:
        raise KeyError(f'{where}: {key} has no "masks"')
    if hasattr(masks, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        masks = masks.to_ndarray()
    if hasattr(masks, 'detach'):
        masks = masks.detach().cpu().numpy()
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[None]
    return [m.astype(bool) for m in masks]


@METRICS.register_module()
class InstanceMaskIoUMetric(BaseMetric):
    """mIoU_I and mIoU_P of prompted instance masks, registered for mmengine evaluators.

    Each data sample carries ``pred_instances.masks`` and ``gt_instances.masks`` in the same
    order (prediction ``i`` was prompted by ground-truth object ``i``), e.g. from a model
    that segments given boxes or from the ``SAMAnnotate`` transform. Reports the two values
    in percent, as the paper's Table 1.
    """

    default_prefix: Optional[str] = 'prompt'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the ``(I, U)`` rows of each sample."""
        for sample in data_samples:
            where = sample.get('img_path', '<sample>') if hasattr(sample, 'get') else '<sample>'
            preds = _masks_of(sample['pred_instances'], 'pred_instances', where)
            gts = _masks_of(sample['gt_instances'], 'gt_instances', where)
            self.results.append(paired_intersection_union(preds, gts))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Both metrics in percent over every collected instance."""
        counts = np.concatenate(results, axis=0) if results else np.zeros((0, 2), dtype=np.int64)
        logger = MMLogger.get_current_instance()
        logger.info(f'instance mask IoU over {len(counts)} instances')
        return dict(mIoU_I=100.0 * miou_instance(counts), mIoU_P=100.0 * miou_pixel(counts))

