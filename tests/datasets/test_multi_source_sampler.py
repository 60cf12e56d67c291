"""MultiSourceSampler: exact proportions, DDP shares, determinism, no hangs, resume."""
from collections import Counter
from itertools import chain, islice
from unittest import mock

import pytest
from torch.utils.data import ConcatDataset

from samrs_mm.datasets.multi_source_sampler import MultiSourceSampler, proportional_batch_sizes

PAPER_SIZES = (17480, 11725, 64147)  # SOTA, SIOR (DIOR trainval), FAST


class _Sized:
    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return index


class _Carrier:
    """What mmengine hands a batch sampler: the sampler built from ``train_dataloader.sampler``."""

    def __init__(self, dataset, seed=None):
        self.dataset, self.seed = dataset, seed


def _concat(sizes):
    return ConcatDataset([_Sized(s) for s in sizes])


def _batch_sampler(sizes, batch_size, rank=0, world_size=1, seed=0, **kwargs):
    with mock.patch('samrs_mm.datasets.multi_source_sampler.get_dist_info',
                    return_value=(rank, world_size)):
        return MultiSourceSampler(_Carrier(_concat(sizes), seed), batch_size=batch_size, **kwargs)


def _sampler(sizes, batch_size, rank=0, world_size=1, **kwargs):
    """The batch sampler of one rank; iterating it gives that rank's samples one by one."""
    batch_sampler = _batch_sampler(sizes, batch_size, rank, world_size, **kwargs)

    class _Flat:
        def __iter__(self):
            return chain.from_iterable(batch_sampler)

        def __getattr__(self, name):
            return getattr(batch_sampler, name)

    return _Flat()


def _source_of(index, sizes):
    for source, size in enumerate(sizes):
        if index < size:
            return source
        index -= size
    raise AssertionError(index)


@pytest.mark.parametrize('batch, expected', [(96, [18, 12, 66]), (12, [2, 2, 8])])
def test_paper_sizes_split_by_largest_remainder(batch, expected):
    # 96: quotas 17.975 / 12.057 / 65.967 -> floors 17/12/65 (94), +1 to the two largest
    # remainders (sota .975, fast .967). 12: 2.247 / 1.507 / 8.246 -> 2/1/8, +1 to sior.
    assert proportional_batch_sizes(PAPER_SIZES, batch) == expected
    assert sum(expected) == batch


def test_every_source_gets_at_least_one():
    assert proportional_batch_sizes([1000, 1, 1], 3) == [1, 1, 1]
    assert proportional_batch_sizes([1000, 1, 1], 4) == [2, 1, 1]
    assert proportional_batch_sizes([1, 1000], 2) == [1, 1]


def test_batch_smaller_than_number_of_sources_is_an_error():
    with pytest.raises(ValueError, match='at least one sample of each of 3 sources'):
        proportional_batch_sizes(PAPER_SIZES, 2)
    with pytest.raises(ValueError, match='at least one sample'):
        _sampler(PAPER_SIZES, batch_size=1, world_size=2)  # global batch 2 < 3 sources


def test_subset_weights_override_sizes():
    sampler = _sampler((10, 10, 10), batch_size=10, subset_weights=(1, 1, 8))
    assert sampler.global_counts == [1, 1, 8]


@pytest.mark.parametrize('world_size', [1, 2, 8])
@pytest.mark.parametrize('per_gpu', [12, 4])
def test_global_batches_keep_exact_proportions_under_ddp(world_size, per_gpu):
    samplers = [_sampler(PAPER_SIZES, per_gpu, rank, world_size) for rank in range(world_size)]
    expected = proportional_batch_sizes(PAPER_SIZES, per_gpu * world_size)
    streams = [iter(s) for s in samplers]
    for step in range(5):
        batches = [list(islice(stream, per_gpu)) for stream in streams]
        merged = [i for batch in batches for i in batch]
        counts = Counter(_source_of(i, PAPER_SIZES) for i in merged)
        assert [counts[s] for s in range(3)] == expected
        assert len(set(merged)) == len(merged), 'two ranks drew the same sample'
        for rank, batch in enumerate(batches):
            rank_counts = Counter(_source_of(i, PAPER_SIZES) for i in batch)
            # Each rank gets floor or ceil of the global share of every source.
            for source in range(3):
                assert expected[source] // world_size <= rank_counts[source] <= -(-expected[source] // world_size)
            assert [rank_counts[s] for s in range(3)] == samplers[rank].per_rank_counts(step)[rank]


def test_ranks_never_duplicate_within_a_source_pass():
    sizes = (40, 24, 90)
    world_size, per_gpu = 2, 4
    streams = [iter(_sampler(sizes, per_gpu, rank, world_size)) for rank in range(world_size)]
    counts = proportional_batch_sizes(sizes, per_gpu * world_size)  # [2, 1, 5]
    steps = 18  # 18 * 5 = 90 fast samples = exactly one pass of the largest source
    drawn = [list(islice(stream, per_gpu * steps)) for stream in streams]
    everything = drawn[0] + drawn[1]
    per_source = {s: [i for i in everything if _source_of(i, sizes) == s] for s in range(3)}
    assert len(per_source[2]) == counts[2] * steps == 90
    assert sorted(per_source[2]) == list(range(64, 154))  # one full pass, nothing twice
    assert len(set(per_source[0])) == len(per_source[0]) == 36  # < 40: no repeats


def test_source_smaller_than_its_share_wraps_without_hanging():
    sizes = (2, 50)  # source 0 gets 3 of 6 slots but only has 2 samples
    sampler = _sampler(sizes, batch_size=6, subset_weights=(1, 1))
    batch = list(islice(iter(sampler), 6))
    source0 = [i for i in batch if i < 2]
    assert len(source0) == 3 and set(source0) <= {0, 1}


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = list(islice(iter(_sampler(PAPER_SIZES, 12, seed=7)), 120))
    b = list(islice(iter(_sampler(PAPER_SIZES, 12, seed=7)), 120))
    c = list(islice(iter(_sampler(PAPER_SIZES, 12, seed=8)), 120))
    assert a == b and a != c


def test_restarted_stream_continues_where_it_stopped():
    # The stream is a pure function of the seed, so a stream started at iteration 6
    # (set_start, what a resume does) continues the original one.
    full = list(islice(iter(_sampler(PAPER_SIZES, 12, seed=3)), 12 * 10))
    resumed = iter(_sampler(PAPER_SIZES, 12, seed=3))
    list(islice(resumed, 12 * 6))
    assert list(islice(resumed, 12 * 4)) == full[12 * 6:]
    started = _sampler(PAPER_SIZES, 12, seed=3)
    started.set_start(6)
    assert list(islice(iter(started), 12 * 4)) == full[12 * 6:]


def test_needs_a_concat_dataset_and_nonempty_sources():
    with pytest.raises(TypeError, match='ConcatDataset'):
        MultiSourceSampler(_Carrier(_Sized(10)), batch_size=2, seed=0)
    with pytest.raises(ValueError, match='source 1 .* is empty'):
        MultiSourceSampler(_Carrier(ConcatDataset([_Sized(3), _Sized(0)])), batch_size=2, seed=0)
