"""PotsdamMetric / iSAIDMetric against confusion matrices computed by hand."""
import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric

from samrs_mm.evaluation.confusion_metric import (
    ConfusionMatrixMetric,
    PotsdamMetric,
    confusion_matrix,
    iSAIDMetric,
    scores_from_confusion,
)

POTSDAM6 = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car', 'clutter')

# A 4 x 5 Potsdam sample for a 6-class model (clutter = 5, 255 = ignored boundary).
POTSDAM_LABEL = [[0, 0, 1, 1, 5],
                 [0, 0, 1, 1, 5],
                 [2, 2, 3, 4, 255],
                 [2, 3, 3, 4, 4]]
POTSDAM_PRED = [[0, 1, 1, 1, 0],
                [0, 0, 1, 5, 5],
                [2, 3, 3, 4, 0],
                [5, 3, 3, 4, 2]]
# (label, pred) pairs: (0,0)x3 (0,1)x1 (1,1)x3 (1,5)x1 (5,0)x1 (5,5)x1 (2,2)x1 (2,3)x1
# (2,5)x1 (3,3)x3 (4,4)x2 (4,2)x1. Dropping the clutter row AND column leaves 15 pixels:
#   class   TP  label  pred   F1            IoU
#   imp      3     4     3    6/7  85.71    3/4  75.00
#   build    3     3     4    6/7  85.71    3/4  75.00   ((1,5) counts nowhere)
#   lowveg   1     2     2    2/4  50.00    1/3  33.33
#   tree     3     3     4    6/7  85.71    3/4  75.00
#   car      2     3     2    4/5  80.00    2/3  66.67
# OA = 12 / 15 = 80.00; mF1 = (3 * 6/7 + 1/2 + 4/5) / 5 = 77.43; mIoU = 3.25 / 5 = 65.00.


def _sample(label, pred, path='tile.png'):
    return dict(pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])), img_path=path, seg_map_path=path)


def _evaluate(metric, classes, samples):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_confusion_matrix_counts():
    matrix = confusion_matrix(torch.tensor(POTSDAM_PRED), torch.tensor(POTSDAM_LABEL), 6, 255)
    assert matrix.sum() == 19 and matrix.dtype == np.int64
    assert matrix[0, 0] == 3 and matrix[0, 1] == 1 and matrix[1, 5] == 1 and matrix[5, 0] == 1
    assert matrix[2, 5] == 1 and matrix[4, 2] == 1 and matrix[3, 3] == 3


def test_potsdam_excludes_clutter_from_labels_and_predictions():
    # Two samples (the rows split in halves) must give the same as one.
    top = _sample(POTSDAM_LABEL[:2], POTSDAM_PRED[:2])
    bottom = _sample(POTSDAM_LABEL[2:], POTSDAM_PRED[2:])
    metrics = _evaluate(PotsdamMetric(), POTSDAM6, [top, bottom])
    assert metrics['OA'] == 80.0
    assert metrics['mF1'] == 77.43
    assert metrics['mIoU'] == 65.0
    assert [metrics[f'F1.{c}'] for c in POTSDAM6[:5]] == [85.71, 85.71, 50.0, 85.71, 80.0]
    assert [metrics[f'IoU.{c}'] for c in POTSDAM6[:5]] == [75.0, 75.0, 33.33, 75.0, 66.67]
    assert 'F1.clutter' not in metrics
    # Building: precision 3/4 (one impervious pixel predicted as building), recall 3/3
    # because the building pixel predicted as clutter counts nowhere.
    scores = scores_from_confusion(
        confusion_matrix(torch.tensor(POTSDAM_PRED), torch.tensor(POTSDAM_LABEL), 6, 255),
        POTSDAM6, excluded_classes=('clutter',))
    assert scores['classes'] == list(POTSDAM6[:5])
    assert scores['Recall'][1] == 1.0 and scores['Precision'][1] == 0.75


