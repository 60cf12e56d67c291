"""COCO RLE helpers: encoding a mask from its box crop equals encoding the full image."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_mm.sources.masks import encode_crop, encode_mask


def test_encode_crop_equals_full_encoding():
    rng = np.random.default_rng(0)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        full = np.zeros((height, width), bool)
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = int(rng.integers(1, height - y0 + 1)), int(rng.integers(1, width - x0 + 1))
        full[y0:y0 + h, x0:x0 + w] = rng.random((h, w)) < rng.random()
        rle = encode_crop(full[y0:y0 + h, x0:x0 + w], x0, y0, height, width)
        assert rle == encode_mask(full)
        assert isinstance(rle['counts'], str) and rle['size'] == [height, width]
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), full)


def test_encode_crop_edges_and_errors():
    full = np.ones((3, 4), bool)
    assert encode_crop(full, 0, 0, 3, 4) == encode_mask(full)
    empty = np.zeros((2, 2), bool)
    assert mask_utils.decode(encode_crop(empty, 1, 1, 5, 6)).sum() == 0
    with pytest.raises(ValueError, match='exceeds the 4x3 image'):
        encode_crop(full, 1, 0, 3, 4)
