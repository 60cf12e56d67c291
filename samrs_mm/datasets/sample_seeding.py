"""Per-sample random state that depends on where a sample sits in the training stream.

Augmentations draw from the process-global generators (``random``, ``numpy.random``,
torch's CPU generator). In a DataLoader worker those generators advance with every sample
the worker has processed, so after a resume (fresh workers, another assignment of batches
to workers) the same sample would be augmented differently. Here a sampler tags every
index with a seed derived from the run's seed and the sample's position in the global
stream (:class:`SeededIndex`), and :class:`SeededSampleDataset` runs the pipeline of that
sample with the three generators seeded from it, then puts the previous states back. The
augmentation of the n-th sample of a run is then a function of (seed, n) only: the same
with any number of workers, any prefetching, and after any resume.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch
from mmseg.registry import DATASETS

# Stream tags keep the seeds of samples and of training iterations apart.
SAMPLE_STREAM = 0
ITERATION_STREAM = 1


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that is a well-mixed function of non-negative integer ``keys``."""
    words = np.random.SeedSequence([int(k) % (1 << 64) for k in keys]).generate_state(2, np.uint32)
    return ((int(words[0]) << 32) | int(words[1])) >> 1


def sample_seed(run_seed: int, position: int) -> int:
    """Seed of the sample at ``position`` of the global training stream of a run."""
    return derive_seed(run_seed, SAMPLE_STREAM, position)


class SeededIndex(int):
    """A dataset index that carries the seed its sample is to be augmented with.

    It is an ``int`` everywhere else, so code that does not know about seeds (indexing,
    comparisons, tests that list a sampler's output) sees a plain index.
    """

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):
        # Indices travel to DataLoader workers pickled; keep the seed with them.
        return SeededIndex, (int(self), self.seed)


@contextlib.contextmanager
def seeded_random_state(seed: int) -> Iterator[None]:
    """Run the body with ``random``, ``numpy.random`` and torch's CPU generator seeded from
    ``seed``, and restore their previous states afterwards.

    Only torch's CPU generator is touched (``torch.manual_seed`` would also reseed every
    CUDA device, i.e. the main process's dropout stream when loading without workers).
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch_state = torch.default_generator.get_state()
    random.seed(seed)
    np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.default_generator.set_state(torch_state)


@DATASETS.register_module()
class SeededSampleDataset:
    """Wraps a dataset so that every :class:`SeededIndex` is loaded under its own seed.

    Plain indices load as they would without the wrapper. Everything else (``metainfo``,
    ``datasets`` of a ``ConcatDataset``, ``full_init``, ...) is the wrapped dataset's, so
    samplers and hooks see the dataset they expect. ``ExactResumeIterBasedTrainLoop`` puts
    this wrapper around the training set itself; configs need not name it.

    Args:
        dataset (dict or Dataset): the dataset, or its config.
    """

    def __init__(self, dataset) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset

    def __getitem__(self, index):
        seed = getattr(index, 'seed', None)
        if seed is None:
            return self.dataset[index]
        with seeded_random_state(seed):
            return self.dataset[int(index)]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        # Only reached for names the wrapper lacks; 'dataset' itself is excluded so that
        # unpickling (in spawned workers) cannot recurse before it is set.
        if name == 'dataset' or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.dataset, name)
