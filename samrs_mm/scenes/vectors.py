"""Vector outputs of the scene tools: GeoPackage layers written in chunks, GeoParquet, COCO json in pixels.

* :class:`FeatureWriter`: features (properties + shapely geometry, or None for an empty mask)
  streamed into one GeoPackage layer with pyogrio, a few thousand at a time, in the scene's
  CRS (pixel coordinates without one); the file is written under a temporary name and moved
  into place when complete. Geometries are MultiPolygons (a mask may have several parts).
* :func:`mask_polygon` traces a :class:`~samrs_mm.scenes.masks.SceneMask` along pixel edges
  (:func:`samrs_mm.annotate.outputs.vector.mask_geometry`, holes and parts kept) into map coordinates;
  :func:`rotated_polygon` is a rotated box's corners.
* :func:`write_geoparquet`: the same layer as GeoParquet (geopandas + pyarrow; read whole, so
  its memory follows the number of objects, not the pixels).
* :class:`CocoWriter`: one COCO json for the scene (one image, pixel coordinates), streamed.
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..fileio import atomic_open, temp_path
from .label_raster import gdal_storage_error
from .masks import SceneMask

__all__ = ['FeatureWriter', 'mask_polygon', 'rotated_polygon', 'box_polygon', 'write_geoparquet', 'CocoWriter']


def _frame(transform: Sequence[float], x: int, y: int):
    from rasterio.transform import Affine
    return tuple(Affine(*transform) * Affine.translation(x, y))[:6]


def mask_polygon(mask: SceneMask, transform: Sequence[float]):
    """Shapely (Multi)Polygon of ``mask`` in the coordinates of ``transform`` (pixel -> output), or None if empty."""
    if not mask.area:
        return None
    from shapely.geometry import shape

    from ..annotate.outputs.vector import mask_geometry
    geometry = mask_geometry(mask.rle, (0, 0, mask.width, mask.height), _frame(transform, mask.x, mask.y))
    return None if geometry is None else shape(geometry)


def _corners_to_polygon(corners: np.ndarray, transform: Sequence[float]):
    from shapely.geometry import Polygon
    a, b, c, d, e, f = transform
    xs = a * corners[:, 0] + b * corners[:, 1] + c
    ys = d * corners[:, 0] + e * corners[:, 1] + f
    return Polygon(np.stack([xs, ys], axis=-1))


def rotated_polygon(rbox: Sequence[float], transform: Sequence[float]):
    """Polygon of a rotated box ``(cx, cy, w, h, theta)`` in pixels, in the coordinates of ``transform``."""
    from ..structures.boxes import rbox_to_quad
    return _corners_to_polygon(rbox_to_quad(np.asarray(rbox, dtype=np.float64)), transform)


def box_polygon(hbox: Sequence[float], transform: Sequence[float]):
    """Polygon of a horizontal box ``(x1, y1, x2, y2)`` in pixels, in the coordinates of ``transform``."""
    x1, y1, x2, y2 = (float(v) for v in hbox)
    return _corners_to_polygon(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]), transform)


# GeoPackage records when each table last changed; GDAL writes the wall-clock time unless this
# option names one. A fixed time keeps a rerun's or a resumed run's files byte-identical.
GPKG_TIMESTAMP = '2000-01-01T00:00:00.000Z'


@contextlib.contextmanager
def fixed_gpkg_timestamp():
    """GeoPackages written inside this block carry :data:`GPKG_TIMESTAMP` as their change time."""
    from pyogrio import get_gdal_config_option, set_gdal_config_options
    before = get_gdal_config_option('OGR_CURRENT_DATE')
    set_gdal_config_options({'OGR_CURRENT_DATE': GPKG_TIMESTAMP})
    try:
        yield
    finally:
        set_gdal_config_options({'OGR_CURRENT_DATE': before})


class FeatureWriter:
    """One GeoPackage layer written in chunks (see the module docstring).

    Args:
        out_path: the finished file (``instances.gpkg``).
        layer: layer name.
        crs: the layer's CRS (WKT or anything geopandas takes), None for pixel coordinates.
        tmp_dir: folder for the file being written (same file system as ``out_path``).
        columns: property names, in order (every feature gives all of them).
        chunk: features per write.
    """

    def __init__(self, out_path: str, layer: str, crs, tmp_dir: str, columns: Sequence[str], chunk: int = 2000) -> None:
        self.out_path, self.layer, self.crs = out_path, layer, crs
        self.columns = list(columns)
        self.chunk = int(chunk)
        os.makedirs(tmp_dir, exist_ok=True)
        self.tmp_path = temp_path(out_path, tmp_dir) + '.gpkg'
        self._rows: List[Dict[str, Any]] = []
        self._geoms: List[Any] = []
        self._written = 0
        self.count = 0

    def add(self, properties: Dict[str, Any], geometry) -> None:
        """Queue one feature (``geometry`` None for an object without mask pixels)."""
        self._rows.append({k: properties.get(k) for k in self.columns})
        self._geoms.append(geometry)
        self.count += 1
        if len(self._rows) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if not self._rows and self._written:
            return
        import geopandas
        import pandas
        from pyogrio import write_dataframe
        frame = geopandas.GeoDataFrame(pandas.DataFrame(self._rows, columns=self.columns),
                                       geometry=geopandas.GeoSeries(self._geoms, crs=self.crs), crs=self.crs)
        try:
            with fixed_gpkg_timestamp():
                write_dataframe(frame, self.tmp_path, layer=self.layer, driver='GPKG', append=self._written > 0,
                                promote_to_multi=True, geometry_type='MultiPolygon')
        except Exception as exc:  # noqa: BLE001
            raise (gdal_storage_error(exc, self.out_path) or exc) from None
        self._written += len(self._rows)
        self._rows, self._geoms = [], []

    def finish(self) -> int:
        """Write what is queued, move the file into place; the number of features."""
        self._flush()
        try:
            os.replace(self.tmp_path, self.out_path)
        except OSError as exc:
            raise (gdal_storage_error(exc, self.out_path) or exc) from None
        return self.count

    def abort(self) -> None:
        """Drop the unfinished file."""
        with contextlib.suppress(OSError):
            os.remove(self.tmp_path)


def write_geoparquet(gpkg_path: str, out_path: str, tmp_dir: str) -> None:
    """``out_path`` (GeoParquet) with the features of the GeoPackage ``gpkg_path``, written atomically."""
    import geopandas
    frame = geopandas.read_file(gpkg_path, engine='pyogrio')
    tmp = temp_path(out_path, tmp_dir) + '.parquet'
    try:
        frame.to_parquet(tmp)
        os.replace(tmp, out_path)
    except Exception as exc:  # noqa: BLE001
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise (gdal_storage_error(exc, out_path) or exc) from None


class CocoWriter:
    """A COCO json of one scene image, its annotations streamed one by one (pixel coordinates).

    ``categories`` are the class names (id = class index + 1), the one image has id 1. Use as a
    context manager; the file appears complete at its path when the block ends without error.
    """

    def __init__(self, out_path: str, tmp_dir: str, file_name: str, width: int, height: int,
                 classes: Sequence[str], description: str) -> None:
        self._ctx = atomic_open(out_path, 'w', tmp_dir, encoding='utf-8')
        self.count = 0
        self._head = dict(info=dict(description=description, version='1.0'), licenses=[],
                          categories=[dict(id=i + 1, name=name) for i, name in enumerate(classes)],
                          images=[dict(id=1, file_name=file_name, width=int(width), height=int(height))])

    def __enter__(self) -> 'CocoWriter':
        self._file = self._ctx.__enter__()
        head = json.dumps(self._head, separators=(',', ':'), ensure_ascii=False)
        self._file.write(head[:-1] + ',"annotations":[')
        return self

    def add(self, annotation: Dict[str, Any]) -> None:
        """Append one annotation (``id`` and ``image_id`` are set here)."""
        self.count += 1
        entry = dict(id=self.count, image_id=1, **annotation)
        self._file.write((',' if self.count > 1 else '') + json.dumps(entry, separators=(',', ':'), ensure_ascii=False))

    def __exit__(self, exc_type, exc, tb) -> Optional[bool]:
        if exc_type is None:
            self._file.write(']}\n')
        return self._ctx.__exit__(exc_type, exc, tb)
