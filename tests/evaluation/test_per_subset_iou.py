"""PerSubsetIoUMetric: every sample scored with its own subset's classes; Table 9 average."""
import pytest
import torch

import samrs_mm  # noqa: F401
from samrs_mm.evaluation import PerSubsetIoUMetric


def _sample(subset, pred, label):
    return dict(subset=subset, img_path=f'{subset}.png',
                pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])))


def test_hand_computed_per_source_and_average():
    metric = PerSubsetIoUMetric(subsets=[dict(name='a', classes=['x', 'y']),
                                         dict(name='b', classes=['p', 'q', 'r'])])
    # subset a: pred [[0,1],[1,1]], label [[0,0],[1,255]] -> class 0: I=1, U=2; class 1: I=1, U=2
    #   IoU 0.5 / 0.5 -> mIoU 50.00; accuracy over labelled pixels 2/3.
    # subset b: pred [[2,2]], label [[2,0]] -> class 0: I=0, U=1; class 2: I=1, U=2;
    #   class 1: no pixels -> NaN (skipped by nanmean) -> mIoU (0 + 0.5) / 2 = 25.00
    metric.process({}, [_sample('a', [[0, 1], [1, 1]], [[0, 0], [1, 255]]),
                        _sample('b', [[2, 2]], [[2, 0]])])
    results = metric.compute_metrics(metric.results)
    assert results['mIoU.a'] == 50.0
    assert results['aAcc.a'] == pytest.approx(66.67)
    assert results['mIoU.b'] == 25.0
    assert results['mIoU'] == 37.5  # unweighted mean over subsets (paper Table 9 "average")


def test_samrs_names_resolve_to_the_dataset_classes():
    metric = PerSubsetIoUMetric()
    assert list(metric.subset_classes) == ['sota', 'sior', 'fast']
    assert len(metric.subset_classes['fast']) == 37


def test_a_sample_without_its_source_is_a_clear_error():
    metric = PerSubsetIoUMetric(subsets=['sota'])
    with pytest.raises(KeyError, match="x.png: subset None"):
        metric.process({}, [dict(img_path='x.png', pred_sem_seg=dict(data=torch.zeros(1, 1, 1)),
                                 gt_sem_seg=dict(data=torch.zeros(1, 1, 1)))])
    with pytest.raises(ValueError, match='unknown subset'):
        PerSubsetIoUMetric(subsets=['nope'])
