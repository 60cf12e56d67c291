"""samrs_mm.annotate: SAM labelling of detection datasets.

* :mod:`.engine` (``build_engine``): instances in, one compact mask per instance out;
* :mod:`.writers`: semantic / colour PNGs, instance json, merged COCO json;
* :mod:`.runner` (``AnnotateRunner``): a whole dataset, resumable and sharded
  (``tools/samrs_annotate.py``);
* :mod:`.transforms`: the ``SAMAnnotate`` pipeline step (registered by ``import samrs_mm``).

Nothing is imported here, so ``import samrs_mm.annotate.engine`` needs neither OpenMMLab
nor the writers; SAM is loaded when first used.
"""
