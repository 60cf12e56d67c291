"""The error every stage raises on bad input: it names the file and line the input came from.

Readers raise it for a bad annotation (strict mode) or count it by ``reason`` (lenient mode,
:class:`~samrs_mm.sources.errors.ReadStats`); the box checks of
:mod:`samrs_mm.structures.boxes` raise its :class:`~samrs_mm.structures.boxes.BoxError`.
"""
from __future__ import annotations

from typing import Optional

__all__ = ['AnnotationError']


class AnnotationError(ValueError):
    """Bad annotation or image input; carries the file and (when known) the line.

    ``reason`` is a short machine-friendly key (``'malformed'``, ``'non-numeric'``,
    ``'degenerate'``, ``'outside-image'``, ``'unknown-class'``, ``'empty'``,
    ``'missing-image'``, ``'unreadable-image'``, ``'parse-error'``); lenient mode counts
    skips by it.
    """

    def __init__(self, message: str, path: str = '', line: Optional[int] = None,
                 reason: str = 'invalid', where: str = '', class_name: Optional[str] = None):
        self.path = path
        self.line = line
        self.reason = reason
        self.detail = message
        # ``where`` replaces the line for sources without lines (e.g. "annotation id=17").
        self.where = where
        # The offending name of an 'unknown-class' error, for the per-class skip counts.
        self.class_name = class_name
        super().__init__(self._format())

    @property
    def location(self) -> str:
        """``file:line`` (or ``file (where)``) this error points at."""
        if self.line is not None:
            return f'{self.path}:{self.line}'
        if self.where:
            return f'{self.path} ({self.where})'
        return self.path

    def _format(self) -> str:
        loc = self.location
        return f'{loc}: {self.detail}' if loc else self.detail
