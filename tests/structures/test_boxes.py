"""Property tests for the box conversions of samrs_mm.structures.boxes."""
import cv2
import numpy as np
import pytest

from samrs_mm.structures import boxes as G


def _random_rboxes(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.uniform(-50, 500, n), rng.uniform(-50, 500, n),
        rng.uniform(0.5, 200, n), rng.uniform(0.5, 200, n),
        rng.uniform(-3 * np.pi, 3 * np.pi, n)], axis=-1)


def _same_corner_set(q1, q2, atol=1e-7):
    """True when two [4, 2] quads have the same corners, in any cyclic order."""
    return any(np.allclose(np.roll(q1, k, axis=0), q2, atol=atol) for k in range(4))


def test_axis_aligned_rectangle_exact():
    quad = np.array([[10., 20.], [50., 20.], [50., 30.], [10., 30.]])
    np.testing.assert_allclose(G.quad_to_rbox(quad), [30, 25, 40, 10, 0], atol=1e-12)
    np.testing.assert_array_equal(G.quad_to_hbox(quad), [10, 20, 50, 30])
    np.testing.assert_array_equal(G.hbox_to_quad([10, 20, 50, 30]), quad)
    np.testing.assert_array_equal(G.hbox_to_rbox([10, 20, 50, 30]), [30, 25, 40, 10, 0])


def test_tall_hbox_becomes_le90_long_edge():
    # Taller than wide: le90 puts the long side first and turns by -pi/2.
    np.testing.assert_allclose(G.hbox_to_rbox([0, 0, 2, 6]), [1, 3, 6, 2, -np.pi / 2])
    quad = G.rbox_to_quad(G.hbox_to_rbox([0, 0, 2, 6]))
    assert _same_corner_set(quad, G.hbox_to_quad([0, 0, 2, 6]))


def test_angle_sign_is_clockwise_on_screen():
    # theta = +pi/6: the width side points right and DOWN on screen (image y grows downward).
    quad = G.rbox_to_quad([0, 0, 2, 0, np.pi / 6])
    first, second = quad[0], quad[1]
    direction = second - first
    assert direction[0] > 0 and direction[1] > 0
    np.testing.assert_allclose(np.arctan2(direction[1], direction[0]), np.pi / 6)


def test_quad_order_top_left_first_clockwise():
    quad = G.rbox_to_quad([5, 5, 4, 2, 0])
    np.testing.assert_allclose(quad, [[3, 4], [7, 4], [7, 6], [3, 6]])
    # Clockwise on screen = positive signed shoelace area with y pointing down.
    x, y = quad[:, 0], quad[:, 1]
    assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0


def test_normalize_le90_ranges_and_idempotent():
    r = G.normalize_angle_le90(_random_rboxes(2000))
    assert np.all(r[:, 2] >= r[:, 3])
    assert np.all(r[:, 4] >= -np.pi / 2) and np.all(r[:, 4] < np.pi / 2)
    np.testing.assert_allclose(G.normalize_angle_le90(r), r, atol=1e-12)


def test_normalize_keeps_the_same_box():
    raw = _random_rboxes(500, seed=1)
    norm = G.normalize_angle_le90(raw)
    for a, b in zip(G.rbox_to_quad(raw), G.rbox_to_quad(norm)):
        assert _same_corner_set(a, b, atol=1e-6)


def test_square_angle_unique():
    r = G.normalize_angle_le90([[0, 0, 3, 3, np.pi / 2], [0, 0, 3, 3, -np.pi / 2], [0, 0, 3, 3, 0.1 + np.pi]])
    np.testing.assert_allclose(r[:, 4], [0, 0, 0.1], atol=1e-12)


def test_rbox_quad_round_trip():
    r = G.normalize_angle_le90(_random_rboxes(2000, seed=2))
    back = G.quad_to_rbox(G.rbox_to_quad(r))
    # Compare as boxes: angle is only defined modulo pi, so compare corners.
    np.testing.assert_allclose(back[:, :4], r[:, :4], atol=1e-6)
    for a, b in zip(G.rbox_to_quad(back), G.rbox_to_quad(r)):
        assert _same_corner_set(a, b, atol=1e-6)


def test_quad_round_trip_from_shuffled_corner_order():
    r = G.normalize_angle_le90(_random_rboxes(200, seed=3))
    quads = G.rbox_to_quad(r)
    # Counter-clockwise order and a different start corner describe the same rectangle.
    reordered = quads[:, [2, 1, 0, 3]]
    np.testing.assert_allclose(G.quad_to_rbox(reordered)[:, :4], r[:, :4], atol=1e-6)


def test_quad_to_rbox_matches_opencv_min_area_rect():
    pts = np.random.default_rng(4).uniform(0, 300, (500, 4, 2))
    ours = G.quad_to_rbox(pts)
    for p, r in zip(pts, ours):
        # Same minimal area as OpenCV (float32 inside); the rectangle itself can differ on ties.
        _, (w, h), _ = cv2.minAreaRect(p.astype(np.float32))
        assert r[2] * r[3] == pytest.approx(w * h, rel=1e-4, abs=1e-2)
        # The rectangle contains every point (up to rounding).
        local = (p - r[:2]) @ np.array([[np.cos(r[4]), -np.sin(r[4])], [np.sin(r[4]), np.cos(r[4])]])
        assert np.all(np.abs(local[:, 0]) <= r[2] / 2 + 1e-6)
        assert np.all(np.abs(local[:, 1]) <= r[3] / 2 + 1e-6)


