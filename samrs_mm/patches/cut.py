"""How an object cut by a patch border is written: the three cut rules (:data:`CUT_RULES`).

The visible part of a cut object is its polygon intersected with the window. What the label
file gets as the object's quadrilateral depends on the rule:

* ``'fit'`` (default): the visible part itself when it has 4 corners (a DOTA label is a
  quadrilateral; the DOTA devkit writes the same), else the rotated rectangle that best fits
  it while staying inside the patch (:func:`fit_rectangle`): the visible part's minimum-area
  rectangle among those with a side on one of the object's own edges (never a window edge,
  so a rotated object does not turn axis-aligned) when that fits, otherwise, at the source
  box's orientation (and its edges') and at that rectangle's, the rectangle inside the patch
  with the highest IoU with the visible part (the enclosing rectangle shrunk to the border).
  The quad starts at the source's first vertex when that vertex is inside the patch, else at
  the rotation that best matches the source's vertices (the devkit's rule).
* ``'original'``: the whole source quad, even where it leaves the patch (mmrotate's
  ``img_split.py``; written with difficulty 2).
* ``'clip'``: the visible part when it has 4 corners, else the smallest rectangle around it
  that stays inside the patch (among the rectangles with a side on a hull edge, and the
  axis-aligned one), top-left-most corner first (the rule of earlier versions).

Whatever the rule, the object's hbox is the visible part's extent. Shapely does the polygon
work; nothing here reads or writes files.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np

from ..structures import boxes as G

__all__ = ['CUT_RULES', 'cut_object', 'fit_rectangle', 'start_like_source']

CUT_RULES = ('fit', 'original', 'clip')

# A corner counts as inside the window when it exceeds it by at most this (rounding).
_INSIDE_EPS = 1e-6
# Rectangles thinner than this (pixels) are not candidates of the fitted rectangle.
_MIN_SIDE = 1e-6
# Points per share of the shrink search (by how many window sides the enclosing rectangle
# crosses): a coarse grid, then finer ones around the best point.
_COARSE = {1: 9, 2: 7, 3: 5, 4: 4}
_FINE = {1: 5, 2: 5, 3: 3, 4: 3}
_REFINEMENTS = 2
# Orientations closer than this (radians) are tried once.
_SAME_TURN = 1e-9


def _clean_ring(coords: np.ndarray) -> np.ndarray:
    """Polygon ring without the closing point, duplicates and collinear vertices."""
    pts = np.asarray(coords, dtype=np.float64)[:-1]
    changed = True
    while changed and len(pts) > 3:
        changed = False
        prev, nxt = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
        cross = (pts[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1]) - \
            (pts[:, 1] - prev[:, 1]) * (nxt[:, 0] - prev[:, 0])
        scale = np.maximum(np.abs(nxt - prev).sum(1), 1.0)
        flat = np.abs(cross) <= 1e-9 * scale * scale
        if flat.any():
            pts = pts[~flat]
            changed = True
    return pts


def _visible_ring(visible) -> np.ndarray:
    """Corners ``[N, 2]`` of the visible part (its hull when it is not one polygon), clockwise
    on screen like DOTA labels (positive shoelace sum with y pointing down)."""
    import shapely
    if visible.geom_type != 'Polygon':
        visible = shapely.convex_hull(visible)
    ring = _clean_ring(np.asarray(visible.exterior.coords))
    x, y = ring[:, 0], ring[:, 1]
    if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:
        ring = ring[::-1]
    return ring


def _inside(points: np.ndarray, window) -> np.ndarray:
    """Whether every point of each ``[..., K, 2]`` set lies in the window (up to rounding)."""
    x1, y1, x2, y2 = window
    return ((points[..., 0] >= x1 - _INSIDE_EPS) & (points[..., 0] <= x2 + _INSIDE_EPS) &
            (points[..., 1] >= y1 - _INSIDE_EPS) & (points[..., 1] <= y2 + _INSIDE_EPS)).all(axis=-1)


def _onto_window(quad: np.ndarray, window) -> np.ndarray:
    """Rounding may leave a corner a hair outside: put it on the border."""
    x1, y1, x2, y2 = window
    return np.stack([np.clip(quad[:, 0], x1, x2), np.clip(quad[:, 1], y1, y2)], axis=1)


def start_like_source(quad: np.ndarray, source: np.ndarray, window) -> np.ndarray:
    """``quad`` (clockwise) turned so that it starts where the source quad starts.

    When the source's first vertex lies in the window, the corner nearest to it comes first;
    otherwise the turn whose corners are nearest to the source's corners, in order (the DOTA
    devkit's rule for cut objects). Only the start moves, never the direction.
    """
    quad = np.asarray(quad, dtype=np.float64)
    first = np.asarray(source[0], dtype=np.float64)
    if _inside(first[None], window):
        start = int(np.argmin(np.hypot(*(quad - first).T)))
    else:
        turns = np.stack([np.roll(quad, -k, axis=0) for k in range(4)])
        start = int(np.argmin(((turns - np.asarray(source, dtype=np.float64)) ** 2).sum(axis=(1, 2))))
    return np.roll(quad, -start, axis=0)


def _quarter_turn(theta: float) -> float:
    """An orientation in ``[0, pi/2)`` (a rectangle is the same after a quarter turn)."""
    t = math.fmod(theta, math.pi / 2)
    t = t + math.pi / 2 if t < 0 else t
    return 0.0 if math.pi / 2 - t < 1e-9 else t


def _unique(thetas) -> list:
    """Orientations in ``[0, pi/2)``, each once (the first of near-equal ones kept)."""
    out: list = []
    for theta in thetas:
        t = _quarter_turn(theta)
        if all(min(abs(t - o), math.pi / 2 - abs(t - o)) > _SAME_TURN for o in out):
            out.append(t)
    return out


def _source_orientations(source: np.ndarray) -> list:
    """The source box's orientation, then its edges' directions, in ``[0, pi/2)``."""
    edges = np.roll(source, -1, axis=0) - source
    return _unique([float(G.quad_to_rbox(source)[4])] +
                   [math.atan2(dy, dx) for dx, dy in edges if dx or dy])


def _object_edge_orientations(ring: np.ndarray, window) -> list:
    """Directions of the ring's edges that are the object's own (not on the window border)."""
    x1, y1, x2, y2 = window
    nxt = np.roll(ring, -1, axis=0)
    thetas = []
    for (ax, ay), (bx, by) in zip(ring, nxt):
        on_border = any(abs(a - v) <= _INSIDE_EPS and abs(b - v) <= _INSIDE_EPS
                        for a, b, v in ((ax, bx, x1), (ax, bx, x2), (ay, by, y1), (ay, by, y2)))
        if not on_border and (ax != bx or ay != by):
            thetas.append(math.atan2(by - ay, bx - ax))
    return _unique(thetas)


def _enclosing(ring: np.ndarray, theta: float) -> np.ndarray:
    """The smallest rectangle at ``theta`` around the ring, as its sides ``[u0, u1, v0, v1]`` in
    the rectangle's frame (u = x c + y s, v = -x s + y c)."""
    c, s = math.cos(theta), math.sin(theta)
    u, v = ring @ np.array([c, s]), ring @ np.array([-s, c])
    return np.array([u.min(), u.max(), v.min(), v.max()])


