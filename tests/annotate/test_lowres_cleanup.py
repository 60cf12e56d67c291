"""Small holes filled and small specks removed in low-res logits, by 8-connected regions (as SAM 2 / SAM 3 do)."""
import torch

from samrs_mm.annotate.engine.lowres_cleanup import clean_low_res


def test_holes_and_specks_by_hand():
    low = torch.full((1, 12, 12), 5.0)
    low[0, 2, 2] = -1.0                    # a 1-pixel hole
    low[0, 5, 5] = low[0, 6, 6] = -2.0     # two pixels touching by a corner: one 2-pixel hole
    low[0, 9:12, 0:4] = -3.0               # a 12-pixel hole on the border
    filled = clean_low_res(low, 0.0, max_hole_area=2)
    assert filled[0, 2, 2] == 10.0 and filled[0, 5, 5] == filled[0, 6, 6] == 10.0
    assert (filled[0, 9:12, 0:4] == -3.0).all()            # larger than 2: kept
    assert torch.equal(filled[low > 0], low[low > 0])      # foreground untouched
    assert torch.equal(clean_low_res(low, 0.0, max_hole_area=12)[0, 9:12, 0:4], torch.full((3, 4), 10.0))

    specks = -low
    cleaned = clean_low_res(specks, 0.0, max_sprinkle_area=2)
    assert cleaned[0, 2, 2] == -10.0 and cleaned[0, 5, 5] == cleaned[0, 6, 6] == -10.0
    assert (cleaned[0, 9:12, 0:4] == 3.0).all()


def test_nothing_to_do_returns_the_input():
    low = torch.randn(2, 8, 8)
    assert clean_low_res(low, 0.0) is low
