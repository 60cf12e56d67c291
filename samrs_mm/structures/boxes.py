"""An object's boxes: conversions between quadrilaterals, rotated and horizontal boxes
(numpy only), and the one place where an object's boxes are completed and checked
(:func:`complete_boxes`, :func:`check_boxes`, raising :class:`BoxError`).

All functions follow the conventions of :mod:`samrs_mm.structures.record` and accept any number
of leading batch dimensions:

* ``hbox``: ``[..., 4]`` = ``(x1, y1, x2, y2)``.
* ``rbox``: ``[..., 5]`` = ``(cx, cy, w, h, theta)``, ``theta`` in radians from the image
  x-axis to the width side, positive clockwise on screen (image y points down).
  Normalised boxes follow mmrotate's ``le90``: ``w >= h`` and ``theta`` in ``[-pi/2, pi/2)``.
* ``quad``: ``[..., 4, 2]`` corner points. Quads produced here start at the corner that is
  top-left for ``theta = 0`` and run clockwise on screen, like DOTA's labels.

Nothing here imports torch, OpenCV or mmrotate, so every stage (readers, patch cropping,
SAM prompts, the ``SAMAnnotate`` transform) can use it cheaply on whole arrays.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .errors import AnnotationError

__all__ = [
    'BoxError', 'ObjectBoxes', 'complete_boxes', 'check_boxes', 'normalize_angle_le90', 'quad_to_rbox',
    'rbox_to_quad', 'quad_to_hbox', 'rbox_to_hbox', 'hbox_to_quad', 'hbox_to_rbox', 'polygon_to_hbox',
    'polygon_area', 'rbox_area', 'hbox_area', 'convex_hull', 'enclosing_rboxes', 'points_to_rbox',
]

# The six point pairs of a quadrilateral: its four edges and two diagonals. The minimum-area
# enclosing rectangle of a convex hull has a side collinear with a hull edge, and every hull
# edge of 4 points is one of these pairs, so minimising over all six finds it whatever the
# point order or convexity.
_PAIRS_I = np.array([0, 1, 2, 3, 0, 1])
_PAIRS_J = np.array([1, 2, 3, 0, 2, 3])

# Relative tolerance under which a box counts as a square (w == h up to rounding).
_SQUARE_RTOL = 1e-9


def _as_float(array, last_shape, name):
    """Return ``array`` as float64 and check its trailing shape."""
    arr = np.asarray(array, dtype=np.float64)
    if arr.shape[arr.ndim - len(last_shape):] != tuple(last_shape) or arr.ndim < len(last_shape):
        raise ValueError(f'{name} must have shape [..., {", ".join(map(str, last_shape))}], '
                         f'got {arr.shape}')
    return arr


def normalize_angle_le90(rbox) -> np.ndarray:
    """Bring rotated boxes to mmrotate's ``le90`` form: ``w >= h``, ``theta`` in ``[-pi/2, pi/2)``.

    Where ``h > w`` the sides are swapped and ``theta`` turned by ``pi/2`` (the same box).
    For squares (``w == h`` up to rounding) every quarter turn describes the same box, so the
    angle is further reduced to ``[-pi/4, pi/4)`` to make the result unique and keep an
    axis-aligned square at ``theta = 0``. Boxes already in that form are returned bit for
    bit (the wrap-around arithmetic would move their angle by a rounding error), so
    normalising twice equals normalising once.
    """
    rbox = _as_float(rbox, (5,), 'rbox')
    out = rbox.copy()
    w, h, t = rbox[..., 2], rbox[..., 3], rbox[..., 4]
    square = np.abs(w - h) <= _SQUARE_RTOL * np.maximum(np.abs(w), np.abs(h))
    limit = np.where(square, np.pi / 4, np.pi / 2)
    done = (w >= h) & (t >= -limit) & (t < limit)
    swap = h > w
    out[..., 2] = np.where(swap, h, w)
    out[..., 3] = np.where(swap, w, h)
    t = np.where(swap, t + np.pi / 2, t)
    t = np.mod(t + np.pi / 2, np.pi) - np.pi / 2
    t = np.where(square, np.mod(t + np.pi / 4, np.pi / 2) - np.pi / 4, t)
    out[..., 4] = np.where(done, rbox[..., 4], t)
    return out


def quad_to_rbox(quad) -> np.ndarray:
    """Minimum-area rotated rectangle around 4 points, ``[..., 4, 2] -> [..., 5]`` (le90).

    For a true rectangle the result is that rectangle (up to float rounding); for a general
    quadrilateral it is the smallest rectangle containing all four points, like
    ``cv2.minAreaRect`` but vectorised. Four coincident points give a zero-size box.
    """
    quad = _as_float(quad, (4, 2), 'quad')
    d = quad[..., _PAIRS_J, :] - quad[..., _PAIRS_I, :]  # [..., 6, 2]
    length = np.hypot(d[..., 0], d[..., 1])
    usable = length > 0
    safe_len = np.where(usable, length, 1.0)
    u = np.where(usable[..., None], d / safe_len[..., None], np.array([1.0, 0.0]))
    n = np.stack([-u[..., 1], u[..., 0]], axis=-1)
    # Projections of the 4 points on each candidate axis pair: [..., 6, 4].
    pu = np.einsum('...pk,...ck->...cp', quad, u)
    pn = np.einsum('...pk,...ck->...cp', quad, n)
    extent_u = pu.max(-1) - pu.min(-1)
    extent_n = pn.max(-1) - pn.min(-1)
    area = np.where(usable, extent_u * extent_n, np.inf)
    # All points equal: every candidate unusable, fall back to the x-axis (index 0).
    best = np.argmin(area, axis=-1)[..., None]

    def pick(values):
        return np.take_along_axis(values, best, axis=-1)[..., 0]

    mid_u = pick((pu.max(-1) + pu.min(-1)) / 2)
    mid_n = pick((pn.max(-1) + pn.min(-1)) / 2)
    ux = np.take_along_axis(u[..., 0], best, axis=-1)[..., 0]
    uy = np.take_along_axis(u[..., 1], best, axis=-1)[..., 0]
    # Back from the (u, n) frame to image coordinates; n = (-uy, ux).
    cx = mid_u * ux - mid_n * uy
    cy = mid_u * uy + mid_n * ux
    rbox = np.stack([cx, cy, pick(extent_u), pick(extent_n), np.arctan2(uy, ux)], axis=-1)
    return normalize_angle_le90(rbox)


def rbox_to_quad(rbox) -> np.ndarray:
    """Corner points of rotated boxes, ``[..., 5] -> [..., 4, 2]``.

    Order: the corner at ``-w/2, -h/2`` in the box frame first (top-left when
    ``theta = 0``), then clockwise on screen, as in DOTA labels.
    """
    rbox = _as_float(rbox, (5,), 'rbox')
    cx, cy, w, h, t = np.moveaxis(rbox, -1, 0)
    cos, sin = np.cos(t), np.sin(t)
    # Half-width vector along the box's width side, half-height vector along its height side.
    wx, wy = w / 2 * cos, w / 2 * sin
    hx, hy = -h / 2 * sin, h / 2 * cos
    xs = np.stack([cx - wx - hx, cx + wx - hx, cx + wx + hx, cx - wx + hx], axis=-1)
    ys = np.stack([cy - wy - hy, cy + wy - hy, cy + wy + hy, cy - wy + hy], axis=-1)
    return np.stack([xs, ys], axis=-1)


def polygon_to_hbox(points) -> np.ndarray:
    """Tight horizontal box of polygons, ``[..., N, 2] -> [..., 4]``.

    A flat ``[x0, y0, x1, y1, ...]`` list (COCO polygon) is accepted too.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 1:
        if pts.size % 2 or pts.size == 0:
            raise ValueError('a flat polygon needs an even, non-zero number of values, '
                             f'got {pts.size}')
        pts = pts.reshape(-1, 2)
    if pts.ndim < 2 or pts.shape[-1] != 2 or pts.shape[-2] == 0:
        raise ValueError(f'polygon must have shape [..., N, 2] with N > 0, got {pts.shape}')
    return np.concatenate([pts.min(axis=-2), pts.max(axis=-2)], axis=-1)