def _corners(r: np.ndarray, theta: float) -> np.ndarray:
    """Image corners ``[4, 2]`` (clockwise on screen) of the rectangle with sides ``r`` at ``theta``."""
    c, s = math.cos(theta), math.sin(theta)
    u0, u1, v0, v1 = r
    corners = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    return np.stack([corners[:, 0] * c - corners[:, 1] * s, corners[:, 0] * s + corners[:, 1] * c], axis=1)


# The four ways a rotated rectangle (theta in [0, pi/2)) can leave the window, each decided
# by one corner. In the rectangle's frame (u along its width side, v along its height side;
# x = u c - v s, y = u s + v c) the sides are r = [u0, u1, v0, v1]; per constraint: the u side
# and the v side of that corner, and which of (c, s) weighs each when it moves inwards.
_LIMITS = (  # (u index, v index, u weight, v weight)
    (0, 3, 'c', 's'),  # leftmost corner (u0, v1):   u0 c - v1 s >= x1
    (1, 2, 'c', 's'),  # rightmost corner (u1, v0):  u1 c - v0 s <= x2
    (0, 2, 's', 'c'),  # topmost corner (u0, v0):    u0 s + v0 c >= y1
    (1, 3, 's', 'c'),  # bottommost corner (u1, v1): u1 s + v1 c <= y2
)
_INWARD = np.array([1.0, -1.0, 1.0, -1.0])  # the direction that moves each side inwards


