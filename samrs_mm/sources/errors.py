"""Errors of unreadable images, and the counters of lenient reading.

Every reader either raises :class:`AnnotationError` (strict mode, the default), whose message
starts with ``file:line``, or, in lenient mode, skips the bad object or image and counts it
in a :class:`ReadStats`, which prints a summary at the end of a run.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List

from ..structures.errors import AnnotationError

__all__ = ['AnnotationError', 'ImageReadError', 'ReadStats']


class ImageReadError(AnnotationError):
    """An image file that is missing or cannot be decoded."""


class ReadStats:
    """Counts of what a reader produced and what it skipped, mergeable across processes."""

    # Keep the first few messages of each reason: enough to find the bad files, bounded memory.
    MAX_EXAMPLES = 5

    def __init__(self, source: str = ''):
        self.source = source
        self.images = 0
        self.instances = 0
        self.skipped_images: Counter = Counter()
        self.skipped_instances: Counter = Counter()
        self.unknown_classes: Counter = Counter()
        self.examples: Dict[str, List[str]] = {}

    def skip_instance(self, error: AnnotationError) -> None:
        """Count one skipped object (lenient mode)."""
        self.skipped_instances[error.reason] += 1
        self._remember(error)

    def skip_image(self, error: AnnotationError) -> None:
        """Count one skipped image (lenient mode)."""
        self.skipped_images[error.reason] += 1
        self._remember(error)

    def _remember(self, error: AnnotationError) -> None:
        examples = self.examples.setdefault(error.reason, [])
        if len(examples) < self.MAX_EXAMPLES:
            examples.append(str(error))

    @property
    def num_skipped(self) -> int:
        """Total number of skipped objects and images."""
        return sum(self.skipped_instances.values()) + sum(self.skipped_images.values())

    def merge(self, other: 'ReadStats') -> 'ReadStats':
        """Add the counts of ``other`` (e.g. from a worker process) into this one."""
        self.images += other.images
        self.instances += other.instances
        self.skipped_images.update(other.skipped_images)
        self.skipped_instances.update(other.skipped_instances)
        self.unknown_classes.update(other.unknown_classes)
        for reason, msgs in other.examples.items():
            mine = self.examples.setdefault(reason, [])
            mine.extend(msgs[:max(0, self.MAX_EXAMPLES - len(mine))])
        return self

    def as_dict(self) -> dict:
        """Plain-dict form, for json summaries."""
        return dict(source=self.source, images=self.images, instances=self.instances,
                    skipped_images=dict(self.skipped_images),
                    skipped_instances=dict(self.skipped_instances),
                    unknown_classes=dict(self.unknown_classes), examples=self.examples)

    def summary(self) -> str:
        """Human-readable multi-line summary of the counts and a few example messages."""
        head = f'[{self.source or "source"}] read {self.images} images, {self.instances} instances'
        lines = [head]
        if self.skipped_images:
            lines.append('  skipped images: ' + ', '.join(
                f'{k}={v}' for k, v in sorted(self.skipped_images.items())))
        if self.skipped_instances:
            lines.append('  skipped instances: ' + ', '.join(
                f'{k}={v}' for k, v in sorted(self.skipped_instances.items())))
        if self.unknown_classes:
            lines.append('  unknown classes: ' + ', '.join(
                f'{k!r}x{v}' for k, v in self.unknown_classes.most_common()))
        for reason, msgs in sorted(self.examples.items()):
            for msg in msgs:
                lines.append(f'    e.g. [{reason}] {msg}')
        return '\n'.join(lines)

    def __repr__(self) -> str:
        return (f'ReadStats(source={self.source!r}, images={self.images}, '
                f'instances={self.instances}, skipped={self.num_skipped})')
