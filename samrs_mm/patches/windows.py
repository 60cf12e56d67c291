"""Where patches go: window starts along an axis, the windows of an image, and patch names.

Two window rules (``rule``):

* ``'shift'``: the common practice of the DOTA devkit, BboxToolkit and mmrotate's
  ``img_split.py``: along an axis of length ``n``, ``k = 1 if n <= size else
  ceil((n - size) / step) + 1`` windows start at ``step * i``, and the last one is moved
  back to ``n - size`` so it ends at the border. Only an axis shorter than the window is
  padded.
* ``'pad'``: the same count of windows at ``step * i``, the last one left where the grid
  puts it and padded past the border (its name then gives its true offset).

:func:`keep_image_windows` is mmrotate's filter of windows that hold too little image (used
when rates change the window size instead of the image, where a large window can cover a
small image).
"""
from __future__ import annotations

import math
import os.path as osp
import re
from typing import Any, Dict, List, Sequence

import numpy as np

__all__ = ['WINDOW_RULES', 'window_starts', 'patch_windows', 'keep_image_windows', 'format_rate', 'patch_name',
           'parse_patch_name']

WINDOW_RULES = ('shift', 'pad')


def window_starts(length: int, size: int, step: int, rule: str = 'shift') -> List[int]:
    """Start offsets of windows of ``size`` every ``step`` pixels along an axis of ``length``."""
    if size <= 0 or step <= 0:
        raise ValueError(f'window size and step must be positive, got {size} and {step}')
    if rule not in WINDOW_RULES:
        raise ValueError(f'unknown window rule {rule!r}; choose one of {", ".join(WINDOW_RULES)}')
    if length <= size:
        return [0]
    count = math.ceil((length - size) / step) + 1
    starts = [i * step for i in range(count)]
    if rule == 'shift':
        starts[-1] = length - size
    return starts


def patch_windows(width: int, height: int, size: int, gap: int, rule: str = 'shift') -> np.ndarray:
    """Windows ``[K, 4]`` = ``(x1, y1, x2, y2)`` covering a ``width`` x ``height`` image, row-major."""
    xs = window_starts(width, size, size - gap, rule)
    ys = window_starts(height, size, size - gap, rule)
    return np.array([[x, y, x + size, y + size] for y in ys for x in xs], dtype=np.int64)


def keep_image_windows(window_sets: Sequence[np.ndarray], width: int, height: int,
                       img_rate_thr: float) -> List[np.ndarray]:
    """Which windows to keep, one boolean array per set of ``[K, 4]`` windows (all sets of one
    image decided together, as mmrotate's ``img_split.py`` does): those whose share of image
    (area inside the ``width`` x ``height`` image / window area) exceeds ``img_rate_thr``; when
    none does, those within 0.01 of the largest share.
    """
    shares = []
    for windows in window_sets:
        windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
        inside_w = np.clip(windows[:, 2], 0, width) - np.clip(windows[:, 0], 0, width)
        inside_h = np.clip(windows[:, 3], 0, height) - np.clip(windows[:, 1], 0, height)
        shares.append(inside_w * inside_h / ((windows[:, 2] - windows[:, 0]) * (windows[:, 3] - windows[:, 1])))
    every = np.concatenate(shares) if shares else np.zeros(0)
    if len(every) and not (every > img_rate_thr).any():
        top = every.max()
        return [np.abs(share - top) < 0.01 for share in shares]
    return [share > img_rate_thr for share in shares]


def format_rate(rate: float) -> str:
    """Compact text of a rate for patch names (``0.5``, ``2``)."""
    return f'{rate:g}'


def patch_name(stem: str, x: int, y: int, patch_size: int, rate: float = 1.0) -> str:
    """``P0706__1024__0___824`` (rate 1) or ``P0706__0.5__1024__0___824``."""
    rate_part = '' if rate == 1 else f'__{format_rate(rate)}'
    return f'{stem}{rate_part}__{patch_size}__{x}___{y}'


_PATCH_NAME = re.compile(r'^(?P<stem>.+?)(?:__(?P<rate>\d+(?:\.\d+)?(?:e[-+]?\d+)?))?'
                         r'__(?P<size>\d+)__(?P<x>\d+)___(?P<y>\d+)$')


def parse_patch_name(name: str) -> Dict[str, Any]:
    """Inverse of :func:`patch_name`: ``{'stem', 'rate', 'size', 'x', 'y'}``."""
    base = osp.splitext(osp.basename(name))[0] if osp.splitext(name)[1] in (
        '.png', '.jpg', '.bmp', '.tif', '.txt') else osp.basename(name)
    match = _PATCH_NAME.match(base)
    if match is None:
        raise ValueError(f'{name!r} is not a patch name (<stem>[__<rate>]__<size>__<x>___<y>)')
    return dict(stem=match['stem'], rate=float(match['rate']) if match['rate'] else 1.0,
                size=int(match['size']), x=int(match['x']), y=int(match['y']))