def _slacks(r: np.ndarray, c: float, s: float, window) -> np.ndarray:
    """How far each extreme corner of rectangles ``r`` ``[N, 4]`` lies inside the window's
    side it faces, ``[N, 4]`` (negative: outside)."""
    x1, y1, x2, y2 = window
    u0, u1, v0, v1 = r.T
    return np.stack([u0 * c - v1 * s - x1, x2 - (u1 * c - v0 * s),
                     u0 * s + v0 * c - y1, y2 - (u1 * s + v1 * c)], axis=1)


def _shrunk(start: np.ndarray, shares: np.ndarray, order: Sequence[int], c: float, s: float,
            window) -> np.ndarray:
    """Rectangles ``[N, 4]`` made from ``start`` by moving sides inwards until each limit in
    ``order`` holds, limit ``order[k]`` taking ``shares[:, k]`` of its shortfall from its u side
    and the rest from its v side. Moving a side inwards never breaks another limit (every
    weight is >= 0), so the result lies inside the window."""
    weight = {'c': c, 's': s}
    r = np.repeat(start[None], len(shares), axis=0)
    for k, limit in enumerate(order):
        ui, vi, uw, vw = _LIMITS[limit]
        wu, wv = weight[uw], weight[vw]
        short = np.maximum(-_slacks(r, c, s, window)[:, limit], 0.0)
        share = shares[:, k] if wu > 0 and wv > 0 else np.full(len(r), 1.0 if wu > 0 else 0.0)
        if wu > 0:
            r[:, ui] += _INWARD[ui] * share * short / wu
        if wv > 0:
            r[:, vi] += _INWARD[vi] * (1 - share) * short / wv
    return r


def _ious(r: np.ndarray, visible_uv, visible_area: float) -> np.ndarray:
    """IoU of axis-aligned rectangles ``r`` ``[N, 4]`` (u0, u1, v0, v1) with a polygon, both in
    the rectangle frame; rectangles without area get -1."""
    import shapely
    ok = (r[:, 1] - r[:, 0] > _MIN_SIDE) & (r[:, 3] - r[:, 2] > _MIN_SIDE)
    out = np.full(len(r), -1.0)
    if ok.any():
        boxes = shapely.box(r[ok, 0], r[ok, 2], r[ok, 1], r[ok, 3])
        inter = shapely.area(shapely.intersection(boxes, visible_uv))
        area = (r[ok, 1] - r[ok, 0]) * (r[ok, 3] - r[ok, 2])
        out[ok] = inter / (area + visible_area - inter)
    return out


def _best_at(theta: float, ring: np.ndarray, window) -> Tuple[float, np.ndarray]:
    """``(IoU, quad)`` of the rectangle at ``theta`` inside the window that best fits the
    convex polygon ``ring``: its enclosing rectangle at ``theta``, with the sides that leave
    the window moved inwards by the best-found split of each shortfall."""
    import shapely
    c, s = math.cos(theta), math.sin(theta)
    start = _enclosing(ring, theta)
    visible_uv = shapely.Polygon(np.stack([ring @ np.array([c, s]), ring @ np.array([-s, c])], axis=1))
    area = visible_uv.area
    order = [k for k in range(4) if _slacks(start[None], c, s, window)[0, k] < -_INSIDE_EPS]
    if not order:
        best, iou = start, area / max((start[1] - start[0]) * (start[3] - start[2]), 1e-300)
    else:
        dims = len(order)
        centre, half = np.full(dims, 0.5), 0.5
        best, iou = start, -1.0
        for step in range(_REFINEMENTS + 1):
            n = (_COARSE if step == 0 else _FINE)[dims]
            axis = np.linspace(-half, half, n)
            grid = np.stack(np.meshgrid(*([axis] * dims), indexing='ij'), axis=-1).reshape(-1, dims)
            shares = np.clip(centre + grid, 0.0, 1.0)
            rects = _shrunk(start, shares, order, c, s, window)
            scores = _ious(rects, visible_uv, area)
            k = int(np.argmax(scores))
            if scores[k] > iou:
                best, iou, centre = rects[k], float(scores[k]), shares[k]
            half = half / (n - 1)  # then half a step either side of the best point
        if iou < 0:
            return -1.0, np.zeros((4, 2))
    return iou, _corners(best, theta)


