"""COCO RLE (samrs_mm.structures.rle): windows encode and decode like the full image."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_mm.structures.rle import encode, encode_window


def test_encode_window_equals_full_encoding():
    rng = np.random.default_rng(0)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        full = np.zeros((height, width), bool)
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = int(rng.integers(1, height - y0 + 1)), int(rng.integers(1, width - x0 + 1))
        full[y0:y0 + h, x0:x0 + w] = rng.random((h, w)) < rng.random()
        rle = encode_window(full[y0:y0 + h, x0:x0 + w], y0, x0, height, width)[0]
        assert rle == encode(full)
        assert isinstance(rle['counts'], str) and rle['size'] == [height, width]
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), full)


def test_encode_window_edges_and_errors():
    full = np.ones((3, 4), bool)
    assert encode_window(full, 0, 0, 3, 4)[0] == encode(full)
    empty = np.zeros((2, 2), bool)
    assert mask_utils.decode(encode_window(empty, 1, 1, 5, 6)[0]).sum() == 0
    with pytest.raises(ValueError, match='exceeds the 4x3 image'):
        encode_window(full, 0, 1, 3, 4)


def test_decode_window_equals_slicing_the_full_decode():
    from samrs_mm.structures.rle import decode_window, rle_runs
    rng = np.random.default_rng(1)
    for i in range(300):
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        full = rng.random((height, width)) < rng.random()
        if i % 7 == 0:
            full[:] = i % 2 == 0  # all zeros / all ones: one or two runs
        rle = encode(full)
        runs = rle_runs(rle)
        assert runs.sum() == height * width and (runs[1:] >= 0).all()
        np.testing.assert_array_equal(rle_runs(dict(rle, counts=runs.tolist())), runs)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(0, width - x0 + 1)), int(rng.integers(0, height - y0 + 1))
        np.testing.assert_array_equal(decode_window(rle, x0, y0, w, h), full[y0:y0 + h, x0:x0 + w])
    with pytest.raises(ValueError, match='exceeds the 4x3 mask'):
        decode_window(encode(np.ones((3, 4), bool)), 2, 0, 3, 1)


def test_rle_runs_reads_large_counts():
    """Counts over 2**15 take several 5-bit groups, and deltas may be negative."""
    from samrs_mm.structures.rle import rle_runs
    full = np.zeros((300, 400), bool)
    full[10:290, 5:6] = True        # short runs after a long one
    full[:, 200:399] = True         # one run of 59,700 pixels
    rle = encode(full)
    runs = rle_runs(rle)
    flat = full.ravel(order='F')
    rebuilt = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    np.testing.assert_array_equal(rebuilt, flat)
