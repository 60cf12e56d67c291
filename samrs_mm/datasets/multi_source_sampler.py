"""Mixed multi-subset batches for segmentation pre-training (SAMRS Sec. 4.1).

A global batch of ``B`` samples holds ``B_i`` samples of subset ``i``. ``mode='ratio'`` (the
paper's SEP): ``B_i = L_i / sum_j L_j * B`` with ``L_i`` the size of subset ``i`` or an explicit
weight; ``mode='avg'`` (the authors' follow-up MTP): equal shares. Integer parts by the
largest remainder method so they sum to exactly ``B``, and at least one sample per subset.

Under DDP every rank draws from the same global stream: each subset has one shuffled
order per pass ("subset epoch"), identical on all ranks for a seed; each iteration takes
the next ``B_i`` positions of every subset and deals the ``B`` slots to the ranks round
robin. So the global batch keeps the exact proportions, every rank gets its share of every
subset (``floor`` or ``ceil`` of ``B_i / world_size``), and no two ranks ever get the same
position of a subset's pass. The stream is infinite (iteration-based training), fully
determined by the seed, and never waits on a subset (unlike a sampler that loops until a
bucket fills): a subset smaller than its share simply wraps around within one batch.

Because iteration ``n`` takes positions ``n * B_i ...`` of subset ``i``, the stream can start
at any iteration without drawing the earlier ones (:meth:`MultiSourceSampler.set_start`):
one permutation per subset, whatever ``n``. Every index it yields carries the seed of its
slot in the global stream (:class:`~samrs_mm.datasets.sample_seeding.SeededIndex`).
"""
from __future__ import annotations

import math
from typing import Iterator, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .sample_seeding import SeededIndex, sample_seed

MODES = ('ratio', 'avg')


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
    """Infinite batch sampler whose every global batch mixes the subsets in fixed shares.

    It is a *batch* sampler: the config names it as ``train_dataloader.batch_sampler`` and
    its batch size is the dataloader's ``batch_size`` (per process; mmengine passes it in).
    mmengine builds the ``sampler`` entry first and hands it over; only its dataset (a
    ``ConcatDataset`` of the subsets) and its seed are used, the order is drawn here.

    Args:
        sampler: the sampler mmengine built from ``train_dataloader.sampler``.
        batch_size (int): samples per process and iteration; the global batch is
            ``batch_size * world_size``.
        mode (str): ``'ratio'`` (shares proportional to the subset sizes or to
            ``subset_weights``; SEP) or ``'avg'`` (equal shares; MTP). Defaults to ``'ratio'``.
        subset_weights (sequence of float, optional): weights that replace the subset sizes
            in ``'ratio'`` mode, one per subset in ``ConcatDataset`` order.
        shuffle (bool): shuffle each subset once per pass. Defaults to True.
        seed (int, optional): random seed, the same on all ranks; defaults to the sampler's
            (mmengine gives it the run's seed), else a synchronised random one.
    """

    def __init__(self, sampler, batch_size: int, mode: str = 'ratio',
                 subset_weights: Optional[Sequence[float]] = None, shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        dataset = getattr(sampler, 'dataset', None)
        if not hasattr(dataset, 'datasets') or not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError('MultiSourceSampler needs a ConcatDataset of the subsets, got '
                            f'{type(dataset).__name__}')
        if mode not in MODES:
            raise ValueError(f'MultiSourceSampler: mode must be one of {MODES}, got {mode!r}')
        self.sampler = sampler
        self.dataset = dataset
        self.subset_sizes = [len(subset) for subset in dataset.datasets]
        for index, size in enumerate(self.subset_sizes):
            if size == 0:
                raise ValueError(f'MultiSourceSampler: source {index} '
                                 f'({type(dataset.datasets[index]).__name__}) is empty')
        if subset_weights is not None:
            if mode != 'ratio':
                raise ValueError("MultiSourceSampler: subset_weights only applies to mode='ratio' "
                                 f'(mode={mode!r} gives every subset the same share)')
            if len(subset_weights) != len(self.subset_sizes):
                raise ValueError(f'subset_weights has {len(subset_weights)} entries for '
                                 f'{len(self.subset_sizes)} subsets')
        self.mode = mode
        self.rank, self.world_size = get_dist_info()
        self.batch_size = int(batch_size)
        self.global_batch_size = self.batch_size * self.world_size
        if mode == 'avg':
            weights = [1] * len(self.subset_sizes)
        else:
            weights = list(subset_weights) if subset_weights is not None else self.subset_sizes
        self.global_counts = proportional_batch_sizes(weights, self.global_batch_size)
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.shuffle = shuffle
        if seed is None:
            seed = getattr(sampler, 'seed', None)
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.start_step = 0

    def _subset_order(self, subset: int, start: int) -> Iterator[int]:
        """Positions of one subset from position ``start`` of its endless stream on: a fresh
        permutation per pass, the same on every rank."""
        size = self.subset_sizes[subset]
        epoch, offset = divmod(start, size)
        while True:
            if self.shuffle:
                order = np.random.default_rng([self.seed, subset, epoch]).permutation(size)
            else:
                order = np.arange(size)
            yield from order[offset:].tolist()
            epoch, offset = epoch + 1, 0

    def global_batches(self, start_step: int = 0) -> Iterator[List[tuple]]:
        """Endless global batches from iteration ``start_step`` on, as lists of
        ``(subset, index in subset)``, subset-ordered."""
        orders = [self._subset_order(i, start_step * count)
                  for i, count in enumerate(self.global_counts)]
        while True:
            yield [(subset, next(orders[subset]))
                   for subset, count in enumerate(self.global_counts) for _ in range(count)]

    def __iter__(self) -> Iterator[List[int]]:
        for step, batch in enumerate(self.global_batches(self.start_step), self.start_step):
            first = step * self.global_batch_size
            # Rotating the deal spreads each subset evenly over the ranks over time.
            yield [SeededIndex(self.offsets[subset] + index, sample_seed(self.seed, first + slot))
                   for slot, (subset, index) in enumerate(batch)
                   if (slot + step) % self.world_size == self.rank]

    def __len__(self) -> int:
        """Batches per rank in one nominal pass over the whole dataset (the stream is endless)."""
        return max(1, -(-len(self.dataset) // self.global_batch_size))

    def set_start(self, num_batches: int) -> None:
        """Make iteration start after ``num_batches`` batches of the stream (resume)."""
        self.start_step = int(num_batches)

    def set_epoch(self, epoch: int) -> None:
        """Kept for mmengine's ``DistSamplerSeedHook``; the stream depends on the seed only."""

    def per_rank_counts(self, step: int = 0) -> List[List[int]]:
        """Samples of each subset that each rank gets at iteration ``step`` (for logs/tests)."""
        counts = [[0] * len(self.subset_sizes) for _ in range(self.world_size)]
        slots = [s for s, count in enumerate(self.global_counts) for _ in range(count)]
        for slot, subset in enumerate(slots):
            counts[(slot + step) % self.world_size][subset] += 1
        return counts
