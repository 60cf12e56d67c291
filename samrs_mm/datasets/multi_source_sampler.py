"""Proportional multi-source batches for segmentation pre-training (SAMRS Sec. 4.1).

A global batch of ``B`` samples holds ``B_i = L_i / sum_j L_j * B`` samples of source ``i``
(``L_i`` = size of source ``i``, or an explicit ratio): integer parts by the largest
remainder method so they sum to exactly ``B``, and at least one sample per source.

Under DDP every rank draws from the same global stream: each source has one shuffled
order per pass ("source epoch"), identical on all ranks for a seed; each iteration takes
the next ``B_i`` positions of every source and deals the ``B`` slots to the ranks round
robin. So the global batch keeps the exact proportions, every rank gets its share of every
source (``floor`` or ``ceil`` of ``B_i / world_size``), and no two ranks ever get the same
position of a source's pass. The stream is infinite (iteration-based training), fully
determined by the seed, and never waits on a source (unlike a sampler that loops until a
bucket fills): a source smaller than its share simply wraps around within one batch.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterator, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


def proportional_batch_sizes(weights: Sequence[float], batch_size: int) -> List[int]:
    """Split ``batch_size`` over sources proportionally to ``weights``.

    Largest remainder method (ties go to the lower source index), then every source that
    got 0 takes one sample from the currently largest share. Raises ``ValueError`` when
    ``batch_size`` is smaller than the number of sources or a weight is not positive.
    """
    num_sources = len(weights)
    if num_sources == 0:
        raise ValueError('proportional_batch_sizes: no sources given')
    if any(not (w > 0) for w in weights):
        raise ValueError(f'every source needs a positive size / ratio, got {list(weights)}')
    if batch_size < num_sources:
        raise ValueError(f'a batch of {batch_size} cannot hold at least one sample of each of '
                         f'{num_sources} sources: use a (global) batch size >= {num_sources}')
    total = float(sum(weights))
    quotas = [w / total * batch_size for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(num_sources), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[:batch_size - sum(counts)]:
        counts[i] += 1
    for i in range(num_sources):
        if counts[i] == 0:
            # Take from the share that exceeds its quota the most (then the largest).
            donor = max(range(num_sources),
                        key=lambda j: (counts[j] > 1, counts[j] - quotas[j], counts[j], -j))
            counts[donor] -= 1
            counts[i] = 1
    return counts


@DATA_SAMPLERS.register_module()
class MultiSourceSampler(Sampler):
    """Infinite sampler whose every batch mixes the sources in fixed proportions.

    Use it over a ``ConcatDataset`` of the sources, with the dataloader's ``batch_size``
    equal to ``batch_size`` here (the per-process batch; the SEP configs set both from one
    variable and ``tools/train.py`` checks they agree).

    Args:
        dataset: a ``ConcatDataset`` (mmengine's or torch's) of the M sources.
        batch_size (int): samples per process and iteration; the global batch is
            ``batch_size * world_size``.
        source_ratio (sequence of float, optional): weights that replace the source sizes.
        shuffle (bool): shuffle each source once per pass. Defaults to True.
        seed (int, optional): random seed, the same on all ranks (synchronised if None).
    """

    def __init__(self, dataset, batch_size: int, source_ratio: Optional[Sequence[float]] = None,
                 shuffle: bool = True, seed: Optional[int] = None) -> None:
        if not hasattr(dataset, 'datasets') or not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError('MultiSourceSampler needs a ConcatDataset of the sources, got '
                            f'{type(dataset).__name__}')
        self.dataset = dataset
        self.source_sizes = [len(source) for source in dataset.datasets]
        for index, size in enumerate(self.source_sizes):
            if size == 0:
                raise ValueError(f'MultiSourceSampler: source {index} '
                                 f'({type(dataset.datasets[index]).__name__}) is empty')
        if source_ratio is not None and len(source_ratio) != len(self.source_sizes):
            raise ValueError(f'source_ratio has {len(source_ratio)} entries for '
                             f'{len(self.source_sizes)} sources')
        self.rank, self.world_size = get_dist_info()
        self.batch_size = int(batch_size)
        self.global_batch_size = self.batch_size * self.world_size
        weights = list(source_ratio) if source_ratio is not None else self.source_sizes
        self.global_counts = proportional_batch_sizes(weights, self.global_batch_size)
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)

    def _source_order(self, source: int) -> Iterator[int]:
        """Endless positions of one source: a fresh permutation per pass, same on every rank."""
        size = self.source_sizes[source]
        for epoch in itertools.count():
            if self.shuffle:
                yield from np.random.default_rng([self.seed, source, epoch]).permutation(size).tolist()
            else:
                yield from range(size)

    def global_batches(self) -> Iterator[List[tuple]]:
        """Endless global batches as lists of ``(source, index in source)``, source-ordered."""
        orders = [self._source_order(i) for i in range(len(self.source_sizes))]
        while True:
            yield [(source, next(orders[source]))
                   for source, count in enumerate(self.global_counts) for _ in range(count)]

    def __iter__(self) -> Iterator[int]:
        for step, batch in enumerate(self.global_batches()):
            # Rotating the deal spreads each source evenly over the ranks over time.
            for slot, (source, index) in enumerate(batch):
                if (slot + step) % self.world_size == self.rank:
                    yield self.offsets[source] + index

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Kept for mmengine's ``DistSamplerSeedHook``; the stream depends on the seed only."""

    def per_rank_counts(self, step: int = 0) -> List[List[int]]:
        """Samples of each source that each rank gets at iteration ``step`` (for logs/tests)."""
        counts = [[0] * len(self.source_sizes) for _ in range(self.world_size)]
        slots = [s for s, count in enumerate(self.global_counts) for _ in range(count)]
        for slot, source in enumerate(slots):
            counts[(slot + step) % self.world_size][source] += 1
        return counts
