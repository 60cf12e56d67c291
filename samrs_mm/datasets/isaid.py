"""iSAID crops for fine-tuning, with the paper's small-data option."""
from __future__ import annotations

from typing import Optional

from mmseg.datasets import iSAIDDataset
from mmseg.registry import DATASETS

from .subset import Ratio, SmallDataSubsetMixin


@DATASETS.register_module()
class iSAIDFinetuneDataset(SmallDataSubsetMixin, iSAIDDataset):
    """iSAID crops of ``tools/dataset_converters/isaid.py`` (mmseg's iSAID layout).

    16 classes as in mmseg and in the SAMRS release: background (0) is trained as a class
    and left out of the mean by ``iSAIDMetric`` (mIoU over the 15 foreground classes);
    255 (padding, unknown colours) is ignored.

    Args:
        subset_ratio: keep only this fraction of the samples (``0.01`` or ``'1%'``), chosen
            deterministically by ``subset_seed`` (see :mod:`samrs_mm.datasets.subset`).
        subset_seed: seed of the subset choice.
    """

    def __init__(self,
                 subset_ratio: Optional[Ratio] = None,
                 subset_seed: int = 0,
                 **kwargs) -> None:
        self._set_subset(subset_ratio, subset_seed)
        super().__init__(**kwargs)
