"""Boxes of a scene: vector files in any CRS, or a DOTA file in pixels, as objects in the raster's pixel frame.

:func:`read_boxes` reads

* GeoPackage, GeoJSON, Shapefile (pyogrio through geopandas) and GeoParquet (``.parquet``,
  geopandas through pyarrow): every feature is one box; its polygon (all parts of a
  MultiPolygon) is reprojected to the raster's CRS (pyproj) and taken to the raster's pixel
  frame with the inverse of the raster's transform. ``box_type='auto'`` keeps an axis-aligned
  rectangle as a horizontal box and turns anything else into its minimum-area rotated
  rectangle (``'hbox'`` / ``'rbox'`` force one kind). The class comes from a field
  (``class_field``; default ``class`` when present, or the one class of a one-class list),
  mapped through the config's class list (case and separators ignored; an integer field is a
  class index);
* a DOTA ``labelTxt`` file (``.txt``) in pixel coordinates, through the DOTA reader (its class
  table and checks).

Boxes that do not overlap the raster are left out, counted and named; degenerate or unusable
geometries fail with a message naming the feature (``file#feature 12``), or are counted
with ``lenient=True``. A vector file without CRS is taken to be in the raster's CRS (a
warning says so); boxes with a CRS on a raster without one cannot be placed (one-line error).
"""
from __future__ import annotations

import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..structures import boxes as G
from ..structures.record import Instance
from .raster import SceneInputError, SceneRaster

__all__ = ['SceneObject', 'SceneBoxes', 'read_boxes', 'BOX_TYPES', 'VECTOR_EXTENSIONS']

BOX_TYPES = ('auto', 'hbox', 'rbox')
VECTOR_EXTENSIONS = ('.gpkg', '.geojson', '.json', '.shp', '.parquet', '.geoparquet', '.fgb')
# How many outside / skipped boxes the summary names one by one (all are counted).
MAX_NAMED = 100


@dataclass
class SceneObject:
    """One input box in the raster's pixel frame (float64; ``rbox`` le90, as the records keep them)."""

    box_id: int
    class_name: str
    class_index: int
    source_class: str
    hbox: np.ndarray
    quad: Optional[np.ndarray] = None
    rbox: Optional[np.ndarray] = None
    origin: str = ''

    def instance(self, x0: float = 0.0, y0: float = 0.0, scale: float = 1.0) -> Instance:
        """The object as the engine's :class:`~samrs_mm.structures.record.Instance` in a window whose
        pixel (0, 0) is scene pixel ``(x0, y0)``, read ``scale`` model pixels per scene pixel."""
        shift = np.array([x0, y0], dtype=np.float64)
        hbox = (self.hbox - np.tile(shift, 2)) * scale
        quad = None if self.quad is None else (self.quad - shift) * scale
        rbox = None
        if self.rbox is not None:
            rbox = np.concatenate([(self.rbox[:2] - shift) * scale, self.rbox[2:4] * scale, self.rbox[4:]])
        return Instance(class_name=self.class_name, hbox=hbox, class_index=self.class_index, rbox=rbox,
                        quad=quad, origin=self.origin)


