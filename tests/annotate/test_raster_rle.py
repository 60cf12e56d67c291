"""The pixel-inclusion rule of box regions, and COCO RLE from mask windows."""
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from shapely.geometry import Point, Polygon

from samrs_mm.annotate.engine.raster import fill_polygon, polygon_coverage
from samrs_mm.annotate.engine.rle import scan_window_torch, window_to_rle
from samrs_mm.structures.rle import empty_rle, scan_window


def full(poly, h, w):
    window, top, left = fill_polygon(np.asarray(poly, float), h, w)
    out = np.zeros((h, w), bool)
    out[top:top + window.shape[0], left:left + window.shape[1]] = window
    return out


def box(x1, y1, x2, y2):
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]


def test_integer_box_fills_exactly_its_area():
    m = full(box(2, 3, 7, 5), 10, 10)
    expected = np.zeros((10, 10), bool)
    expected[3:5, 2:7] = True
    np.testing.assert_array_equal(m, expected)
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    assert mask_utils.area(rle) == (7 - 2) * (5 - 3)
    np.testing.assert_array_equal(mask_utils.toBbox(rle), [2, 3, 5, 2])  # the box itself


def test_fractional_box_by_pixel_centres():
    # Centres j + 0.5 in [2.4, 7.5) -> cols 2..6; i + 0.5 in [3.6, 5.5) -> row 4 only.
    m = full(box(2.4, 3.6, 7.5, 5.5), 10, 10)
    assert np.argwhere(m).tolist() == [[4, c] for c in range(2, 7)]


def test_adjacent_boxes_tile_without_overlap():
    a, b = full(box(0, 0, 5, 10), 10, 10), full(box(5, 0, 10, 10), 10, 10)
    assert not (a & b).any() and (a | b).all()


def test_orientation_does_not_matter():
    poly = np.array([[5., 1.], [9., 5.], [5., 9.], [1., 5.]])
    np.testing.assert_array_equal(full(poly, 12, 12), full(poly[::-1], 12, 12))


def test_rotated_polygons_match_shapely():
    rng = np.random.default_rng(0)
    xs = np.arange(40) + 0.5
    for _ in range(20):
        c = rng.uniform(5, 35, 2)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 4))
        poly = c + rng.uniform(3, 15, (4, 1)) * np.stack([np.cos(ang), np.sin(ang)], 1)  # convex-ish star
        ours = polygon_coverage(poly, xs, xs)
        shape = Polygon(poly)
        for i in range(40):
            for j in range(40):
                p = Point(xs[j], xs[i])
                if shape.exterior.distance(p) > 1e-9:  # boundary points follow our half-open rule
                    assert ours[i, j] == shape.contains(p), (poly, i, j)


def test_window_is_clipped_to_the_grid():
    window, top, left = fill_polygon(np.array(box(-5, 8, 4, 30), float), 20, 10)
    assert (top, left) == (8, 0) and window.shape == (12, 4) and window.all()
    window, top, left = fill_polygon(np.array(box(20, 20, 30, 30), float), 10, 10)
    assert window.shape == (0, 0)
    with pytest.raises(ValueError, match='non-finite'):
        fill_polygon(np.array(box(0, 0, np.inf, 3), float), 10, 10)


def test_window_rle_equals_pycocotools_on_full_masks():
    rng = np.random.default_rng(1)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        wh, ww = int(rng.integers(0, h + 1)), int(rng.integers(0, w + 1))
        top, left = int(rng.integers(0, h - wh + 1)), int(rng.integers(0, w - ww + 1))
        win = rng.random((wh, ww)) < rng.random()
        mask = np.zeros((h, w), np.uint8)
        mask[top:top + wh, left:left + ww] = win
        ref = mask_utils.encode(np.asfortranarray(mask))
        rle, area, bbox = window_to_rle(win, top, left, h, w)
        assert rle == {'size': [h, w], 'counts': ref['counts'].decode('ascii')}
        assert area == mask.sum()
        np.testing.assert_array_equal(bbox, mask_utils.toBbox(ref))


def test_empty_and_bad_windows():
    assert window_to_rle(np.zeros((3, 3), bool), 1, 1, 5, 5)[1:] == (0, (0.0, 0.0, 0.0, 0.0))
    assert mask_utils.decode({'size': [5, 7], 'counts': empty_rle(5, 7)['counts'].encode()}).sum() == 0
    with pytest.raises(ValueError, match='exceeds'):
        window_to_rle(np.ones((3, 3), bool), 4, 0, 5, 5)


def test_device_scan_equals_host_scan():
    """The torch scan used for CUDA windows finds the same runs as the numpy one."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        win = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) < 0.4
        top, left = int(rng.integers(0, 10)), int(rng.integers(0, 10))
        host = scan_window(win, top, left, 45)
        device = scan_window_torch(torch.from_numpy(win), top, left, 45)
        if host is None:
            assert device is None
            continue
        np.testing.assert_array_equal(host[0], device[0])
        assert host[1:] == device[1:]
    # A CPU tensor is accepted and gives the numpy result.
    win = rng.random((8, 9)) < 0.5
    assert window_to_rle(torch.from_numpy(win), 2, 3, 20, 20) == window_to_rle(win, 2, 3, 20, 20)
