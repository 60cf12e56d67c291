"""Every task of multi-task pre-training, per SAMRS subset, in one validation run.

:class:`MultiTaskMetric` splits each multi-task sample (``MultiTaskDataSample`` as a dict)
by task and by its ``subset`` and hands it to the stock metric of that task:

* semantic: :class:`~samrs_mm.evaluation.per_subset_iou.PerSubsetIoUMetric` (it splits by
  subset itself): ``semantic/mIoU.<subset>``, ..., ``semantic/mIoU`` (their mean, Table 9);
* instance: one mmdet ``CocoMetric`` per subset with that subset's classes:
  ``instance/<subset>/bbox_mAP``, ``instance/<subset>/segm_mAP``, ... and the means over the
  subsets ``instance/bbox_mAP``, ``instance/segm_mAP``;
* rotated: one mmrotate ``DOTAMetric`` per subset: ``rotated/<subset>/mAP`` and ``rotated/mAP``.

A task without predictions in the samples (switched off in the model, or not in
``tasks``) is skipped. The sub-metrics' own ``process`` and ``compute_metrics`` do the work;
their per-sample results are kept here, one entry per sample, so mmengine collects them across
ranks once.
"""
from __future__ import annotations

import copy
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS as ROOT_METRICS
from mmseg.registry import METRICS

from .per_subset_iou import _resolve_subsets

__all__ = ['MultiTaskMetric']

# Keys of the per-subset detection metrics that are averaged over the subsets.
_MEAN_KEYS = {'instance': ('bbox_mAP', 'segm_mAP'), 'rotated': ('mAP',)}


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Per-task, per-subset metrics of a multi-task model (see the module docstring).

    Args:
        subsets (list[str | dict]): SAMRS subset names or ``dict(name=..., classes=[...])``.
        semantic (dict, optional): the semantic metric, default ``PerSubsetIoUMetric``
            (its ``subsets`` are set from ``subsets``).
        instance (dict, optional): the instance metric, built once per subset; default
            ``dict(type='mmdet.CocoMetric', metric=['bbox', 'segm'])`` (ground truth from the
            samples' ``instances``: pack them with ``meta_keys``).
        rotated (dict, optional): the rotated-box metric, built once per subset; default
            ``dict(type='mmrotate.DOTAMetric', metric='mAP')``.
        tasks (sequence of str): the tasks to evaluate (default all three).
    """

    default_prefix: Optional[str] = None

    def __init__(self, subsets: Sequence[Union[str, dict]] = ('sota', 'sior', 'fast'),
                 semantic: Optional[dict] = None, instance: Optional[dict] = None,
                 rotated: Optional[dict] = None, tasks: Sequence[str] = ('semantic', 'instance', 'rotated'),
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.subset_classes = _resolve_subsets(subsets)
        unknown = set(tasks) - {'semantic', 'instance', 'rotated'}
        if unknown:
            raise ValueError(f'MultiTaskMetric: unknown tasks {sorted(unknown)} (semantic, instance, rotated)')
        self.tasks = tuple(tasks)
        self.semantic = None
        self.per_subset: Dict[str, Dict[str, BaseMetric]] = {}
        if 'semantic' in self.tasks:
            cfg = dict(semantic or dict(type='PerSubsetIoUMetric'))
            cfg['subsets'] = [dict(name=name, classes=classes) for name, classes in self.subset_classes.items()]
            self.semantic = METRICS.build(cfg)
        defaults = dict(instance=dict(type='mmdet.CocoMetric', metric=['bbox', 'segm']),
                        rotated=dict(type='mmrotate.DOTAMetric', metric='mAP'))
        given = dict(instance=instance, rotated=rotated)
        for task in ('instance', 'rotated'):
            if task not in self.tasks:
                continue
            if task == 'rotated':
                from samrs_mm.compat import import_mmrotate
                import_mmrotate()
                from mmrotate.utils import register_all_modules
                register_all_modules(init_default_scope=False)
            self.per_subset[task] = {}
            for name, classes in self.subset_classes.items():
                metric = ROOT_METRICS.build(copy.deepcopy(dict(given[task] or defaults[task])))
                metric.dataset_meta = dict(classes=tuple(classes))
                self.per_subset[task][name] = metric

    @staticmethod
    def _run(metric: BaseMetric, data_batch, sample: dict) -> list:
        """What ``metric.process`` keeps for one sample (taken out of the metric again)."""
        before = len(metric.results)
        metric.process(data_batch, [sample])
        items = metric.results[before:]
        del metric.results[before:]
        return items

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Route every sample's predictions to the metric of each task and of its subset.

        One result per sample (``(subset, {task: items})``): mmengine cuts the collected
        results to the dataset's size, which drops the padding of distributed samplers.
        """
        for sample in data_samples:
            subset = sample.get('subset', None)
            if subset not in self.subset_classes:
                raise KeyError(f'{sample.get("img_path", "?")}: subset {subset!r} is not one of '
                               f'{list(self.subset_classes)} (add TagSubset to the pipeline)')
            per_task = {}
            if self.semantic is not None and 'pred_sem_seg' in sample:
                per_task['semantic'] = self._run(self.semantic, data_batch, sample)
            if 'instance' in self.per_subset and 'pred_instances' in sample:
                per_task['instance'] = self._run(self.per_subset['instance'][subset], data_batch, sample)
            if 'rotated' in self.per_subset and 'pred_rotated_instances' in sample:
                view = dict(img_id=sample['img_id'], pred_instances=sample['pred_rotated_instances'],
                            gt_instances=sample['gt_rotated_instances'],
                            ignored_instances=sample['ignored_rotated_instances'])
                per_task['rotated'] = self._run(self.per_subset['rotated'][subset], data_batch, view)
            self.results.append((subset, per_task))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Each task's metrics per subset (and their means over the subsets)."""
        grouped = defaultdict(list)
        for subset, per_task in results:
            for task, items in per_task.items():
                grouped[task, subset] += items
        metrics: Dict[str, float] = OrderedDict()
        semantic = [item for (task, _), items in grouped.items() if task == 'semantic' for item in items]
        if semantic:
            for key, value in self.semantic.compute_metrics(semantic).items():
                metrics[f'semantic/{key}'] = value
        for task, metric_of in self.per_subset.items():
            means = defaultdict(list)
            for subset, metric in metric_of.items():
                items = grouped.get((task, subset))
                if not items:
                    continue
                for key, value in metric.compute_metrics(items).items():
                    metrics[f'{task}/{subset}/{key}'] = value
                    if key in _MEAN_KEYS[task]:
                        means[key].append(float(value))
            for key, values in means.items():
                metrics[f'{task}/{key}'] = float(np.mean(values))
        return metrics