@dataclass
class SceneBoxes:
    """What :func:`read_boxes` found: the usable objects and what it left out (counted, named)."""

    path: str
    objects: List[SceneObject] = field(default_factory=list)
    total: int = 0
    outside: int = 0
    outside_named: List[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_named: List[dict] = field(default_factory=list)
    unknown_classes: Counter = field(default_factory=Counter)
    warnings: List[str] = field(default_factory=list)
    crs: Optional[str] = None

    def leave_out(self, kind: str, box_id: int, origin: str, reason: str) -> None:
        """Count a box that is not labelled (``kind``: ``'outside'`` or a skip reason) and name it."""
        entry = dict(box_id=int(box_id), origin=origin, reason=reason)
        if kind == 'outside':
            self.outside += 1
            if len(self.outside_named) < MAX_NAMED:
                self.outside_named.append(entry)
            return
        self.skipped[kind] += 1
        if len(self.skipped_named) < MAX_NAMED:
            self.skipped_named.append(entry)

    def as_dict(self) -> dict:
        """The summary entry of the boxes (deterministic)."""
        return dict(path=self.path, boxes=self.total, used=len(self.objects), outside=self.outside,
                    outside_boxes=self.outside_named, skipped=dict(sorted(self.skipped.items())),
                    skipped_boxes=self.skipped_named, unknown_classes=dict(sorted(self.unknown_classes.items())),
                    crs=self.crs, warnings=list(self.warnings))


def _mapper(classes: Sequence[str], class_map: Optional[Dict[str, str]]):
    from ..sources.class_maps import ClassMapper
    return ClassMapper(classes, None, class_map)


def read_boxes(path: str, raster: SceneRaster, classes: Sequence[str], class_field: Optional[str] = None,
               class_map: Optional[Dict[str, str]] = None, skip_unknown: bool = False, lenient: bool = False,
               box_type: str = 'auto', layer: Optional[str] = None) -> SceneBoxes:
    """Read the boxes of ``raster`` from ``path`` (see the module docstring)."""
    if box_type not in BOX_TYPES:
        raise SceneInputError(f'scene.box_type: got {box_type!r}; valid: {", ".join(BOX_TYPES)}')
    if not osp.exists(path):
        raise SceneInputError(f'{path}: boxes file not found')
    if osp.splitext(path)[1].lower() == '.txt':
        return _read_dota(path, raster, classes, class_map, skip_unknown, lenient)
    return _read_vector(path, raster, classes, class_field, class_map, skip_unknown, lenient, box_type, layer)


def _read_dota(path, raster, classes, class_map, skip_unknown, lenient) -> SceneBoxes:
    """A DOTA label file in the raster's pixels, through the DOTA reader (its parsing, class table, checks)."""
    from ..sources.dota import DOTASource
    from ..sources.errors import AnnotationError
    folder, stem = osp.dirname(osp.abspath(path)), osp.splitext(osp.basename(path))[0]
    try:
        # No image folder: the reader must not size-check the boxes against an image that
        # happens to share the stem; the scene raster is the image.
        source = DOTASource(ann_dir=folder, img_dir=osp.join(folder, '.scene-has-no-image-folder'),
                            class_list=list(classes), class_map=class_map, skip_unknown=skip_unknown,
                            lenient=lenient, check_images=False)
        index = next(i for i in range(len(source))
                     if osp.splitext(osp.basename(source.image_path_of(i)))[0] == stem)
        record, stats = source.read_with_stats(index)
    except AnnotationError as exc:
        raise SceneInputError(str(exc)) from None
    if 'skip_reason' in record.meta:
        raise SceneInputError(record.meta.get('error') or f'{path}: unusable label file')
    result = SceneBoxes(path=path, total=len(record.instances) + sum(stats.skipped_instances.values()))
    result.unknown_classes.update(stats.unknown_classes)
    for reason, count in stats.skipped_instances.items():
        result.skipped[reason] += count
    for box_id, inst in enumerate(record.instances):
        boxes = G.ObjectBoxes(inst.hbox, inst.quad, inst.rbox)
        if _outside(boxes.hbox, raster):
            result.leave_out('outside', box_id, inst.origin, f'hbox {np.round(boxes.hbox, 2).tolist()} lies outside '
                             f'the {raster.width}x{raster.height} raster')
            continue
        result.objects.append(SceneObject(box_id, inst.class_name, inst.class_index, inst.class_name, boxes.hbox,
                                          boxes.quad, boxes.rbox, inst.origin))
    return result


def _outside(hbox: np.ndarray, raster: SceneRaster) -> bool:
    x1, y1, x2, y2 = hbox
    return bool(x2 <= 0 or y2 <= 0 or x1 >= raster.width or y1 >= raster.height)


def _load_frame(path: str, layer: Optional[str]):
    import geopandas
    try:
        if osp.splitext(path)[1].lower() in ('.parquet', '.geoparquet'):
            return geopandas.read_parquet(path)
        return geopandas.read_file(path, engine='pyogrio', layer=layer)
    except Exception as exc:  # noqa: BLE001 - any reader error is a bad input file here
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SceneInputError(f'{path}: cannot read the boxes ({text})') from None


def _crs_name(crs) -> str:
    """``EPSG:4326`` where the CRS has an authority code, else its name (never a multi-line WKT)."""
    authority = crs.to_authority()
    return ':'.join(authority) if authority else crs.name


def _to_raster_crs(frame, path: str, raster: SceneRaster, result: SceneBoxes):
    """``frame`` in the raster's CRS, or a :class:`SceneInputError` when it cannot be."""
    if frame.crs is None:
        if raster.georeferenced:
            result.warnings.append(f'{path} has no CRS: its coordinates are taken to be in the raster\'s CRS '
                                   f'({raster.crs.to_string()})')
        return frame
    source = result.crs = _crs_name(frame.crs)
    if not raster.georeferenced:
        raise SceneInputError(f'{path}: the boxes are in {source} but the raster {raster.path} has no '
                              'CRS, so they cannot be placed on it; give boxes in pixel coordinates (a vector file '
                              'without CRS, or a DOTA .txt file)')
    from pyproj import CRS
    target = CRS.from_wkt(raster.crs.to_wkt())
    try:
        moved = frame.to_crs(target)
    except Exception as exc:  # noqa: BLE001 - pyproj's errors vary by cause
        raise SceneInputError(f'{path}: cannot transform the boxes from {source} to the raster\'s CRS '
                              f'{raster.crs.to_string()} ({" ".join(str(exc).split())})') from None
    bounds = moved.geometry.bounds.to_numpy()
    present = ~moved.geometry.isna().to_numpy() & ~moved.geometry.is_empty.to_numpy()
    if present.any() and not np.all(np.isfinite(bounds[present])):
        raise SceneInputError(f'{path}: cannot transform the boxes from {source} to the raster\'s CRS '
                              f'{raster.crs.to_string()} (the transformation gives infinite coordinates)')
    return moved


def _pixel_points(geometry, inverse) -> Optional[np.ndarray]:
    """All exterior vertices of a (Multi)Polygon in pixel coordinates, or None for another type."""
    from shapely import get_coordinates
    if geometry.geom_type == 'Polygon':
        rings = [geometry.exterior]
    elif geometry.geom_type == 'MultiPolygon':
        rings = [part.exterior for part in geometry.geoms]
    else:
        return None
    coords = np.concatenate([get_coordinates(ring) for ring in rings])
    a, b, c, d, e, f = inverse
    cols = a * coords[:, 0] + b * coords[:, 1] + c
    rows = d * coords[:, 0] + e * coords[:, 1] + f
    return np.stack([cols, rows], axis=-1)


def _is_axis_aligned(points: np.ndarray) -> bool:
    """True when the polygon is its own horizontal hull (an axis-aligned rectangle)."""
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    area = (x2 - x1) * (y2 - y1)
    if area <= 0:
        return False
    on_edge = (np.isclose(points[:, 0], x1) | np.isclose(points[:, 0], x2)) & \
        (np.isclose(points[:, 1], y1) | np.isclose(points[:, 1], y2))
    return bool(np.all(on_edge))


def _class_of(value, mapper, classes) -> Optional[int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value) if 0 <= int(value) < len(classes) else None
    return mapper.index(str(value))


def _read_vector(path, raster, classes, class_field, class_map, skip_unknown, lenient, box_type, layer) -> SceneBoxes:
    frame = _load_frame(path, layer)
    result = SceneBoxes(path=path, total=len(frame))
    if len(frame) == 0:
        raise SceneInputError(f'{path}: the file has no features (no boxes to label)')
    columns = [c for c in frame.columns if c != frame.geometry.name]
    if class_field is None:
        if 'class' in columns:
            class_field = 'class'
        elif len(classes) != 1:
            raise SceneInputError(f'{path}: which field holds the class? give --class-field NAME (fields: '
                                  f'{", ".join(columns) or "none"})')
    elif class_field not in columns:
        raise SceneInputError(f'{path}: no field {class_field!r} (fields: {", ".join(columns) or "none"})')
    frame = _to_raster_crs(frame, path, raster, result)
    try:
        mapper = _mapper(classes, class_map)
    except ValueError as exc:
        raise SceneInputError(f'scene.class_map: {exc}') from None
    inverse = tuple(~raster.transform)[:6] if raster.georeferenced else (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    values = frame[class_field].tolist() if class_field is not None else [classes[0]] * len(frame)
    for box_id, (geometry, value) in enumerate(zip(frame.geometry, values)):
        origin = f'{path}#feature {box_id}'

        def bad(reason, text):
            if not lenient:
                raise SceneInputError(f'{origin}: {text} (scene.lenient=True skips and counts such boxes)')
            result.leave_out(reason, box_id, origin, text)

        index = _class_of(value, mapper, classes)
        if index is None:
            result.unknown_classes[str(value)] += 1
            if skip_unknown or lenient:
                result.leave_out('unknown-class', box_id, origin, f'unknown class {value!r}')
                continue
            raise SceneInputError(f'{origin}: unknown class {value!r} (not in the {len(classes)}-class list; '
                                  'scene.skip_unknown=True skips and counts such boxes, scene.class_map maps names)')
        if geometry is None or geometry.is_empty:
            bad('empty-geometry', 'empty geometry')
            continue
        points = _pixel_points(geometry, inverse)
        if points is None:
            bad('not-a-polygon', f'a {geometry.geom_type} is not a box (Polygon or MultiPolygon)')
            continue
        try:
            if box_type == 'hbox' or (box_type == 'auto' and _is_axis_aligned(points)):
                boxes = G.complete_boxes(hbox=G.polygon_to_hbox(points), where=f'feature {box_id}', path=path)
            else:
                boxes = G.complete_boxes(rbox=G.points_to_rbox(points), where=f'feature {box_id}', path=path)
            G.check_boxes(boxes, path=path, where=f'feature {box_id}')
        except G.BoxError as exc:
            bad(exc.reason, exc.detail)
            continue
        if _outside(boxes.hbox, raster):
            result.leave_out('outside', box_id, origin, f'hbox {np.round(boxes.hbox, 2).tolist()} lies outside the '
                             f'{raster.width}x{raster.height} raster')
            continue
        result.objects.append(SceneObject(box_id, classes[index], index, str(value), boxes.hbox, boxes.quad,
                                          boxes.rbox, origin))
    return result
