"""Segmentation metrics from one confusion matrix, with classes left out: Potsdam and iSAID.

The SAMRS paper (A.6) scores fine-tuning as the remote-sensing literature does:

* **Potsdam**: per-class F1, overall accuracy (OA) and mean F1 over five classes, with
  *clutter excluded from both label and prediction counts*: the clutter row and column of
  the confusion matrix are dropped, so a pixel that is clutter in the label or in the
  prediction counts nowhere (``excluded_classes``).
* **iSAID**: per-class IoU and mIoU over the 15 foreground classes: background stays in the
  confusion matrix (a ship predicted as background is a missed ship pixel) but is not
  averaged (``background_classes``); OA is taken over foreground-labelled pixels.

mmseg's ``IoUMetric`` keeps four histograms, which cannot drop prediction counts of one
class; this metric accumulates the full ``C x C`` matrix (rows = label, columns =
prediction) instead, and is otherwise a drop-in subclass (``output_dir``, ``format_only``,
distributed collection).
"""
from __future__ import annotations

import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from PIL import Image
from prettytable import PrettyTable


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                     ignore_index: int) -> np.ndarray:
    """``num_classes x num_classes`` pixel counts, rows = label, columns = prediction.

    Pixels labelled ``ignore_index`` are skipped. Raises ``ValueError`` for other label
    values outside ``[0, num_classes)`` (a dataset / config mismatch, never silently
    dropped).
    """
    label = label.reshape(-1).long()
    pred = pred.reshape(-1).long()
    valid = label != ignore_index
    label, pred = label[valid], pred[valid]
    if label.numel() and (label.min() < 0 or label.max() >= num_classes):
        bad = sorted(set(label[(label < 0) | (label >= num_classes)].unique().tolist()))
        raise ValueError(f'label values {bad} are outside the {num_classes} classes and are '
                         f'not the ignore index {ignore_index}')
    if pred.numel() and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f'prediction values outside the {num_classes} classes')
    counts = torch.bincount(label * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu().numpy().astype(np.int64)


def scores_from_confusion(matrix: np.ndarray, class_names: Sequence[str],
                          excluded_classes: Sequence[str] = (),
                          background_classes: Sequence[str] = (),
                          nan_to_num: Optional[float] = None) -> Dict[str, object]:
    """Per-class and mean scores (fractions, not percent) from a confusion matrix.

    ``excluded_classes`` lose their row and column (they count nowhere);
    ``background_classes`` stay in the matrix but are left out of the means and of OA.
    Returns ``classes`` (the classes kept), ``scored`` (mask of those averaged), per-class
    arrays ``IoU``, ``F1``, ``Precision``, ``Recall`` and the scalars ``OA``, ``mIoU``,
    ``mF1``, ``mPrecision``, ``mRecall``. F1 is ``2 TP / (label + prediction)``, which equals
    ``2PR / (P + R)`` and is 0 (not NaN) for a class that is labelled but never predicted.
    A class absent from both label and prediction has NaN scores and is left out of the
    means (as mmseg does), unless ``nan_to_num`` is given.
    """
    names = list(class_names)
    unknown = [name for name in list(excluded_classes) + list(background_classes)
               if name not in names]
    kept = [i for i, name in enumerate(names) if name not in excluded_classes]
    matrix = np.asarray(matrix, dtype=np.float64)[np.ix_(kept, kept)]
    kept_names = [names[i] for i in kept]
    scored = np.array([name not in background_classes for name in kept_names], bool)

    true_positive = np.diag(matrix)
    label_count = matrix.sum(axis=1)
    pred_count = matrix.sum(axis=0)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = true_positive / (label_count + pred_count - true_positive)
        precision = true_positive / pred_count
        recall = true_positive / label_count
        f1 = 2 * true_positive / (label_count + pred_count)
        overall = true_positive[scored].sum() / label_count[scored].sum()
    per_class = dict(IoU=iou, F1=f1, Precision=precision, Recall=recall)
    if nan_to_num is not None:
        per_class = {k: np.nan_to_num(v, nan=nan_to_num) for k, v in per_class.items()}
        overall = float(np.nan_to_num(overall, nan=nan_to_num))

    def mean(values: np.ndarray) -> float:
        chosen = values[scored]
        return float(np.nanmean(chosen)) if np.isfinite(chosen).any() else float('nan')

    result: Dict[str, object] = dict(classes=kept_names, scored=scored, not_in_classes=unknown,
                                     OA=float(overall), **per_class)
    for key, values in per_class.items():
        result[f'm{key}'] = mean(values)
    return result


@METRICS.register_module()
class ConfusionMatrixMetric(IoUMetric):
    """OA, per-class IoU / F1 / precision / recall and their means from a confusion matrix.

    Args:
        excluded_classes: class names whose label AND prediction pixels are left out
            entirely (their confusion-matrix row and column are dropped).
        background_classes: class names kept in the matrix but left out of the means, of
            OA and of the per-class results.
        ignore_index: label value that is skipped.
        nan_to_num: replace NaN scores (class neither labelled nor predicted) by this value.
        collect_device, output_dir, format_only, prefix: as in mmseg's ``IoUMetric``.

    The returned metrics, in percent rounded to 2 decimals as mmseg does: ``OA``, ``mIoU``,
    ``mF1``, ``mPrecision``, ``mRecall`` and, per scored class, ``IoU.<class>`` and
    ``F1.<class>``. A per-class table is logged.
    """

    def __init__(self,
                 excluded_classes: Sequence[str] = (),
                 background_classes: Sequence[str] = (),
                 ignore_index: int = 255,
                 nan_to_num: Optional[float] = None,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, iou_metrics=['mIoU', 'mFscore'],
                         nan_to_num=nan_to_num, collect_device=collect_device,
                         output_dir=output_dir, format_only=format_only, prefix=prefix, **kwargs)
        self.excluded_classes = tuple(excluded_classes)
        self.background_classes = tuple(background_classes)
        overlap = set(self.excluded_classes) & set(self.background_classes)
        if overlap:
            raise ValueError(f'classes {sorted(overlap)} are both excluded and background')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Add each sample's confusion matrix (and write predictions if asked)."""
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            pred = data_sample['pred_sem_seg']['data'].squeeze()
            if not self.format_only:
                label = data_sample['gt_sem_seg']['data'].squeeze().to(pred)
                try:
                    matrix = confusion_matrix(pred, label, num_classes, self.ignore_index)
                except ValueError as error:
                    where = data_sample.get('seg_map_path') or data_sample.get('img_path', '?')
                    raise ValueError(f'{where}: {error} (dataset classes: '
                                     f'{list(self.dataset_meta["classes"])})') from None
                self.results.append(matrix)
            if self.output_dir is not None:
                self._save_prediction(data_sample, pred)

    def _save_prediction(self, data_sample: dict, pred: torch.Tensor) -> None:
        """Write the prediction as a PNG of label values, as mmseg's IoUMetric does."""
        basename = osp.splitext(osp.basename(data_sample['img_path']))[0]
        values = pred.cpu().numpy()
        if data_sample.get('reduce_zero_label', False):
            values = values + 1  # back to the values stored on disk
        Image.fromarray(values.astype(np.uint8)).save(
            osp.abspath(osp.join(self.output_dir, f'{basename}.png')))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        """Sum the matrices and turn them into the metrics described in the class doc."""
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'results are saved to {osp.dirname(self.output_dir)}')
            return OrderedDict()
        total = np.sum(results, axis=0)
        scores = scores_from_confusion(total, self.dataset_meta['classes'], self.excluded_classes,
                                       self.background_classes, self.nan_to_num)
        if scores['not_in_classes']:
            print_log(f'{type(self).__name__}: {scores["not_in_classes"]} not among the dataset '
                      'classes (already ignored in the labels); nothing to leave out',
                      logger=logger)
        metrics: Dict[str, float] = OrderedDict()
        for key in ('OA', 'mIoU', 'mF1', 'mPrecision', 'mRecall'):
            metrics[key] = _percent(scores[key])
        scored_names = [n for n, s in zip(scores['classes'], scores['scored']) if s]
        for key in ('IoU', 'F1'):
            for name, value in zip(scores['classes'], scores[key]):
                if name in scored_names:
                    metrics[f'{key}.{name}'] = _percent(value)
        self._log_table(scores, logger)
        return metrics

    def _log_table(self, scores: Dict[str, object], logger: MMLogger) -> None:
        table = PrettyTable()
        table.add_column('Class', [n if s else f'{n} (not averaged)'
                                   for n, s in zip(scores['classes'], scores['scored'])])
        for key in ('IoU', 'F1', 'Precision', 'Recall'):
            table.add_column(key, [_percent(v) for v in scores[key]])
        left_out = [n for n in self.excluded_classes if n in self.dataset_meta['classes']]
        note = f' ({", ".join(left_out)} left out of labels and predictions)' if left_out else ''
        print_log(f'per class results{note}:', logger)
        print_log('\n' + table.get_string(), logger=logger)


def _percent(value: float) -> float:
    return float(np.round(float(value) * 100, 2))


@METRICS.register_module()
class PotsdamMetric(ConfusionMatrixMetric):
    """The ISPRS Potsdam protocol of SAMRS: F1 per class, OA and mF1 without clutter.

    ``clutter`` is left out of label and prediction counts; with ``Potsdam5Dataset`` it is
    already ignored in the labels and the model has no clutter output, so the scores are
    the same either way. Use ``mF1`` for ``save_best``.
    """

    def __init__(self, excluded_classes: Sequence[str] = ('clutter',), **kwargs) -> None:
        super().__init__(excluded_classes=excluded_classes, **kwargs)


@METRICS.register_module()
class iSAIDMetric(ConfusionMatrixMetric):
    """The iSAID protocol of SAMRS: IoU per foreground class and mIoU over the 15 of them."""

    def __init__(self, background_classes: Sequence[str] = ('background',), **kwargs) -> None:
        super().__init__(background_classes=background_classes, **kwargs)
