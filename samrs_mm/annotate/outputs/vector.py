"""Vector output of the annotate tool: every object of an image as a GeoJSON polygon.

``writer.vector='geojson'`` writes ``vector/<stem>.geojson`` beside the label PNGs: one
FeatureCollection per image, one Feature per object with a non-empty mask. The geometry
traces the mask along pixel edges (GDAL's polygonizer through ``rasterio.features.shapes``),
so rasterising it back gives the mask again, holes and separate parts included; its
properties are the object's ``id`` (position in ``instances/<stem>.json``), ``class_name``,
``class_index``, ``source_class``, ``score``, ``prompt``, ``area`` (mask pixels) and
``difficult``.

Coordinates:

* GeoTIFF inputs: map coordinates of the image's georeference (``record.georef``: the
  affine transform and CRS rasterio read). The CRS is named the way GDAL writes GeoJSON
  (``"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::<code>"}}``,
  the GeoJSON 2008 member GDAL, QGIS and geopandas read) when it has an EPSG code; a CRS
  without one is kept as WKT in the collection's ``crs_wkt`` member.
* other inputs: pixel coordinates, x to the right and y down, pixel edges at integers
  (the pixel ``(row, col)`` is the square ``[col, col + 1] x [row, row + 1]``); no ``crs``.

Rings follow RFC 7946's winding rule in the numbers written (exterior counter-clockwise,
holes clockwise, by the sign of the shoelace area). Needs rasterio (the ``geo`` extra,
``requirements/optional.txt``); :func:`vector_problem` says so before a run starts.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ...structures.rle import decode_window

__all__ = ['VECTOR_FORMATS', 'vector_problem', 'mask_geometry', 'image_features', 'feature_collection',
           'encode_geojson']

VECTOR_FORMATS = (None, 'geojson')
# Pixel coordinates: the identity transform (x = column, y = row, pixel edges at integers).
_PIXEL_TRANSFORM = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def vector_problem(vector: Optional[str]) -> Optional[str]:
    """Why ``writer.vector`` cannot be used here (bad value, rasterio missing), or None."""
    if vector not in VECTOR_FORMATS:
        return f'vector must be one of {VECTOR_FORMATS}, got {vector!r}'
    if vector is None:
        return None
    try:
        import rasterio.features  # noqa: F401
    except ImportError:
        return ("vector='geojson' traces masks with rasterio, which is not installed: "
                'pip install rasterio==1.4.3 (requirements/optional.txt)')
    return None


def _signed_area(ring: Sequence[Sequence[float]]) -> float:
    """Shoelace area of a closed ring in the numbers given (positive = counter-clockwise)."""
    pts = np.asarray(ring, dtype=np.float64)
    x, y = pts[:-1, 0], pts[:-1, 1]
    x1, y1 = pts[1:, 0], pts[1:, 1]
    return float(np.sum(x * y1 - x1 * y)) / 2.0


def _oriented(ring: List[List[float]], counter_clockwise: bool) -> List[List[float]]:
    """``ring`` turned the wanted way (RFC 7946: exteriors counter-clockwise, holes clockwise)."""
    if (_signed_area(ring) > 0) != counter_clockwise:
        ring = ring[::-1]
    return ring


def mask_geometry(rle: dict, bbox: Sequence[float], transform: Sequence[float] = _PIXEL_TRANSFORM
                  ) -> Optional[Dict[str, Any]]:
    """GeoJSON geometry (Polygon or MultiPolygon) of one RLE mask, or None when it is empty.

    ``bbox`` is the mask's COCO ``(x, y, w, h)``: only that window is decoded and traced.
    ``transform`` is the affine ``(a, b, c, d, e, f)`` from pixel (col, row) to output
    coordinates (rasterio's order); the default writes pixel coordinates.
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine

    x, y, w, h = (int(round(v)) for v in bbox)
    if w <= 0 or h <= 0:
        return None
    window = decode_window(rle, x, y, w, h)
    if not window.any():
        return None
    # The window's own transform: its pixel (0, 0) is image pixel (x, y).
    frame = Affine(*transform) @ Affine.translation(x, y)
    polygons = []
    # 4-connected parts, as the mask's pixels are squares that touch only along edges.
    for geometry, value in shapes(window.astype(np.uint8), mask=window, connectivity=4, transform=frame):
        if value != 1:
            continue
        rings = [[[float(px), float(py)] for px, py in ring] for ring in geometry['coordinates']]
        polygons.append([_oriented(rings[0], True)] + [_oriented(r, False) for r in rings[1:]])
    if len(polygons) == 1:
        return dict(type='Polygon', coordinates=polygons[0])
    return dict(type='MultiPolygon', coordinates=polygons)


def image_features(objects: Sequence[dict], georef: Optional[dict] = None) -> List[dict]:
    """One GeoJSON Feature per object of ``instances/<stem>.json`` with a non-empty mask.

    ``objects`` are the per-object dicts the label writer stores (``segmentation``,
    ``bbox``, ``class_name``, ...); ``georef`` the image's georeference (map coordinates)
    or None (pixel coordinates).
    """
    transform = tuple(georef['transform']) if georef else _PIXEL_TRANSFORM
    features = []
    for obj in objects:
        if not obj.get('area'):
            continue
        geometry = mask_geometry(obj['segmentation'], obj['bbox'], transform)
        if geometry is None:
            continue
        properties = {key: obj.get(key) for key in ('id', 'class_name', 'class_index', 'source_class', 'score',
                                                     'prompt', 'area', 'difficult')}
        features.append(dict(type='Feature', id=obj.get('id'), properties=properties, geometry=geometry))
    return features


def feature_collection(features: List[dict], name: str, georef: Optional[dict] = None) -> Dict[str, Any]:
    """The FeatureCollection of one image (``crs`` member for georeferenced inputs)."""
    collection: Dict[str, Any] = dict(type='FeatureCollection', name=name)
    if georef:
        epsg = georef.get('epsg')
        if epsg:
            collection['crs'] = dict(type='name', properties=dict(name=f'urn:ogc:def:crs:EPSG::{int(epsg)}'))
        elif georef.get('crs'):
            collection['crs_wkt'] = georef['crs']
    collection['features'] = features
    return collection


def encode_geojson(objects: Sequence[dict], name: str, georef: Optional[dict] = None) -> bytes:
    """UTF-8 GeoJSON bytes of one image's objects (deterministic: resumed runs write the same)."""
    collection = feature_collection(image_features(objects, georef), name, georef)
    return (json.dumps(collection, separators=(',', ':'), ensure_ascii=False) + '\n').encode('utf-8')