def test_rbox_to_hbox_closed_form_equals_corner_hull():
    r = _random_rboxes(1000, seed=5)
    np.testing.assert_allclose(G.rbox_to_hbox(r), G.quad_to_hbox(G.rbox_to_quad(r)), atol=1e-9)


def test_rh_box_of_45_degree_square():
    # A 2x2 square turned 45 degrees: its horizontal hull is sqrt(2) on each side of the centre.
    s = np.sqrt(2)
    np.testing.assert_allclose(G.rbox_to_hbox([10, 10, 2, 2, np.pi / 4]), [10 - s, 10 - s, 10 + s, 10 + s])


def test_batch_dims_preserved():
    r = _random_rboxes(24).reshape(2, 3, 4, 5)
    assert G.rbox_to_quad(r).shape == (2, 3, 4, 4, 2)
    assert G.quad_to_rbox(G.rbox_to_quad(r)).shape == (2, 3, 4, 5)
    assert G.rbox_to_hbox(r).shape == (2, 3, 4, 4)
    assert G.hbox_to_rbox(G.rbox_to_hbox(r)).shape == (2, 3, 4, 5)
    assert G.hbox_to_quad(np.zeros((7, 4))).shape == (7, 4, 2)
    assert G.quad_to_rbox(np.zeros((0, 4, 2))).shape == (0, 5)


def test_non_rectangular_quad_hbox_uses_all_points():
    # DOTA-style quad whose corner 1 / corner 3 are NOT the extreme points.
    quad = np.array([[5., 0.], [10., 5.], [5., 10.], [0., 5.]])
    np.testing.assert_array_equal(G.quad_to_hbox(quad), [0, 0, 10, 10])


def test_degenerate_quads():
    same = G.quad_to_rbox(np.full((4, 2), 3.0))
    np.testing.assert_allclose(same, [3, 3, 0, 0, 0])
    segment = G.quad_to_rbox([[0, 0], [4, 0], [4, 0], [0, 0]])
    np.testing.assert_allclose(segment, [2, 0, 4, 0, 0], atol=1e-12)


def test_polygon_helpers():
    flat = [0, 0, 4, 0, 4, 3, 0, 3]
    np.testing.assert_array_equal(G.polygon_to_hbox(flat), [0, 0, 4, 3])
    assert G.polygon_area(np.reshape(flat, (4, 2))) == 12
    assert G.rbox_area([0, 0, 4, 3, 1.0]) == 12
    assert G.hbox_area([0, 0, 4, 3]) == 12
    with pytest.raises(ValueError, match='even'):
        G.polygon_to_hbox([1, 2, 3])


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r'rbox must have shape \[\.\.\., 5\]'):
        G.rbox_to_quad(np.zeros((3, 4)))
    with pytest.raises(ValueError, match='quad must have shape'):
        G.quad_to_rbox(np.zeros((3, 8)))


def test_convex_hull_drops_inner_and_collinear_points():
    pts = [[0, 0], [2, 0], [4, 0], [4, 3], [0, 3], [1, 1], [2, 2], [0, 0]]
    hull = G.convex_hull(pts)
    assert sorted(map(tuple, hull.tolist())) == [(0, 0), (0, 3), (4, 0), (4, 3)]


def test_points_to_rbox_equals_quad_to_rbox_and_opencv():
    rng = np.random.default_rng(6)
    for _ in range(200):
        pts = rng.uniform(0, 100, (rng.integers(3, 40), 2))
        r = G.points_to_rbox(pts)
        _, (w, h), _ = cv2.minAreaRect(pts.astype(np.float32))
        assert r[2] * r[3] == pytest.approx(w * h, rel=1e-4, abs=1e-2)
    quads = G.rbox_to_quad(G.normalize_angle_le90(_random_rboxes(50, seed=7)))
    for q in quads:
        np.testing.assert_allclose(G.points_to_rbox(q)[:4], G.quad_to_rbox(q)[:4], atol=1e-6)


def test_points_to_rbox_degenerate():
    np.testing.assert_allclose(G.points_to_rbox([[2, 3], [2, 3]]), [2, 3, 0, 0, 0])
    np.testing.assert_allclose(G.points_to_rbox([[0, 0], [0, 4]]), [0, 2, 4, 0, -np.pi / 2], atol=1e-12)