def quad_to_hbox(quad) -> np.ndarray:
    """Tight horizontal box of quads (min/max of all 4 points), ``[..., 4, 2] -> [..., 4]``."""
    return polygon_to_hbox(_as_float(quad, (4, 2), 'quad'))


def rbox_to_hbox(rbox) -> np.ndarray:
    """Minimum horizontal rectangle around rotated boxes, ``[..., 5] -> [..., 4]``.

    This is the paper's RH-Box prompt. Closed form, equal to ``quad_to_hbox(rbox_to_quad(r))``.
    """
    rbox = _as_float(rbox, (5,), 'rbox')
    cx, cy, w, h, t = np.moveaxis(rbox, -1, 0)
    cos, sin = np.abs(np.cos(t)), np.abs(np.sin(t))
    half_x = (w * cos + h * sin) / 2
    half_y = (w * sin + h * cos) / 2
    return np.stack([cx - half_x, cy - half_y, cx + half_x, cy + half_y], axis=-1)


def hbox_to_quad(hbox) -> np.ndarray:
    """Corners of horizontal boxes, ``[..., 4] -> [..., 4, 2]``: top-left first, clockwise."""
    hbox = _as_float(hbox, (4,), 'hbox')
    x1, y1, x2, y2 = np.moveaxis(hbox, -1, 0)
    xs = np.stack([x1, x2, x2, x1], axis=-1)
    ys = np.stack([y1, y1, y2, y2], axis=-1)
    return np.stack([xs, ys], axis=-1)


