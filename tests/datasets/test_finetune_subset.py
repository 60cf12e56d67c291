"""The deterministic 1 % / 3 % / 5 % small-data subsets (samrs_mm.datasets.subset)."""
import random

import pytest

from samrs_mm.datasets.subset import parse_ratio, select_subset, subset_size


@pytest.mark.parametrize('total, ratio, expected', [
    (8664, 0.01, 87), (8664, 0.03, 260), (8664, 0.05, 433),        # Potsdam train crops
    (33620, 0.01, 336), (33620, 0.03, 1009), (33620, 0.05, 1681),  # iSAID train crops
    (8664, '1%', 87), (8664, '5 %', 433), (10, 0.01, 1), (10, 1.0, 10), (0, 0.05, 0),
])
def test_subset_size(total, ratio, expected):
    assert subset_size(total, ratio) == expected


@pytest.mark.parametrize('bad', [0, 0.0, -0.1, 1.5, '150%', 'abc', True, None, '0%'])
def test_bad_ratio_is_rejected(bad):
    with pytest.raises(ValueError, match='subset_ratio'):
        parse_ratio(bad)


def _names(count):
    return [f'{row}_{col}_{x}_{y}.png' for row, col in [(2, 10), (6, 7)]
            for x in range(0, 20 * count, 20) for y in range(10)][:count]


def test_selection_is_deterministic_nested_and_order_free():
    keys = _names(1000)
    one, three, five = (select_subset(keys, r, seed=0) for r in (0.01, 0.03, 0.05))
    assert (len(one), len(three), len(five)) == (10, 30, 50)
    assert one == sorted(one) and len(set(five)) == 50
    assert set(one) < set(three) < set(five)  # nested: 1 % inside 3 % inside 5 %
    assert select_subset(keys, 0.03, seed=0) == three  # same call, same answer

    shuffled = keys[:]
    random.Random(4).shuffle(shuffled)
    chosen = {shuffled[i] for i in select_subset(shuffled, 0.03, seed=0)}
    assert chosen == {keys[i] for i in three}  # depends on names, not on listing order

    other_seed = select_subset(keys, 0.03, seed=1)
    assert len(other_seed) == 30 and other_seed != three


def test_pinned_choice_never_changes():
    # A regression anchor: the choice is a SHA-256 ranking, identical on every platform.
    keys = [f'crop_{i:03d}.png' for i in range(100)]
    assert select_subset(keys, 0.05, seed=0) == [16, 17, 22, 40, 81]


def test_duplicate_keys_are_an_error():
    with pytest.raises(ValueError, match='unique'):
        select_subset(['a.png', 'a.png'], 0.5)
