"""samrs_mm.annotate: SAM labelling of detection datasets, in four rooms and a pipeline step.

* :mod:`.engine` (``build_engine``): instances in, one compact mask per instance out; the
  model-side parts (prompts, encoder, decoder, upsampling, chunked masks, precision, prompt
  batch sizing, low-res clean-up, RLE, raster) and the backend registry (``box`` included);
* :mod:`.families`: the SAM families' backends (SAM, HQ-SAM, SAM 2.1, SAM 3), their models
  and the reference checks against each family's own predictor;
* :mod:`.outputs` (``LabelWriter``, ``merge_annotations``): semantic / colour PNGs, instance
  json, vectors, merged COCO json;
* :mod:`.runner` (``AnnotateRunner``): a whole dataset, resumable and sharded
  (``tools/samrs_annotate.py``);
* :mod:`.transforms`: the ``SAMAnnotate`` pipeline step (registered by ``import samrs_mm``).

Imports flow one way: engine <- families; outputs stand alone; runner uses engine and outputs
(and the families' weight table); transforms use engine and outputs. Nothing is imported here,
so ``import samrs_mm.annotate.engine`` needs neither OpenMMLab nor the writers; SAM is
loaded when first used.
"""