def hbox_to_rbox(hbox) -> np.ndarray:
    """Horizontal boxes as rotated boxes (le90), ``[..., 4] -> [..., 5]``.

    A box taller than wide becomes ``w``/``h`` swapped with ``theta = -pi/2``.
    """
    hbox = _as_float(hbox, (4,), 'hbox')
    x1, y1, x2, y2 = np.moveaxis(hbox, -1, 0)
    rbox = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, np.zeros_like(x1)], axis=-1)
    return normalize_angle_le90(rbox)


def polygon_area(points) -> np.ndarray:
    """Unsigned shoelace area of polygons, ``[..., N, 2] -> [...]``."""
    pts = np.asarray(points, dtype=np.float64)
    x, y = pts[..., 0], pts[..., 1]
    nxt = np.arange(1, pts.shape[-2] + 1) % pts.shape[-2]  # fancy indexing: cheaper than np.roll
    return np.abs(np.sum(x * y[..., nxt] - x[..., nxt] * y, axis=-1)) / 2


def rbox_area(rbox) -> np.ndarray:
    """Area ``w * h`` of rotated boxes, ``[..., 5] -> [...]``."""
    rbox = _as_float(rbox, (5,), 'rbox')
    return rbox[..., 2] * rbox[..., 3]


def hbox_area(hbox) -> np.ndarray:
    """Area of horizontal boxes (0 for inverted ones), ``[..., 4] -> [...]``."""
    hbox = _as_float(hbox, (4,), 'hbox')
    width = np.clip(hbox[..., 2] - hbox[..., 0], 0, None)
    return width * np.clip(hbox[..., 3] - hbox[..., 1], 0, None)


def convex_hull(points) -> np.ndarray:
    """Convex hull of one point set ``[N, 2] -> [M, 2]``, counter-clockwise in x-right/y-up terms.

    Andrew's monotone chain; collinear points are dropped. Fewer than 3 distinct points are
    returned as they are (deduplicated).
    """
    pts = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 2), axis=0)  # sorted by x, y
    if len(pts) < 3:
        return pts

    def half(seq):
        chain = []
        for p in seq:
            while len(chain) >= 2:
                (ox, oy), (ax, ay) = chain[-2], chain[-1]
                if (ax - ox) * (p[1] - oy) - (ay - oy) * (p[0] - ox) > 0:
                    break
                chain.pop()
            chain.append((p[0], p[1]))
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def enclosing_rboxes(points) -> np.ndarray:
    """Every rectangle around one point set with a side on one of its convex hull's edges,
    ``[N, 2] -> [K, 5]`` (le90): the rotating-calipers candidates, the smallest of which is
    the minimum-area rectangle (:func:`points_to_rbox`). Single points give one zero-size box."""
    hull = convex_hull(points)
    if len(hull) == 0:
        raise ValueError('enclosing_rboxes needs at least one point')
    if len(hull) == 1:
        return np.array([[hull[0, 0], hull[0, 1], 0.0, 0.0, 0.0]])
    d = np.roll(hull, -1, axis=0) - hull
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 0
    u = d[keep] / length[keep, None]
    n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    pu, pn = u @ hull.T, n @ hull.T  # [edges, points]
    mid_u = (pu.max(1) + pu.min(1)) / 2
    mid_n = (pn.max(1) + pn.min(1)) / 2
    ux, uy = u[:, 0], u[:, 1]
    rboxes = np.stack([mid_u * ux - mid_n * uy, mid_u * uy + mid_n * ux,
                       pu.max(1) - pu.min(1), pn.max(1) - pn.min(1), np.arctan2(uy, ux)], axis=-1)
    return normalize_angle_le90(rboxes)


def points_to_rbox(points) -> np.ndarray:
    """Minimum-area rotated rectangle around one point set, ``[N, 2] -> [5]`` (le90).

    Checks every edge direction of the convex hull (rotating-calipers candidates), so it is
    exact for any polygon or mask outline; single points / segments give zero-size boxes.
    """
    candidates = enclosing_rboxes(points)
    return candidates[int(np.argmin(candidates[:, 2] * candidates[:, 3]))]


