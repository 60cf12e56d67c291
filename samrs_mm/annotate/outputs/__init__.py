"""The labels on disk: semantic PNG, colour PNG, per-image instance json, vectors, merged COCO json.

Layout under a work dir (one image ``<stem>``; see docs/annotate.md)::

    semantic/<stem>.png      gray, pixel = class index in the class list, 255 = unlabeled
    semantic/<stem>.tif      the same label as GeoTIFF in the image's frame (GeoTIFF inputs)
    color/<stem>.png         palette PNG of the same indices (for viewing)
    instances/<stem>.json    every object: COCO RLE mask, boxes, class, SAM score, area, prompt,
                             quality signals (:func:`~.writer.quality_signals`)
    vector/<stem>.geojson    every object as a polygon (only with ``vector='geojson'``; :mod:`.vector`)
    images/<stem>.<ext>      the input image (only with ``copy_images``)
    annotations.json         COCO json of all images (:func:`merge_annotations`)

Modules: :mod:`.semantic` (which class each pixel takes, overlap rules, PNG / GeoTIFF
encodings), :mod:`.writer` (:class:`LabelWriter`: one image's files, atomically, instance file
last), :mod:`.vector` (polygons), :mod:`.coco` (the merged COCO json, streamed). They import
nothing of the engine: a mask is anything with ``rle``, ``area``, ``bbox`` and ``score``.
"""
from .coco import merge_annotations
from .semantic import (
    OVERLAP_RULES,
    compose_semantic,
    encode_geotiff,
    encode_gray_png,
    encode_palette_png,
    encode_rgb_png,
    label_palette,
    paint_order,
)
from .vector import encode_geojson, mask_geometry, vector_problem
from .writer import (
    COPY_MODES,
    INSTANCES_FORMAT_VERSION,
    TMP_DIR_NAME,
    AtomicFiles,
    ImageResult,
    LabelWriter,
    quality_signals,
    read_instances,
)

__all__ = ['OVERLAP_RULES', 'COPY_MODES', 'INSTANCES_FORMAT_VERSION', 'TMP_DIR_NAME', 'paint_order',
           'compose_semantic', 'encode_gray_png', 'encode_palette_png', 'encode_geotiff', 'encode_rgb_png',
           'label_palette', 'AtomicFiles', 'ImageResult', 'LabelWriter', 'quality_signals', 'read_instances',
           'merge_annotations', 'encode_geojson', 'mask_geometry', 'vector_problem']
