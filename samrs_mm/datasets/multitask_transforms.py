"""Loading and packing the three targets of multi-task pre-training so they stay aligned.

The pipeline of a multi-task sample is mmdet's (registered in mmseg's ``TRANSFORMS`` only
where ours; mmdet's are named ``mmdet.<name>`` in the configs)::

    LoadImageFromFile
    mmdet.LoadAnnotations(with_bbox, with_mask, with_seg)   instances + semantic map
    LoadRotatedBoxes                                        the same objects' rotated boxes
    TagSubset(subset, subset_index)
    mmdet.RandomResize / mmdet.RandomCrop / mmdet.RandomFlip / RandomRot90 ...
    PackMultiTaskInputs

mmdet's geometric transforms move the image, the instance boxes and masks and the semantic
map together, and each records what it did in ``results['homography_matrix']`` (so does
:class:`~samrs_mm.datasets.transforms.RandomRot90`). The rotated boxes are not touched on
the way: :class:`PackMultiTaskInputs` maps their corners through the transforms applied
after they were loaded (the product of the recorded matrices) and takes the minimum-area
rectangle again, so any chain of recorded flips, 90-degree turns, scalings and crops keeps
them on their objects without a rotated-box version of each transform. At packing time

* instance boxes are recomputed from the transformed masks and objects whose mask left the
  image are dropped (boxes always equal their masks' extent);
* rotated boxes whose centre left the image are dropped (mmrotate's crop rule);
* the semantic map is packed as mmseg does (``gt_sem_seg.data``, int64, 255 = uncovered).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmdet.datasets.transforms import PackDetInputs
from mmengine.structures import InstanceData, PixelData
from mmseg.registry import TRANSFORMS

from ..structures.boxes import quad_to_rbox, rbox_to_quad
from .multitask_sample import MultiTaskDataSample

__all__ = ['LoadRotatedBoxes', 'PackMultiTaskInputs', 'MULTITASK_META_KEYS', 'project_rboxes']

# PackDetInputs' meta keys plus what the multi-task model and metrics read.
MULTITASK_META_KEYS = ('img_id', 'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor',
                       'flip', 'flip_direction', 'subset', 'subset_index')


def project_rboxes(rboxes: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Rotated boxes ``(N, 5)`` (le90) mapped by a 3 x 3 homography: corners, then the
    minimum-area rectangle (exact for flips, 90-degree turns, shifts and uniform scaling)."""
    if len(rboxes) == 0:
        return np.zeros((0, 5), np.float32)
    corners = rbox_to_quad(rboxes)                                     # (N, 4, 2)
    points = np.concatenate([corners, np.ones(corners.shape[:-1] + (1,))], axis=-1)
    mapped = points @ np.asarray(homography, np.float64).T
    return quad_to_rbox(mapped[..., :2] / mapped[..., 2:3]).astype(np.float32)


@TRANSFORMS.register_module()
class LoadRotatedBoxes(BaseTransform):
    """Load every instance's rotated box (``instances[i]['rbox']``, le90) beside mmdet's targets.

    Adds ``gt_rboxes`` ``(N, 5)`` float32, ``gt_rboxes_labels`` ``(N,)`` int64 and
    ``gt_rboxes_ignore_flags`` ``(N,)`` bool, and the homography recorded so far
    (``rboxes_homography``): the boxes stay where the dataset put them and follow only the
    geometric transforms that run after this one (see the module docstring).
    """

    def transform(self, results: dict) -> dict:
        """Read the rotated boxes of ``results['instances']``."""
        instances = results.get('instances', [])
        try:
            rboxes = np.asarray([inst['rbox'] for inst in instances], np.float32).reshape(-1, 5)
        except KeyError:
            raise KeyError(f'{results.get("img_path", "?")}: an instance has no "rbox": use a multi-task '
                           'dataset (SOTAMultiTaskDataset, ...) with LoadRotatedBoxes') from None
        results['gt_rboxes'] = rboxes
        results['gt_rboxes_labels'] = np.asarray([inst['bbox_label'] for inst in instances], np.int64)
        results['gt_rboxes_ignore_flags'] = np.asarray([inst.get('ignore_flag', 0) for inst in instances],
                                                       bool)
        results['rboxes_homography'] = np.array(results.get('homography_matrix', np.eye(3)), np.float64)
        return results


@TRANSFORMS.register_module()
class PackMultiTaskInputs(PackDetInputs):
    """Pack image, semantic map, instances and rotated boxes into a :class:`MultiTaskDataSample`.

    Args:
        meta_keys: metainfo keys copied when present; defaults to ``MULTITASK_META_KEYS``
            (add ``'instances'`` for mmdet's ``CocoMetric`` without an annotation file).
    """

    def __init__(self, meta_keys=MULTITASK_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """``{'inputs': image tensor, 'data_samples': MultiTaskDataSample}``."""
        self._boxes_from_masks(results)
        seg_map = results.pop('gt_seg_map', None)
        packed = super().transform(results)
        det_sample = packed['data_samples']
        sample = MultiTaskDataSample(metainfo=det_sample.metainfo)
        sample.gt_instances = det_sample.gt_instances
        sample.ignored_instances = det_sample.ignored_instances
        if seg_map is not None:
            sample.gt_sem_seg = PixelData(data=to_tensor(seg_map[None].astype(np.int64)))
        if 'gt_rboxes' in results:
            self._pack_rotated(results, sample)
        packed['data_samples'] = sample
        return packed

    @staticmethod
    def _boxes_from_masks(results: dict) -> None:
        """Drop instances whose mask is empty now and set their boxes to their masks' extent."""
        masks = results.get('gt_masks', None)
        if masks is None:
            return
        keep = masks.areas > 0
        if not keep.all():
            for key in ('gt_masks', 'gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags'):
                if key in results:
                    results[key] = results[key][np.flatnonzero(keep) if key == 'gt_masks' else keep]
        if 'gt_bboxes' in results:
            results['gt_bboxes'] = results['gt_masks'].get_bboxes(type(results['gt_bboxes']))

    @staticmethod
    def _pack_rotated(results: dict, sample: MultiTaskDataSample) -> None:
        from samrs_mm.compat import import_mmrotate
        import_mmrotate()
        from mmrotate.structures.bbox import RotatedBoxes

        rboxes, labels = results['gt_rboxes'], results['gt_rboxes_labels']
        ignore = results['gt_rboxes_ignore_flags']
        moved: Optional[np.ndarray] = None
        if 'homography_matrix' in results:
            relative = np.asarray(results['homography_matrix'], np.float64) @ np.linalg.inv(
                results['rboxes_homography'])
            if not np.allclose(relative, np.eye(3)):
                moved = relative
        if moved is not None:
            rboxes = project_rboxes(rboxes, moved)
            # The boxes now live in the image's frame: keep those whose centre is inside.
            height, width = results['img'].shape[:2]
            inside = ((rboxes[:, 0] >= 0) & (rboxes[:, 0] < width)
                      & (rboxes[:, 1] >= 0) & (rboxes[:, 1] < height))
            rboxes, labels, ignore = rboxes[inside], labels[inside], ignore[inside]
        for field, chosen in (('gt_rotated_instances', ~ignore), ('ignored_rotated_instances', ignore)):
            setattr(sample, field, InstanceData(bboxes=RotatedBoxes(to_tensor(np.ascontiguousarray(rboxes[chosen]))),
                                                labels=to_tensor(labels[chosen])))
