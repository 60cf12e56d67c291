"""Readers by name: ``build_source(type='dota', ann_dir=..., img_dir=...)``.

Configs describe a source as a dict (``source=dict(type='dota', ann_dir=..., img_dir=...,
class_list='sota')``); :func:`build_source` turns it into the reader object, a lazy
sequence of :class:`~samrs_mm.structures.record.ImageRecord`.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

SOURCES: Dict[str, type] = {}


def register_source(name: str) -> Callable[[type], type]:
    """Class decorator registering a reader under ``name`` (also sets ``cls.name``)."""
    def decorator(cls: type) -> type:
        if name in SOURCES and SOURCES[name] is not cls:
            raise KeyError(f'source reader {name!r} is already registered by {SOURCES[name]}')
        SOURCES[name] = cls
        cls.name = name
        return cls
    return decorator


def build_source(cfg: Optional[dict] = None, **kwargs):
    """Build a reader from a config dict and/or keyword arguments; ``type`` names the reader.

    ``type`` is a registered name (see :data:`SOURCES`) or a reader class.
    """
    merged = dict(cfg or {})
    merged.update(kwargs)
    if 'type' not in merged:
        raise KeyError(f'source config needs a "type" (one of {sorted(SOURCES)}), got {merged}')
    kind = merged.pop('type')
    if isinstance(kind, type):
        cls = kind
    else:
        if kind not in SOURCES:
            raise KeyError(f'unknown source type {kind!r}; registered: {sorted(SOURCES)}')
        cls = SOURCES[kind]
    return cls(**merged)
