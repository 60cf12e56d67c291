"""mIoU_I and mIoU_P (SAMRS Eq. 1) against values computed by hand."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_mm.evaluation.instance_iou import (
    InstanceIoUAccumulator,
    InstanceMaskIoUMetric,
    intersection_union,
    miou_instance,
    miou_pixel,
    paired_intersection_union,
)


def square(y0, y1, x0, x1, shape=(6, 6)):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


# prediction / ground truth pairs with hand-counted intersections and unions
PREDS = [square(0, 2, 0, 2), square(0, 3, 0, 3), np.zeros((6, 6), bool)]
GTS = [square(0, 2, 0, 3), square(1, 4, 1, 4), square(5, 6, 5, 6)]
EXPECTED_IU = [(4, 6), (4, 14), (0, 1)]


def rle(mask):
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    r['counts'] = r['counts'].decode('ascii')
    return r


def test_intersection_union_by_hand_arrays_and_rles():
    for pred, gt, expected in zip(PREDS, GTS, EXPECTED_IU):
        assert intersection_union(pred, gt) == expected
        assert intersection_union(rle(pred), rle(gt)) == expected
        assert intersection_union(rle(pred), gt) == expected


def test_the_two_means_by_hand():
    counts = paired_intersection_union(PREDS, GTS)
    assert counts.tolist() == [list(v) for v in EXPECTED_IU]
    # mIoU_I = (4/6 + 4/14 + 0/1) / 3 = 20/63; mIoU_P = (4 + 4 + 0) / (6 + 14 + 1) = 8/21
    assert miou_instance(counts) == pytest.approx(20 / 63, abs=1e-15)
    assert miou_pixel(counts) == pytest.approx(8 / 21, abs=1e-15)


def test_instance_vs_pixel_weighting_differ_as_the_paper_says():
    # One large perfect object and one small missed one: per instance 50%, per pixel ~99%.
    counts = [(100, 100), (0, 1)]
    assert miou_instance(counts) == 0.5
    assert miou_pixel(counts) == pytest.approx(100 / 101)


def test_empty_union_counts_as_agreement_and_no_instances_is_nan():
    assert miou_instance([(0, 0), (1, 2)]) == pytest.approx(0.75)
    assert miou_pixel([(0, 0), (1, 2)]) == pytest.approx(0.5)
    assert miou_pixel([(0, 0)]) == 1.0
    assert np.isnan(miou_instance(np.zeros((0, 2)))) and np.isnan(miou_pixel([]))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='sizes differ'):
        intersection_union(np.zeros((2, 2), bool), np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match='one to one'):
        paired_intersection_union(PREDS[:2], GTS)
    with pytest.raises(ValueError, match='I_i <= U_i'):
        miou_instance([(3, 2)])


def test_accumulator_over_images():
    acc = InstanceIoUAccumulator()
    acc.add(PREDS[:2], GTS[:2])
    acc.add(PREDS[2:], GTS[2:])
    res = acc.result()
    assert res['instances'] == 3
    assert res['mIoU_I'] == pytest.approx(20 / 63) and res['mIoU_P'] == pytest.approx(8 / 21)


def test_registered_metric_reports_percent():
    import torch
    from mmengine.structures import InstanceData
    from mmseg.registry import METRICS
    metric = METRICS.build(dict(type='InstanceMaskIoUMetric'))
    assert isinstance(metric, InstanceMaskIoUMetric)
    samples = []
    for pred, gt in ((PREDS[:2], GTS[:2]), (PREDS[2:], GTS[2:])):
        samples.append(dict(pred_instances=InstanceData(masks=torch.as_tensor(np.stack(pred))),
                            gt_instances=InstanceData(masks=torch.as_tensor(np.stack(gt)))))
    metric.process({}, samples)
    res = metric.evaluate(2)
    assert res['prompt/mIoU_I'] == pytest.approx(100 * 20 / 63)
    assert res['prompt/mIoU_P'] == pytest.approx(100 * 8 / 21)
