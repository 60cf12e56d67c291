"""The data sample of multi-task pre-training: one image's semantic map, instances and rotated boxes.

mmseg, mmdet and mmrotate each have their own sample (``SegDataSample``, ``DetDataSample``
with horizontal or with rotated boxes in ``gt_instances``). :class:`MultiTaskDataSample`
is mmdet's ``DetDataSample`` (``gt_instances`` / ``ignored_instances`` / ``pred_instances``:
the instance task, horizontal boxes + masks) with

* ``gt_sem_seg`` / ``pred_sem_seg`` as mmseg writes them (``PixelData(data=...)``), so mmseg
  heads and metrics read them unchanged;
* ``gt_rotated_instances`` / ``ignored_rotated_instances`` / ``pred_rotated_instances``: the
  rotated-box task, in the form mmrotate puts into ``gt_instances`` (``bboxes`` a
  ``RotatedBoxes``, le90; ``labels``).

and the subset tag in its metainfo (``subset``, ``subset_index``). The model hands each task
branch a view in that task's own sample type (:func:`task_view`).
"""
from __future__ import annotations

from typing import Iterable

from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

__all__ = ['MultiTaskDataSample', 'task_view', 'store_predictions', 'TASK_FIELDS']

# For every detection task: the fields of the multi-task sample its stock detector reads
# as gt_instances / ignored_instances / pred_instances.
TASK_FIELDS = {
    'instance': ('gt_instances', 'ignored_instances', 'pred_instances'),
    'rotated': ('gt_rotated_instances', 'ignored_rotated_instances', 'pred_rotated_instances'),
}


class MultiTaskDataSample(DetDataSample):
    """mmdet's ``DetDataSample`` plus the rotated-box task (see the module docstring)."""

    @property
    def gt_rotated_instances(self) -> InstanceData:
        """Rotated ground-truth boxes (``bboxes``: ``RotatedBoxes``, ``labels``)."""
        return self._gt_rotated_instances

    @gt_rotated_instances.setter
    def gt_rotated_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_gt_rotated_instances', dtype=InstanceData)

    @gt_rotated_instances.deleter
    def gt_rotated_instances(self) -> None:
        del self._gt_rotated_instances

    @property
    def ignored_rotated_instances(self) -> InstanceData:
        """Rotated boxes marked ignore (``difficult`` objects with ``ignore_difficult``)."""
        return self._ignored_rotated_instances

    @ignored_rotated_instances.setter
    def ignored_rotated_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_ignored_rotated_instances', dtype=InstanceData)

    @ignored_rotated_instances.deleter
    def ignored_rotated_instances(self) -> None:
        del self._ignored_rotated_instances

    @property
    def pred_rotated_instances(self) -> InstanceData:
        """Rotated-box predictions (``bboxes``, ``scores``, ``labels``)."""
        return self._pred_rotated_instances

    @pred_rotated_instances.setter
    def pred_rotated_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_pred_rotated_instances', dtype=InstanceData)

    @pred_rotated_instances.deleter
    def pred_rotated_instances(self) -> None:
        del self._pred_rotated_instances


def task_view(sample: DetDataSample, task: str, require_gt: bool = False) -> DetDataSample:
    """A ``DetDataSample`` with ``sample``'s metainfo and ``task``'s ground truth as ``gt_instances``.

    The tensors are shared, not copied: the stock detectors read the view (and deep-copy it
    for their RPN) without touching the other tasks' targets. ``require_gt``: a sample without
    the task's ground truth is an error naming the image (training).
    """
    gt, ignored, _ = TASK_FIELDS[task]
    if require_gt and (gt not in sample or 'bboxes' not in getattr(sample, gt)):
        loader = 'LoadRotatedBoxes' if task == 'rotated' else "mmdet.LoadAnnotations(with_bbox=True, with_mask=True)"
        raise KeyError(f'{sample.metainfo.get("img_path", "?")}: no {gt} to train the {task} branch on: add '
                       f'{loader} to the training pipeline before PackMultiTaskInputs')
    view = DetDataSample(metainfo=sample.metainfo)
    for source, target in ((gt, 'gt_instances'), (ignored, 'ignored_instances')):
        if source in sample:
            setattr(view, target, getattr(sample, source))
    return view


def store_predictions(samples: Iterable[DetDataSample], views: Iterable[DetDataSample], task: str) -> None:
    """Copy each view's ``pred_instances`` into its sample's prediction field of ``task``."""
    pred = TASK_FIELDS[task][2]
    for sample, view in zip(samples, views):
        setattr(sample, pred, view.pred_instances)
