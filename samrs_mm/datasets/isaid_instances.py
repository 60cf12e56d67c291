"""iSAID instance crops as an mmdet dataset (instance-segmentation fine-tuning)."""
from __future__ import annotations

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from ..sources.isaid import ISAID_PALETTE

# iSAID's 15 classes with iSAID's own spellings, in the label order of the semantic
# fine-tuning set (mmseg's iSAID order without its background class).
ISAID_INSTANCE_CLASSES = tuple(ISAID_PALETTE.values())


@DATASETS.register_module()
class iSAIDInstanceDataset(CocoDataset):
    """The COCO json of ``tools/dataset_converters/isaid_instances.py``: 896 x 896 crops.

    15 classes and no background class (mmdet's own ``iSAIDDataset`` lists 16, a
    'background' first, for another preprocessing); categories are matched by name, so the
    converter's category ids need not be 1..15 in this order.
    """

    METAINFO = dict(classes=ISAID_INSTANCE_CLASSES, palette=list(ISAID_PALETTE))
