"""Deterministic small-data subsets: the paper's 1 % / 3 % / 5 % fine-tuning settings.

A subset is a dataset option (``subset_ratio``, ``subset_seed``), never a copy of files.
Each training crop gets a rank from a hash of the seed and its file name (relative to the
image folder), and the lowest-ranked ``round(ratio * N)`` crops are kept. Hence the choice

* is the same on every machine, OS, numpy version and listing order (no RNG stream involved),
* depends only on the seed and the file names (not on the absolute data path),
* is nested: with one seed the 1 % subset lies inside the 3 % subset, which lies inside 5 %,
  so the small-data rows of the paper differ only in how much data they see.
"""
from __future__ import annotations

import hashlib
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.logging import print_log

Ratio = Union[float, str]


def parse_ratio(ratio: Ratio) -> float:
    """Turn ``0.01`` or ``'1%'`` into a fraction in (0, 1]; clear error otherwise."""
    value = ratio
    if isinstance(ratio, str):
        text = ratio.strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith('%') else float(text)
        except ValueError as error:
            raise ValueError(f'subset_ratio {ratio!r} is neither a fraction (0.01) nor a '
                             "percentage ('1%')") from error
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f'subset_ratio must be a fraction in (0, 1] (e.g. 0.01 or "1%"), '
                         f'got {ratio!r}')
    return float(value)


def subset_size(total: int, ratio: Ratio) -> int:
    """Number of items kept: ``ratio * total`` rounded half up, at least 1 (if any)."""
    fraction = parse_ratio(ratio)
    if total <= 0:
        return 0
    return min(total, max(1, int(total * fraction + 0.5)))


def subset_rank(key: str, seed: int) -> bytes:
    """The sort key of one item for a seed (a SHA-256 digest of ``seed`` and ``key``)."""
    return hashlib.sha256(f'{int(seed)}\0{key}'.encode('utf-8')).digest()


def select_subset(keys: Sequence[str], ratio: Ratio, seed: int = 0) -> List[int]:
    """Indices (ascending) of the items kept from ``keys`` for ``ratio`` and ``seed``."""
    if len(set(keys)) != len(keys):
        raise ValueError('subset keys must be unique (the same file is listed twice)')
    ranked = sorted(range(len(keys)), key=lambda i: subset_rank(keys[i], seed))
    return sorted(ranked[:subset_size(len(keys), ratio)])


class SmallDataSubsetMixin:
    """Adds ``subset_ratio`` / ``subset_seed`` to an mmseg ``BaseSegDataset`` subclass.

    Put it first in the bases and call :meth:`_set_subset` before the dataset's
    ``__init__`` (which loads the data list)::

        class MyDataset(SmallDataSubsetMixin, BaseSegDataset):
            def __init__(self, subset_ratio=None, subset_seed=0, **kwargs):
                self._set_subset(subset_ratio, subset_seed)
                super().__init__(**kwargs)
    """

    subset_ratio: Optional[float] = None
    subset_seed: int = 0

    def _set_subset(self, subset_ratio: Optional[Ratio], subset_seed: int) -> None:
        """Validate and remember the subset options."""
        self.subset_ratio = None if subset_ratio is None else parse_ratio(subset_ratio)
        self.subset_seed = int(subset_seed)

    def load_data_list(self) -> List[dict]:
        """The parent's data list, reduced to the subset when ``subset_ratio`` is set."""
        data_list = super().load_data_list()
        if self.subset_ratio is None:
            return data_list
        img_dir = self.data_prefix.get('img_path', '') or ''
        keys = [osp.relpath(info['img_path'], img_dir) if img_dir else osp.basename(info['img_path'])
                for info in data_list]
        keep = select_subset(keys, self.subset_ratio, self.subset_seed)
        print_log(f'{type(self).__name__}: small-data subset {self.subset_ratio:.2%} '
                  f'(seed {self.subset_seed}) keeps {len(keep)} of {len(data_list)} samples '
                  f'from {img_dir or "the data list"}', logger='current')
        return [data_list[i] for i in keep]