def test_potsdam_differs_from_ignoring_clutter_labels_only():
    # mmseg's IoUMetric with clutter labels ignored still counts clutter predictions
    # (building recall 3/4, not 1): the paper's protocol is not that.
    label = np.array(POTSDAM_LABEL)
    label[label == 5] = 255
    iou = IoUMetric(iou_metrics=['mFscore'])
    mmseg_metrics = _evaluate(iou, POTSDAM6, [_sample(label.tolist(), POTSDAM_PRED)])
    ours = _evaluate(PotsdamMetric(), POTSDAM6, [_sample(POTSDAM_LABEL, POTSDAM_PRED)])
    assert mmseg_metrics['mFscore'] != ours['mF1']


def test_potsdam_five_class_dataset_is_a_no_op_exclusion():
    # Potsdam5Dataset: clutter is already 255 in the labels and the model has 5 outputs.
    label = np.array(POTSDAM_LABEL)
    label[label == 5] = 255
    pred = np.array(POTSDAM_PRED)
    pred[pred == 5] = 1  # a 5-class model cannot predict clutter
    metrics = _evaluate(PotsdamMetric(), POTSDAM6[:5], [_sample(label.tolist(), pred.tolist())])
    # (1,5)->(1,1) and (2,5)->(2,1): building TP 4, label 4, pred 6; low vegetation TP 1,
    # label 3, pred 2; 17 pixels, 13 right.
    assert metrics['F1.building'] == 80.0
    assert metrics['F1.low_vegetation'] == round(100 * 2 / 5, 2)
    assert metrics['OA'] == round(100 * 13 / 17, 2)


ISAID3 = ('background', 'ship', 'plane')


def test_isaid_foreground_miou():
    # (label, pred): (0,0)x5 (0,1)x2 (1,1)x3 (1,0)x1 (2,2)x2 (2,1)x1 (2,0)x1, 2 ignored.
    label = [[0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 255, 255]]
    pred = [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 2, 2, 1, 0, 2, 0]]
    metrics = _evaluate(iSAIDMetric(), ISAID3, [_sample(label, pred)])
    # ship IoU 3 / (4 + 6 - 3) = 3/7; plane 2 / (4 + 2 - 2) = 1/2; background not averaged.
    assert metrics['IoU.ship'] == 42.86 and metrics['IoU.plane'] == 50.0
    assert metrics['mIoU'] == 46.43
    assert 'IoU.background' not in metrics
    assert metrics['OA'] == 62.5  # foreground-labelled pixels: 5 of 8 right
    assert metrics['F1.ship'] == 60.0 and metrics['F1.plane'] == 66.67
    # Same per-class IoU as mmseg's IoUMetric, which averages over all 3 classes.
    mmseg_metrics = _evaluate(IoUMetric(), ISAID3, [_sample(label, pred)])
    assert mmseg_metrics['mIoU'] == round(100 * (5 / 9 + 3 / 7 + 1 / 2) / 3, 2)


def test_absent_class_is_left_out_of_the_mean():
    label = [[0, 0, 1, 1]]
    pred = [[0, 0, 1, 0]]
    metrics = _evaluate(ConfusionMatrixMetric(), ('a', 'b', 'c'), [_sample(label, pred)])
    # a: IoU 2/3, b: 1/2, c: neither labelled nor predicted -> NaN, not averaged.
    assert metrics['mIoU'] == round(100 * (2 / 3 + 1 / 2) / 2, 2)
    assert np.isnan(metrics['IoU.c'])
    zero = _evaluate(ConfusionMatrixMetric(nan_to_num=0), ('a', 'b', 'c'), [_sample(label, pred)])
    assert zero['mIoU'] == round(100 * (2 / 3 + 1 / 2) / 3, 2)


def test_label_outside_the_classes_names_the_file():
    metric = PotsdamMetric()
    metric.dataset_meta = dict(classes=POTSDAM6[:5])
    with pytest.raises(ValueError, match=r'ann_dir/val/x\.png.*\[5\]'):
        metric.process({}, [_sample([[0, 5]], [[0, 1]], path='ann_dir/val/x.png')])


def test_class_cannot_be_both_excluded_and_background():
    with pytest.raises(ValueError, match='both'):
        ConfusionMatrixMetric(excluded_classes=('a',), background_classes=('a',))


def test_registered(repo_root):
    from mmseg.registry import METRICS
    for name in ('PotsdamMetric', 'iSAIDMetric', 'ConfusionMatrixMetric'):
        assert METRICS.get(name) is not None
