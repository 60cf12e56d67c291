"""Where patches go: window starts along an axis, the windows of an image, and patch names.

Two window rules (``rule``):

* ``'shift'``: the common practice of the DOTA devkit, BboxToolkit and mmrotate's
  ``img_split.py``: along an axis of length ``n``, ``k = 1 if n <= size else
  ceil((n - size) / step) + 1`` windows start at ``step * i``, and the last one is moved
  back to ``n - size`` so it ends at the border. Only an axis shorter than the window is
  padded.
* ``'pad'``: the same count of windows at ``step * i``, the last one left where the grid
  puts it and padded past the border (its name then gives its true offset).
"""
from __future__ import annotations

import math
import os.path as osp
import re
from typing import Any, Dict, List

import numpy as np

__all__ = ['WINDOW_RULES', 'window_starts', 'patch_windows', 'format_rate', 'patch_name',
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
