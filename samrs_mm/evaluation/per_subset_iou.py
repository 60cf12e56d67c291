"""mIoU per SAMRS subset and their average, as in the paper's Table 9."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import DATASETS, METRICS
from prettytable import PrettyTable


def _resolve_subsets(subsets: Sequence[Union[str, dict]]) -> Dict[str, tuple]:
    """Map each subset name to its class names (SAMRS names look up their dataset class)."""
    from samrs_mm.datasets.samrs import SAMRS_DATASETS
    resolved: Dict[str, tuple] = OrderedDict()
    for entry in subsets:
        if isinstance(entry, str):
            if entry not in SAMRS_DATASETS:
                raise ValueError(f'unknown subset {entry!r}: give dict(name=..., classes=[...]) '
                                 f'or one of {sorted(SAMRS_DATASETS)}')
            resolved[entry] = tuple(DATASETS.get(SAMRS_DATASETS[entry]).METAINFO['classes'])
        else:
            resolved[str(entry['name'])] = tuple(entry['classes'])
    if not resolved:
        raise ValueError('PerSubsetIoUMetric needs at least one subset')
    return resolved


@METRICS.register_module()
class PerSubsetIoUMetric(IoUMetric):
    """IoU computed separately for every subset of a multi-subset validation set.

    Each sample is scored against its own subset's classes (``metainfo['subset']``, set by
    ``TagSubset``). Reports ``mIoU.<subset>``, ``aAcc.<subset>``, ``mAcc.<subset>`` for every
    subset and ``mIoU`` = the unweighted average of the per-subset mIoUs (the paper's
    "average" column), and logs a table with one row per subset.

    Args:
        subsets (list[str | dict]): SAMRS subset names ('sota', 'sior', 'fast') or
            ``dict(name=..., classes=[...])`` for other subsets.
        ignore_index (int): label value ignored in the counts. Defaults to 255.
    """

    def __init__(self, subsets: Sequence[Union[str, dict]] = ('sota', 'sior', 'fast'),
                 ignore_index: int = 255, nan_to_num: Optional[int] = None, **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, iou_metrics=['mIoU'], nan_to_num=nan_to_num,
                         **kwargs)
        self.subset_classes = _resolve_subsets(subsets)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate intersection/union areas per sample, tagged with its subset."""
        for data_sample in data_samples:
            subset = data_sample.get('subset', None)
            if subset not in self.subset_classes:
                raise KeyError(f'{data_sample.get("img_path", "?")}: subset {subset!r} is not '
                               f'one of {list(self.subset_classes)} (add TagSubset to the pipeline)')
            num_classes = len(self.subset_classes[subset])
            pred_label = data_sample['pred_sem_seg']['data'].squeeze()
            label = data_sample['gt_sem_seg']['data'].squeeze().to(pred_label)
            areas = self.intersect_and_union(pred_label, label, num_classes, self.ignore_index)
            self.results.append((subset,) + tuple(areas))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Per-subset metrics and the average mIoU over the subsets that had samples."""
        logger: MMLogger = MMLogger.get_current_instance()
        metrics: Dict[str, float] = OrderedDict()
        summary = PrettyTable(field_names=['Subset', 'Images', 'aAcc', 'mAcc', 'mIoU'])
        per_source_miou = []
        for subset, class_names in self.subset_classes.items():
            rows = [r[1:] for r in results if r[0] == subset]
            if not rows:
                continue
            totals = [sum(column) for column in zip(*rows)]
            areas = self.total_area_to_metrics(*totals, ['mIoU'], self.nan_to_num, self.beta)
            # float64 before rounding: float32 tensors would print as 33.040000915527344.
            miou = round(float(np.nanmean(np.asarray(areas['IoU'], np.float64))) * 100, 2)
            macc = round(float(np.nanmean(np.asarray(areas['Acc'], np.float64))) * 100, 2)
            aacc = round(float(areas['aAcc']) * 100, 2)
            metrics[f'mIoU.{subset}'] = miou
            metrics[f'mAcc.{subset}'] = macc
            metrics[f'aAcc.{subset}'] = aacc
            per_source_miou.append(miou)
            summary.add_row([subset, len(rows), f'{aacc:.2f}', f'{macc:.2f}', f'{miou:.2f}'])
            class_table = PrettyTable(field_names=['Class', 'IoU', 'Acc'])
            for name, iou, acc in zip(class_names, areas['IoU'], areas['Acc']):
                class_table.add_row([name, f'{float(iou) * 100:.2f}', f'{float(acc) * 100:.2f}'])
            print_log(f'per class results of {subset}:\n{class_table.get_string()}', logger)
        if not per_source_miou:
            raise ValueError('PerSubsetIoUMetric received no samples')
        metrics['mIoU'] = float(np.round(np.mean(per_source_miou), 2))
        summary.add_row(['average', sum(len([r for r in results if r[0] == s]) for s in self.subset_classes),
                         '-', '-', f"{metrics['mIoU']:.2f}"])
        print_log(f'per subset results (SAMRS Table 9 layout):\n{summary.get_string()}', logger)
        return metrics