# ---- an object's boxes: completed and checked in one place ------------------------------
class BoxError(AnnotationError):
    """An object's boxes cannot be used: ``reason`` is ``'malformed'``, ``'degenerate'`` or
    ``'outside-image'``; the message starts with where the object came from."""


class ObjectBoxes(NamedTuple):
    """The boxes of one object (float64): ``hbox`` always; ``quad`` and ``rbox`` when rotated."""

    hbox: np.ndarray
    quad: Optional[np.ndarray]
    rbox: Optional[np.ndarray]


def _shaped(value, shape, kind: str, path: str, line, where: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError):
        raise BoxError(f'{kind} must be {int(np.prod(shape))} numbers, got {value!r}', path, line,
                       reason='malformed', where=where) from None


def complete_boxes(hbox=None, quad=None, rbox=None, *, path: str = '', line: Optional[int] = None,
                   where: str = '') -> ObjectBoxes:
    """The boxes an object's given geometry implies; what is given is kept.

    From a ``quad`` the rbox is its minimum-area rectangle and the hbox its hull; from an
    ``rbox`` (normalised to ``le90``) the quad is its corners and the hbox its horizontal
    hull. An object given by its hbox alone stays horizontal (``quad`` and ``rbox`` None).
    Values are not checked here (see :func:`check_boxes`); a value of the wrong size raises
    a ``'malformed'`` :class:`BoxError` naming ``path`` / ``line`` / ``where``.
    """
    if hbox is None and quad is None and rbox is None:
        raise ValueError('complete_boxes needs a hbox, quad or rbox')
    if quad is not None:
        quad = _shaped(quad, (4, 2), 'quad', path, line, where)
        if rbox is None:
            rbox = quad_to_rbox(quad)
        if hbox is None:
            hbox = quad_to_hbox(quad)
    if rbox is not None:
        rbox = normalize_angle_le90(_shaped(rbox, (5,), 'rbox', path, line, where))
        if quad is None:
            quad = rbox_to_quad(rbox)
        if hbox is None:
            hbox = rbox_to_hbox(rbox)
    return ObjectBoxes(_shaped(hbox, (4,), 'hbox', path, line, where), quad, rbox)


def check_boxes(boxes: ObjectBoxes, *, width: int = 0, height: int = 0, allow_zero_size: bool = False,
                path: str = '', line: Optional[int] = None, where: str = '') -> None:
    """Raise a :class:`BoxError` naming ``path`` / ``line`` / ``where`` for unusable boxes.

    ``'degenerate'``: a NaN or infinite coordinate, an inverted hbox, a negative rbox side, or
    (unless ``allow_zero_size``: a SAM prompt may be a point-sized box) a zero-area quad,
    rbox or hbox. ``'outside-image'``: the hbox does not overlap the ``width x height`` image
    (checked when both are > 0). Objects that only partly leave the image are fine: DOTA-style
    labels routinely run a few pixels past the border.
    """
    def fail(message, reason='degenerate'):
        raise BoxError(message, path, line, reason=reason, where=where)

    for kind, value in (('hbox', boxes.hbox), ('quad', boxes.quad), ('rbox', boxes.rbox)):
        if value is not None and not np.all(np.isfinite(value)):
            fail(f'NaN or infinite (non-finite) coordinate in {kind} {value.ravel().tolist()}')
    if boxes.quad is not None and not allow_zero_size and polygon_area(boxes.quad) <= 0:
        fail(f'zero-area quadrilateral {boxes.quad.ravel().tolist()}')
    if boxes.rbox is not None:
        w, h = boxes.rbox[2], boxes.rbox[3]
        if w < 0 or h < 0 or (not allow_zero_size and (w == 0 or h == 0)):
            fail(f'rbox {boxes.rbox.tolist()} has a zero or negative side (needs w, h > 0)')
    x1, y1, x2, y2 = boxes.hbox
    if x2 < x1 or y2 < y1:
        fail(f'degenerate box: hbox {boxes.hbox.tolist()} has x2 < x1 or y2 < y1')
    if not allow_zero_size and (x2 == x1 or y2 == y1):
        fail(f'degenerate box: hbox {boxes.hbox.tolist()} has no area (needs x2 > x1 and y2 > y1)')
    if width > 0 and height > 0 and (x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height):
        fail(f'hbox {boxes.hbox.tolist()} lies outside the {width}x{height} image', 'outside-image')
