"""The quality signals of a mask: SAM's stability score to the bit, and the prompt agreement values."""
import math

import numpy as np
import pytest
import torch

from samrs_mm.structures.mask_quality import (
    QUALITY_FIELDS,
    convex_polygon_iou,
    prompt_agreement,
    stability_score,
)


def reference_stability(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """SAM's definition (segment_anything/utils/amg.py): integer counts of the mask at
    threshold + offset over those at threshold - offset, divided as float32."""
    inter = (logits > threshold + offset).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    union = (logits > threshold - offset).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    return inter / union


def test_field_names_are_the_contract():
    assert QUALITY_FIELDS == ('stability', 'outside_box', 'box_fill', 'rbox_iou', 'parts')


@pytest.mark.parametrize('shape', [(64, 64), (3, 40, 56), (2, 3, 256, 256)])
@pytest.mark.parametrize('threshold,offset', [(0.0, 1.0), (0.5, 0.25)])
def test_stability_equals_sams_definition_on_random_logits(shape, threshold, offset):
    from segment_anything.utils.amg import calculate_stability_score
    gen = torch.Generator().manual_seed(sum(shape))
    # Smooth-ish logits (a ramp plus noise) so both masks are neither empty nor full.
    logits = torch.randn(shape, generator=gen) * 3 + torch.linspace(-4, 4, shape[-1])
    ours = stability_score(logits, threshold, offset)
    assert ours.dtype == torch.float32 and ours.shape == shape[:-2]
    assert torch.equal(ours, reference_stability(logits, threshold, offset))
    assert torch.equal(ours, calculate_stability_score(logits, threshold, offset))
    assert np.array_equal(stability_score(logits.numpy(), threshold, offset), ours.numpy())


def test_stability_of_an_empty_mask_is_zero_where_sam_divides_by_zero():
    logits = torch.full((2, 8, 8), -5.0)
    logits[1, :2, :3] = 5.0
    assert torch.isnan(reference_stability(logits, 0.0, 1.0)[0])
    assert stability_score(logits, 0.0, 1.0).tolist() == [0.0, 1.0]
    assert stability_score(logits.numpy()).tolist() == [0.0, 1.0]


def test_stability_equals_sams_on_the_tiny_sam_decoder_logits():
    from segment_anything import SamPredictor
    from segment_anything.utils.amg import calculate_stability_score

    from samrs_mm.annotate.families.models import build_sam_model
    torch.set_num_threads(1)
    model = build_sam_model('tiny_test', random_init=True, seed=0)
    predictor = SamPredictor(model)
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    predictor.set_image(image)
    _, _, low_res = predictor.predict(box=np.array([10, 20, 90, 70]), multimask_output=True, return_logits=True)
    logits = torch.from_numpy(low_res)
    assert logits.shape[-2:] == (256, 256)
    expected = calculate_stability_score(logits, model.mask_threshold, 1.0)
    assert torch.equal(stability_score(logits, model.mask_threshold, 1.0), expected)
    assert torch.equal(stability_score(logits), reference_stability(logits, 0.0, 1.0))


def test_prompt_agreement_of_a_box_shaped_mask():
    mask = np.zeros((60, 80), dtype=bool)
    mask[10:20, 5:45] = True  # 40 x 10
    out = prompt_agreement(mask, (5, 10, 45, 20), (25, 15, 40, 10, 0.0))
    assert out == dict(outside_box=0.0, box_fill=1.0, rbox_iou=pytest.approx(1.0, abs=1e-9), parts=1)
    # Rotated by 90 degrees, the rectangles cross: IoU 100 / 700.
    turned = prompt_agreement(mask, (5, 10, 45, 20), (25, 15, 40, 10, math.pi / 2 - 1e-12))
    assert turned['rbox_iou'] == pytest.approx(100 / 700, abs=1e-6)
    assert prompt_agreement(mask, (5, 10, 45, 20))['rbox_iou'] is None


def test_prompt_agreement_leak_fill_parts_and_margin():
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:40, 20:40] = True         # 400 pixels in the box (20, 20, 40, 40)
    mask[60:65, 60:80] = True         # 100 pixels far outside it
    mask[40, 40] = True               # 1 pixel touching the box's corner diagonally (8-connected)
    out = prompt_agreement(mask, (20, 20, 40, 40))
    # Margin max(0.1 * 20, 2) = 2 px: the corner pixel's centre (40.5) is inside 42; the band is not.
    assert out['outside_box'] == 100 / 501 and out['box_fill'] == 501 / 400 and out['parts'] == 2
    tight = prompt_agreement(mask, (20, 20, 40, 40), margin=0.0, min_margin=0.0)
    assert tight['outside_box'] == 101 / 501
    # A window of the mask with its offset gives the same values as the whole image.
    window = mask[15:70, 18:85]
    assert prompt_agreement(window, (20, 20, 40, 40), offset=(18, 15)) == out
    empty = prompt_agreement(np.zeros((5, 5), bool), (0, 0, 2, 2), (1, 1, 2, 2, 0.0))
    assert empty == dict(outside_box=0.0, box_fill=0.0, rbox_iou=0.0, parts=0)


def test_convex_polygon_iou():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    assert convex_polygon_iou(square, square[::-1]) == pytest.approx(1.0)
    shifted = square + [1, 0]
    assert convex_polygon_iou(square, shifted) == pytest.approx(2 / 6)
    diamond = np.array([[1, -1], [3, 1], [1, 3], [-1, 1]], dtype=float)  # area 8, holds the square
    assert convex_polygon_iou(square, diamond) == pytest.approx(4 / 8)
    assert convex_polygon_iou(square, square + [5, 5]) == 0.0
