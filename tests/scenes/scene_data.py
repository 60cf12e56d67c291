"""Small synthetic georeferenced scenes and their boxes, for the scene tests and benchmarks."""
import os.path as osp

import numpy as np

# UTM 16N, 0.5 m pixels: the SpaceNet sample's zone, so the CRS round trips are realistic.
SCENE_CRS = 'EPSG:32616'
ORIGIN = (500000.0, 3700000.0)
GSD = 0.5


def scene_transform(gsd=GSD, origin=ORIGIN):
    """The affine transform of the synthetic scenes (north up)."""
    from rasterio.transform import from_origin
    return from_origin(origin[0], origin[1], gsd, gsd)


def grid_objects(width, height, step=90, size=(40, 24), classes=('plane', 'ship', 'small-vehicle'), rotated_every=3,
                 margin=8):
    """``[(class, (4, 2) pixel quad)]`` on a regular grid; every ``rotated_every``-th one turned by 30 degrees."""
    objects = []
    k = 0
    for y in range(margin + size[1], height - size[1] - margin, step):
        for x in range(margin + size[0], width - size[0] - margin, step):
            w, h = size if k % 2 == 0 else (size[1], size[1])
            corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
            if rotated_every and k % rotated_every == rotated_every - 1:
                t = np.deg2rad(30)
                corners = corners @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
            objects.append((classes[k % len(classes)], corners + [x, y]))
            k += 1
    return objects


def write_scene(path, width, height, objects=(), dtype='uint8', bands=3, nodata=None, crs=SCENE_CRS, seed=0,
                block=256, nodata_rect=None, strip=512):
    """A tiled GeoTIFF of noise with the objects painted bright, written in strips (any size)."""
    import cv2
    import rasterio
    rng = np.random.default_rng(seed)
    profile = dict(driver='GTiff', width=width, height=height, count=bands, dtype=dtype, tiled=True,
                   blockxsize=block, blockysize=block, compress='deflate', transform=scene_transform())
    if crs is not None:
        profile['crs'] = crs
    if nodata is not None:
        profile['nodata'] = nodata
    top = 4000 if dtype == 'uint16' else 255
    with rasterio.open(path, 'w', **profile) as ds:
        for y0 in range(0, height, strip):
            rows = min(strip, height - y0)
            data = rng.integers(0, top // 3, (rows, width, bands)).astype(np.float64)
            for _, quad in objects:
                q = np.round(np.asarray(quad) - [0, y0]).astype(np.int32)
                if q[:, 1].max() < 0 or q[:, 1].min() >= rows:
                    continue
                cv2.fillConvexPoly(data, q, [float(top * 0.8)] * bands)
            if nodata_rect is not None:
                x1, y1, x2, y2 = nodata_rect
                data[max(y1 - y0, 0):max(min(y2 - y0, rows), 0), x1:x2] = nodata
            ds.write(np.moveaxis(data.astype(dtype), -1, 0), window=rasterio.windows.Window(0, y0, width, rows))
    return path


def write_boxes(path, objects, crs=SCENE_CRS, to_crs='EPSG:4326', class_field='class', transform=None):
    """The objects as polygons in map coordinates (``crs``), written in ``to_crs`` (a GeoPackage / GeoJSON / ...)."""
    import geopandas
    from shapely.geometry import Polygon
    transform = transform or scene_transform()
    polygons = []
    for _, quad in objects:
        q = np.asarray(quad, dtype=np.float64)
        xs, ys = transform * (q[:, 0], q[:, 1])
        polygons.append(Polygon(np.stack([xs, ys], axis=-1)))
    frame = geopandas.GeoDataFrame({class_field: [c for c, _ in objects]}, geometry=polygons, crs=crs)
    if to_crs is not None:
        frame = frame.to_crs(to_crs)
    if osp.splitext(path)[1] == '.parquet':
        frame.to_parquet(path)
    else:
        frame.to_file(path, engine='pyogrio')
    return path


def write_dota(path, objects):
    """The objects as a DOTA label file in pixel coordinates."""
    with open(path, 'w') as f:
        for name, quad in objects:
            f.write(' '.join(f'{v:.3f}' for v in np.asarray(quad).ravel()) + f' {name} 0\n')
    return path
