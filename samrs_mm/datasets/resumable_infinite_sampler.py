"""mmengine's ``InfiniteSampler`` that can start mid-stream and seeds every sample.

The stream is exactly mmengine's: one torch generator seeded with the run's seed draws one
permutation per pass, and rank ``r`` of ``W`` takes global positions ``r, r + W, ...``. To
start after ``n`` samples of a rank (a resume), the generator draws the permutations of the
passes already done without yielding them: microseconds per pass, and no sample is loaded.
Every index carries the seed of its global position
(:class:`~samrs_mm.datasets.sample_seeding.SeededIndex`).
"""
from __future__ import annotations

import itertools
from typing import Iterator

import torch
from mmengine.dataset import InfiniteSampler
from mmseg.registry import DATA_SAMPLERS

from .sample_seeding import SeededIndex, sample_seed


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """``InfiniteSampler`` (same arguments, same order for a seed) plus :meth:`set_start`
    and per-sample seeds; the fine-tuning configs use it."""

    start = 0

    def _global_stream(self, first: int) -> Iterator[int]:
        """Indices of the infinite global stream from global position ``first`` on."""
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        passes, offset = divmod(first, self.size)
        for _ in range(passes if self.shuffle else 0):
            torch.randperm(self.size, generator=generator)
        while True:
            if self.shuffle:
                order = torch.randperm(self.size, generator=generator)
            else:
                order = torch.arange(self.size)
            yield from order[offset:].tolist()
            offset = 0

    def __iter__(self) -> Iterator[int]:
        first = self.start * self.world_size
        stream = itertools.islice(self._global_stream(first), self.rank, None, self.world_size)
        for position, index in zip(itertools.count(first + self.rank, self.world_size), stream):
            yield SeededIndex(index, sample_seed(self.seed, position))

    def set_start(self, num_samples: int) -> None:
        """Make iteration start after ``num_samples`` samples of this rank's stream (resume)."""
        self.start = int(num_samples)