def fit_rectangle(ring: np.ndarray, source: np.ndarray, window) -> np.ndarray:
    """The rotated rectangle ``[4, 2]`` (clockwise) inside ``window`` that best fits the convex
    polygon ``ring`` ``[N, 2]`` cut from the quad ``source`` (see the module docstring).

    The smallest rectangle with a side on one of the object's own edges (not the window's;
    ties go to the source's orientation) when it lies in the window; else the highest-IoU
    rectangle inside the window at the source's orientations and that one's. Only when no such
    rectangle has an area (a sliver) is the ring's axis-aligned hull used.
    """
    source = np.asarray(source, dtype=np.float64)
    own = _source_orientations(source)
    thetas = _object_edge_orientations(ring, window) or own
    rects = [_enclosing(ring, t) for t in thetas]
    areas = np.array([(r[1] - r[0]) * (r[3] - r[2]) for r in rects])
    tied = np.flatnonzero(areas <= areas.min() * (1 + 1e-9) + 1e-12)
    turn = [abs(math.sin(2 * (thetas[k] - own[0]))) for k in tied]
    k = int(tied[int(np.argmin(turn))])
    quad = _corners(rects[k], thetas[k])
    if _inside(quad, window):
        return quad
    best_iou, best = -1.0, None
    for theta in _unique(own + [thetas[k]]):
        iou, candidate = _best_at(theta, ring, window)
        if iou > best_iou + 1e-12:
            best_iou, best = iou, candidate
    if best is None:
        return G.hbox_to_quad(G.polygon_to_hbox(ring))
    return best


def _clip_rule_quad(ring: np.ndarray, hbox: np.ndarray, window) -> np.ndarray:
    """The rule of earlier versions: the smallest rectangle around the ring that stays inside
    the window (rectangles with a side on a hull edge, and the axis-aligned one, which always
    fits)."""
    candidates = np.concatenate([G.enclosing_rboxes(ring), G.hbox_to_rbox(hbox)[None]])
    quads = G.rbox_to_quad(candidates)
    areas = np.where(_inside(quads, window), candidates[:, 2] * candidates[:, 3], np.inf)
    return quads[int(np.argmin(areas))]


def cut_object(source: np.ndarray, visible, window, rule: str = 'fit') -> Tuple[np.ndarray, np.ndarray]:
    """``(quad [4, 2], hbox [4])`` to write for an object cut by ``window`` (image coordinates).

    ``source``: the object's quad ``[4, 2]``; ``visible``: its shapely intersection with the
    window (non-empty); ``rule``: one of :data:`CUT_RULES`. The hbox is always the visible
    part's extent; the quad lies inside the window except under ``'original'``.
    """
    import shapely
    if rule not in CUT_RULES:
        raise ValueError(f'cut rule must be one of {", ".join(CUT_RULES)}, got {rule!r}')
    source = np.asarray(source, dtype=np.float64)
    hbox = np.asarray(shapely.bounds(visible), dtype=np.float64)
    if rule == 'original':
        return source.copy(), hbox
    ring = _visible_ring(visible)
    if rule == 'clip':
        if len(ring) == 4:
            quad = np.roll(ring, -int(np.argmin(ring.sum(1))), axis=0)  # the top-left-most corner first
        else:
            quad = _clip_rule_quad(ring, hbox, window)
        return _onto_window(quad, window), hbox
    quad = ring if len(ring) == 4 else fit_rectangle(ring, source, window)
    return _onto_window(start_like_source(quad, source, window), window), hbox