def test_same_convention_as_mmrotate():
    """Our rbox <-> quad match mmrotate's rbox2qbox / qbox2rbox + le90 regularisation."""
    torch = pytest.importorskip('torch')
    from samrs_mm.compat import import_mmrotate
    import_mmrotate()
    from mmrotate.structures.bbox import RotatedBoxes, qbox2rbox, rbox2qbox

    rboxes = G.normalize_angle_le90(_random_rboxes(300, seed=8))
    theirs_q = rbox2qbox(torch.tensor(rboxes)).numpy().reshape(-1, 4, 2)
    for ours, theirs in zip(G.rbox_to_quad(rboxes), theirs_q):
        assert _same_corner_set(ours, theirs[::-1], atol=1e-6) or \
            _same_corner_set(ours, theirs, atol=1e-6)
    quads = G.rbox_to_quad(rboxes)
    qboxes = torch.tensor(quads.reshape(-1, 8), dtype=torch.float32)  # cv2 wants float32
    theirs_r = RotatedBoxes(qbox2rbox(qboxes)).regularize_boxes('le90')
    theirs_r = theirs_r.numpy()
    ours_r = G.quad_to_rbox(quads)
    np.testing.assert_allclose(ours_r[:, :4], theirs_r[:, :4], atol=5e-3)  # cv2 is float32
    not_square = np.abs(ours_r[:, 2] - ours_r[:, 3]) > 1e-2 * ours_r[:, 2]
    # Angles agree modulo pi (the two ends of le90's range describe the same box).
    diff = np.mod(ours_r[not_square, 4] - theirs_r[not_square, 4] + np.pi / 2, np.pi) - np.pi / 2
    np.testing.assert_allclose(diff, 0, atol=1e-4)


# ---------------------------------------------------------------- one place for an object's boxes
def test_normalize_twice_equals_once_bit_for_bit():
    boxes = _random_rboxes(2000, seed=3)
    boxes[::7, 3] = boxes[::7, 2]  # squares too
    once = G.normalize_angle_le90(boxes)
    np.testing.assert_array_equal(G.normalize_angle_le90(once), once)
    # quad_to_rbox already normalises: completing its result again changes no bit.
    quads = G.rbox_to_quad(boxes)
    rboxes = G.quad_to_rbox(quads)
    np.testing.assert_array_equal(G.normalize_angle_le90(rboxes), rboxes)


def test_complete_boxes_from_each_kind():
    quad = np.array([[10., 20.], [50., 20.], [50., 30.], [10., 30.]])
    from_quad = G.complete_boxes(quad=quad)
    np.testing.assert_array_equal(from_quad.hbox, [10, 20, 50, 30])
    np.testing.assert_array_equal(from_quad.rbox, G.quad_to_rbox(quad))
    np.testing.assert_array_equal(from_quad.quad, quad)
    tall = G.complete_boxes(rbox=[30, 25, 10, 40, 0])  # h > w: le90 swaps the sides
    np.testing.assert_allclose(tall.rbox, [30, 25, 40, 10, -np.pi / 2])
    np.testing.assert_allclose(tall.hbox, [25, 5, 35, 45], atol=1e-12)
    np.testing.assert_allclose(tall.quad, G.rbox_to_quad(tall.rbox))
    given = G.complete_boxes(hbox=[1, 2, 3, 4], quad=quad)  # a given hbox is kept
    np.testing.assert_array_equal(given.hbox, [1, 2, 3, 4])
    horizontal = G.complete_boxes(hbox=[1, 2, 3, 4])
    assert horizontal.quad is None and horizontal.rbox is None
    with pytest.raises(G.BoxError, match=r'a\.txt:3: quad must be 8 numbers') as err:
        G.complete_boxes(quad=[1, 2, 3], path='a.txt', line=3)
    assert err.value.reason == 'malformed'


@pytest.mark.parametrize('given, zero_ok, reason, message', [
    (dict(hbox=[0, 0, np.nan, 5]), True, 'degenerate', 'NaN or infinite'),
    (dict(hbox=[5, 0, 1, 5]), True, 'degenerate', 'x2 < x1'),
    (dict(hbox=[1, 1, 1, 5]), False, 'degenerate', 'degenerate box'),
    (dict(quad=[[1, 1], [1, 1], [1, 1], [1, 1]]), False, 'degenerate', 'zero-area quadrilateral'),
    (dict(hbox=[1, 1, 5, 5], rbox=[3, 3, -1, 2, 0]), True, 'degenerate', 'rbox .* zero or negative side'),
    (dict(hbox=[200, 1, 220, 5]), True, 'outside-image', 'lies outside the 100x80 image'),
])
def test_check_boxes_names_the_problem(given, zero_ok, reason, message):
    boxes = G.complete_boxes(**given, path='x.xml', where='object 2')
    with pytest.raises(G.BoxError, match=message) as err:
        G.check_boxes(boxes, width=100, height=80, allow_zero_size=zero_ok, path='x.xml', where='object 2')
    assert err.value.reason == reason and str(err.value).startswith('x.xml (object 2): ')


def test_check_boxes_zero_size_only_where_allowed():
    point = G.complete_boxes(hbox=[4, 4, 4, 4])
    G.check_boxes(point, width=10, height=10, allow_zero_size=True)  # a SAM prompt may be a point
    with pytest.raises(G.BoxError, match='no area'):
        G.check_boxes(point, width=10, height=10)
    G.check_boxes(G.complete_boxes(hbox=[-5, -5, 2, 2]), width=10, height=10)  # partly outside is fine
