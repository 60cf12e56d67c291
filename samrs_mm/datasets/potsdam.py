"""ISPRS Potsdam with the SAMRS paper's protocol: 5 classes, clutter and boundary ignored."""
from __future__ import annotations

from typing import Optional

from mmseg.datasets import PotsdamDataset
from mmseg.registry import DATASETS

from .subset import Ratio, SmallDataSubsetMixin


@DATASETS.register_module()
class Potsdam5Dataset(SmallDataSubsetMixin, PotsdamDataset):
    """Potsdam crops of ``tools/dataset_converters/potsdam.py`` with the paper's 5 classes.

    Labels on disk follow mmseg's Potsdam convention (0 = boundary / unknown, 1..6 the ISPRS
    classes with clutter = 6). ``reduce_zero_label`` turns 0 into the ignore index and the
    class subset below maps clutter to it too, so a model has 5 outputs (impervious surface,
    building, low vegetation, tree, car) and clutter never counts in losses or metrics, as
    in SAMRS (A.6). Passing ``metainfo`` with all six classes gives the 6-class protocol on
    the same files.

    Args:
        subset_ratio: keep only this fraction of the samples (``0.01`` or ``'1%'``), chosen
            deterministically by ``subset_seed`` (see :mod:`samrs_mm.datasets.subset`).
        subset_seed: seed of the subset choice.
    """

    CLASSES_WITHOUT_CLUTTER = PotsdamDataset.METAINFO['classes'][:5]
    PALETTE_WITHOUT_CLUTTER = PotsdamDataset.METAINFO['palette'][:5]

    def __init__(self,
                 subset_ratio: Optional[Ratio] = None,
                 subset_seed: int = 0,
                 metainfo: Optional[dict] = None,
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        self._set_subset(subset_ratio, subset_seed)
        if metainfo is None:
            metainfo = dict(classes=self.CLASSES_WITHOUT_CLUTTER,
                            palette=self.PALETTE_WITHOUT_CLUTTER)
        super().__init__(metainfo=metainfo, reduce_zero_label=reduce_zero_label, **kwargs)
