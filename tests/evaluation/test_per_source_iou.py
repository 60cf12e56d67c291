"""PerSourceIoUMetric: every sample scored with its own subset's classes; Table 9 average."""
import pytest
import torch

import samrs_mm  # noqa: F401
from samrs_mm.evaluation import PerSourceIoUMetric


def _sample(source, pred, label):
    return dict(source=source, img_path=f'{source}.png',
                pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])))


def test_hand_computed_per_source_and_average():
    metric = PerSourceIoUMetric(sources=[dict(name='a', classes=['x', 'y']),
                                         dict(name='b', classes=['p', 'q', 'r'])])
    # source a: pred [[0,1],[1,1]], label [[0,0],[1,255]] -> class 0: I=1, U=2; class 1: I=1, U=2
    #   IoU 0.5 / 0.5 -> mIoU 50.00; accuracy over labelled pixels 2/3.
    # source b: pred [[2,2]], label [[2,0]] -> class 0: I=0, U=1; class 2: I=1, U=2;
    #   class 1: no pixels -> NaN (skipped by nanmean) -> mIoU (0 + 0.5) / 2 = 25.00
    metric.process({}, [_sample('a', [[0, 1], [1, 1]], [[0, 0], [1, 255]]),
                        _sample('b', [[2, 2]], [[2, 0]])])
    results = metric.compute_metrics(metric.results)
    assert results['mIoU.a'] == 50.0
    assert results['aAcc.a'] == pytest.approx(66.67)
    assert results['mIoU.b'] == 25.0
    assert results['mIoU'] == 37.5  # unweighted mean over subsets (paper Table 9 "average")


def test_samrs_names_resolve_to_the_dataset_classes():
    metric = PerSourceIoUMetric()
    assert list(metric.source_classes) == ['sota', 'sior', 'fast']
    assert len(metric.source_classes['fast']) == 37


def test_a_sample_without_its_source_is_a_clear_error():
    metric = PerSourceIoUMetric(sources=['sota'])
    with pytest.raises(KeyError, match="x.png: source None"):
        metric.process({}, [dict(img_path='x.png', pred_sem_seg=dict(data=torch.zeros(1, 1, 1)),
                                 gt_sem_seg=dict(data=torch.zeros(1, 1, 1)))])
    with pytest.raises(ValueError, match='unknown source'):
        PerSourceIoUMetric(sources=['nope'])
