"""Per-sample seeds, the seeded dataset wrapper, and samplers that start mid-stream."""
import pickle
import random
from itertools import chain, islice
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.dataset import InfiniteSampler
from torch.utils.data import ConcatDataset

from samrs_mm.datasets.multi_source_sampler import MultiSourceSampler
from samrs_mm.datasets.resumable_infinite_sampler import ResumableInfiniteSampler
from samrs_mm.datasets.sample_seeding import (
    SeededIndex,
    SeededSampleDataset,
    derive_seed,
    sample_seed,
    seeded_random_state,
)


class _Draws:
    """A dataset whose samples are draws of the three global generators (an 'augmentation')."""

    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 10

    def __getitem__(self, index):
        return (index, random.random(), float(np.random.rand()), float(torch.rand(1)))


class _Carrier:
    def __init__(self, dataset, seed):
        self.dataset, self.seed = dataset, seed


class _Sized:
    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size


def test_derive_seed_is_a_63_bit_function_of_its_keys():
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3)
    assert len({derive_seed(7, 0, p) for p in range(1000)}) == 1000
    assert derive_seed(1, 2) != derive_seed(2, 1)
    assert all(0 <= derive_seed(s, 0, 5) < 2 ** 63 for s in (0, 1, 2 ** 40, -3))


def test_seeded_index_is_an_int_that_keeps_its_seed_through_pickle():
    index = SeededIndex(7, seed=123)
    assert index == 7 and isinstance(index, int) and [10, 11, 12, 13, 14, 15, 16, 17][index] == 17
    copy = pickle.loads(pickle.dumps(index))
    assert copy == 7 and copy.seed == 123


def test_seeded_random_state_is_reproducible_and_restores_the_global_state():
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    with seeded_random_state(42):
        first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    after = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    with seeded_random_state(42):
        again = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    assert first == again
    assert after == before  # the body did not advance the process's generators


def test_wrapper_loads_a_seeded_index_the_same_whatever_came_before():
    wrapped = SeededSampleDataset(_Draws())
    first = wrapped[SeededIndex(3, seed=99)]
    np.random.rand(50)  # another worker history: the generators moved on
    random.random()
    torch.rand(7)
    assert wrapped[SeededIndex(3, seed=99)] == first
    assert wrapped[SeededIndex(3, seed=100)] != first
    plain = wrapped[3]  # a plain index loads as without the wrapper
    assert plain[0] == 3 and plain != first
    assert len(wrapped) == 10 and wrapped.metainfo == dict(classes=('a', 'b'))
    assert pickle.loads(pickle.dumps(wrapped))[SeededIndex(3, seed=99)] == first


def _multi_source(sizes, batch_size, rank=0, world_size=1, seed=0, **kwargs):
    dataset = ConcatDataset([_Sized(s) for s in sizes])
    with mock.patch('samrs_mm.datasets.multi_source_sampler.get_dist_info',
                    return_value=(rank, world_size)):
        return MultiSourceSampler(_Carrier(dataset, seed), batch_size=batch_size, **kwargs)


def test_avg_mode_gives_equal_shares_and_ratio_mode_the_paper_split():
    sizes = (17480, 11725, 64147)
    assert _multi_source(sizes, 12, world_size=8, mode='avg').global_counts == [32, 32, 32]
    assert _multi_source(sizes, 12, world_size=8).global_counts == [18, 12, 66]
    assert _multi_source(sizes, 10, mode='avg').global_counts == [4, 3, 3]  # largest remainder
    with pytest.raises(ValueError, match="subset_weights only applies to mode='ratio'"):
        _multi_source(sizes, 12, mode='avg', subset_weights=(1, 1, 1))
    with pytest.raises(ValueError, match="mode must be one of"):
        _multi_source(sizes, 12, mode='equal')
    with pytest.raises(ValueError, match='subset_weights has 2 entries for 3 subsets'):
        _multi_source(sizes, 12, subset_weights=(1, 2))


def test_multi_source_is_a_batch_sampler_seeded_by_global_position():
    sizes = (5, 3, 11)
    ranks = [_multi_source(sizes, 4, rank, 2, seed=9) for rank in (0, 1)]
    batches = [list(islice(iter(s), 6)) for s in ranks]
    assert all(len(batch) == 4 for per_rank in batches for batch in per_rank)
    seeds = [index.seed for per_rank in batches for batch in per_rank for index in batch]
    assert len(set(seeds)) == len(seeds) == 2 * 6 * 4  # one seed per global position
    expected = {sample_seed(9, position) for position in range(48)}
    assert set(seeds) == expected
    # The seed of a sample does not depend on the rank count: the same global stream position
    # has the same seed on 1 rank with the same global batch.
    single = list(islice(iter(_multi_source(sizes, 8, seed=9)), 6))
    assert {i.seed for batch in single for i in batch} == expected


@pytest.mark.parametrize('world_size', [1, 2])
def test_multi_source_set_start_continues_the_stream(world_size):
    sizes = (5, 3, 11)
    for rank in range(world_size):
        full = list(islice(iter(_multi_source(sizes, 4, rank, world_size, seed=2)), 30))
        started = _multi_source(sizes, 4, rank, world_size, seed=2)
        started.set_start(17)
        tail = list(islice(iter(started), 13))
        assert tail == full[17:]
        assert [[i.seed for i in b] for b in tail] == [[i.seed for i in b] for b in full[17:]]


def _infinite(cls, size, rank, world_size, seed, shuffle=True):
    with mock.patch('mmengine.dataset.sampler.get_dist_info', return_value=(rank, world_size)):
        return cls(_Sized(size), shuffle=shuffle, seed=seed)


@pytest.mark.parametrize('shuffle', [True, False])
@pytest.mark.parametrize('world_size', [1, 2, 3])
def test_resumable_infinite_sampler_is_mmengines_stream_and_starts_anywhere(world_size, shuffle):
    size, seed = 7, 5
    streams = []
    for rank in range(world_size):
        stock = list(islice(iter(_infinite(InfiniteSampler, size, rank, world_size, seed, shuffle)), 40))
        ours = list(islice(iter(_infinite(ResumableInfiniteSampler, size, rank, world_size, seed,
                                          shuffle)), 40))
        assert ours == stock
        assert [i.seed for i in ours] == [sample_seed(seed, rank + k * world_size) for k in range(40)]
        started = _infinite(ResumableInfiniteSampler, size, rank, world_size, seed, shuffle)
        started.set_start(23)  # 23 samples of this rank: into the 4th+ pass of the dataset
        tail = list(islice(iter(started), 17))
        assert tail == ours[23:] and [i.seed for i in tail] == [i.seed for i in ours[23:]]
        streams.append(ours)
    # Ranks interleave one global stream: together they take each pass exactly once.
    merged = list(chain.from_iterable(zip(*streams)))
    for start in range(0, size * (len(merged) // size), size):
        assert sorted(merged[start:start + size]) == list(range(size))
