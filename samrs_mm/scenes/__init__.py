"""samrs_mm.scenes: whole GeoTIFF scenes of any size, labelled and predicted window by window (docs/scenes.md).

* :mod:`.raster` (``SceneRaster``): windows of the raster with ``load_image``'s bands and stretch;
* :mod:`.boxes` (``read_boxes``): vector boxes in any CRS, or a DOTA file, in the raster's pixels;
* :mod:`.planning`: labelling windows (every box once, whole, with context), mmseg's slide
  windows and their strips, detector patches;
* :mod:`.masks`, :mod:`.label_raster`, :mod:`.vectors`, :mod:`.quicklook`: per-object masks and
  the outputs (Cloud-Optimized GeoTIFF, GeoPackage / GeoParquet, COCO json, quicklook);
* :mod:`.run` (``SceneRun``): records, shards, stops and summaries of both tools;
* :mod:`.labelling` (``SceneLabeller``): ``tools/annotate_scene.py``;
* :mod:`.models`, :mod:`.slide`, :mod:`.inference` (``SceneModel``, ``StreamingSlide``,
  ``SceneInference``): ``tools/infer_scene.py``;
* :mod:`.tool`: what both command lines share.

Nothing is imported here: rasterio, geopandas and OpenMMLab load with the module that needs them.
"""
