"""samrs_mm.annotate: SAM labelling of detection datasets.

* :mod:`.engine` (``build_engine``): instances in, one compact mask per instance out;
* :mod:`.writers`: semantic / colour PNGs, instance json, merged COCO json;
* :mod:`.runner` (``AnnotateRunner``): a whole dataset, resumable and sharded
  (``tools/samrs_annotate.py``);
* :mod:`.transforms`: the ``SAMAnnotate`` pipeline step, registered on import here.

Only the transform is imported eagerly (it registers into mmseg / mmdet); the engine and
SAM are loaded when first used.
"""
from .transforms import SAMAnnotate  # noqa: F401  (registers SAMAnnotate)

__all__ = ['SAMAnnotate']
