"""writer.vector='geojson': every object as a polygon that rasterises back to its RLE mask.

Read back with json + shapely (what is installed; GDAL's Python bindings and geopandas are
not). Pixel coordinates for plain images, map coordinates of the GeoTIFF's transform (as
rasterio reads it) for the SpaceNet sample.
"""
import json
import os.path as osp

import numpy as np
import pytest

from samrs_mm.annotate.runner import AnnotateConfigError, AnnotateRunner, settings_fingerprint
from samrs_mm.structures.boxes import rbox_to_quad
from tests.annotate.annotate_data import write_dota_dataset

rasterio = pytest.importorskip('rasterio')
shapely_geometry = pytest.importorskip('shapely.geometry')
from pycocotools import mask as mask_utils  # noqa: E402
from rasterio.features import rasterize  # noqa: E402
from rasterio.transform import Affine  # noqa: E402

# Rotated objects (cx, cy, w, h, theta): their filled boxes have staircase outlines.
ROTATED = [('plane', (40, 40, 50, 18, 0.5)), ('ship', (95, 55, 30, 9, -1.1)), ('small-vehicle', (20, 80, 8, 5, 0.8))]


def _signed_area(ring):
    pts = np.asarray(ring, dtype=np.float64)
    return float(np.sum(pts[:-1, 0] * pts[1:, 1] - pts[1:, 0] * pts[:-1, 1])) / 2


def _check_winding(geometry):
    polygons = [geometry['coordinates']] if geometry['type'] == 'Polygon' else geometry['coordinates']
    for rings in polygons:
        assert _signed_area(rings[0]) > 0  # RFC 7946: exterior counter-clockwise
        assert all(_signed_area(r) < 0 for r in rings[1:])  # holes clockwise


def _raster(geometry, height, width, transform=Affine.identity()):
    return rasterize([(geometry, 1)], out_shape=(height, width), transform=transform, fill=0,
                     dtype='uint8').astype(bool)


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def test_mask_geometry_traces_pixel_edges():
    from samrs_mm.annotate.outputs.vector import mask_geometry
    from samrs_mm.structures.rle import encode_window
    mask = np.zeros((40, 50), bool)
    mask[5:25, 8:30] = True
    mask[10:15, 12:20] = False          # a hole
    mask[30:34, 40:45] = True           # a second part
    mask[26, 31] = mask[27, 32] = True  # pixels touching diagonally only: separate squares
    rle, area, bbox = encode_window(mask, 0, 0, 40, 50)
    geometry = mask_geometry(rle, bbox)
    assert geometry['type'] == 'MultiPolygon' and len(geometry['coordinates']) == 4
    shape = shapely_geometry.shape(geometry)
    assert shape.is_valid and shape.area == area == mask.sum()
    assert shape.bounds == (8.0, 5.0, 45.0, 34.0)  # pixel edges: the mask's COCO box corners
    np.testing.assert_array_equal(_raster(geometry, 40, 50), mask)
    _check_winding(geometry)
    # An empty mask has no geometry.
    empty, _, empty_box = encode_window(np.zeros((3, 3), bool), 0, 0, 40, 50)
    assert mask_geometry(empty, empty_box) is None


@pytest.fixture(scope='module')
def pixel_run(tmp_path_factory):
    """A DOTA-format source with rotated objects, labelled with vector output."""
    root = tmp_path_factory.mktemp('vector')
    objects = [(name, tuple(rbox_to_quad(rbox).reshape(-1))) for name, rbox in ROTATED]
    data = write_dota_dataset(str(root / 'data'), n_images=2, objects=objects)
    cfg = dict(work_dir=str(root / 'work'),
               source=dict(type='dota', ann_dir=osp.join(data, 'labelTxt'), img_dir=osp.join(data, 'images'),
                           class_list='sota'),
               engine=dict(backend='box', prompt='rbox'), writer=dict(vector='geojson'),
               runner=dict(num_workers=0, progress=False))
    summary = AnnotateRunner(cfg, log=lambda *a: None).run()
    return cfg, summary


def test_pixel_coordinates_round_trip(pixel_run):
    cfg, summary = pixel_run
    assert (summary.labelled, summary.objects, summary.failed) == (2, 6, 0)
    for stem in ('img00', 'img01'):
        with open(osp.join(cfg['work_dir'], 'vector', stem + '.geojson'), encoding='utf-8') as f:
            collection = json.load(f)
        with open(osp.join(cfg['work_dir'], 'instances', stem + '.json'), encoding='utf-8') as f:
            objects = json.load(f)['objects']
        assert collection['type'] == 'FeatureCollection' and collection['name'] == stem
        assert 'crs' not in collection  # pixel coordinates
        assert [f['id'] for f in collection['features']] == [o['id'] for o in objects]
        for feature, obj in zip(collection['features'], objects):
            props = feature['properties']
            assert (props['class_name'], props['class_index'], props['score'], props['prompt'], props['area']) == \
                (obj['class_name'], obj['class_index'], obj['score'], obj['prompt'], obj['area'])
            shape = shapely_geometry.shape(feature['geometry'])
            assert shape.is_valid and shape.area == obj['area']
            mask = mask_utils.decode(dict(size=obj['segmentation']['size'],
                                          counts=obj['segmentation']['counts'].encode())).astype(bool)
            assert _iou(_raster(feature['geometry'], *mask.shape), mask) >= 0.99
            _check_winding(feature['geometry'])


def test_vector_option_keeps_fingerprint_and_resumes(pixel_run, tmp_path):
    cfg, _ = pixel_run
    base = dict(overlap='small_on_top', ignore_index=255)
    assert settings_fingerprint({}, dict(base, vector='geojson'), ['a']) == settings_fingerprint({}, base, ['a'])
    with open(osp.join(cfg['work_dir'], 'summary.json')) as f:
        assert json.load(f)['writer']['vector'] == 'geojson'
    before = open(osp.join(cfg['work_dir'], 'vector', 'img00.geojson'), 'rb').read()
    again = AnnotateRunner(cfg, log=lambda *a: None).run()
    assert (again.resumed, again.labelled_now) == (2, 0)
    assert open(osp.join(cfg['work_dir'], 'vector', 'img00.geojson'), 'rb').read() == before
    # Without the option nothing changes in summary.json; a bad value is refused up front.
    plain = dict(cfg, work_dir=str(tmp_path / 'plain'), writer={})
    AnnotateRunner(plain, log=lambda *a: None).run()
    with open(tmp_path / 'plain' / 'summary.json') as f:
        assert 'vector' not in json.load(f)['writer']
    assert not (tmp_path / 'plain' / 'vector').exists()
    # Turning it on later labels again only what lacks its vector file.
    again = AnnotateRunner(dict(plain, writer=dict(vector='geojson')), log=lambda *a: None).run()
    assert again.labelled_now == 2 and (tmp_path / 'plain' / 'vector' / 'img01.geojson').is_file()
    with pytest.raises(AnnotateConfigError, match="vector must be one of"):
        AnnotateRunner(dict(plain, writer=dict(vector='shapefile')))


def test_geotiff_input_gets_map_coordinates(shared_data, tmp_path):
    tif = osp.join(shared_data, 'spacenet', 'sample_geotiff.tif')
    cfg = dict(work_dir=str(tmp_path / 'geo'),
               source=dict(type='coco', ann_file=osp.join(shared_data, 'spacenet', 'coco_sample_2.json')),
               engine=dict(backend='box', prompt='hbox'), writer=dict(vector='geojson', copy_images='png'),
               runner=dict(num_workers=0, progress=False))
    summary = AnnotateRunner(cfg, log=lambda *a: None).run()
    assert (summary.labelled, summary.objects) == (1, 43)
    with open(tmp_path / 'geo' / 'vector' / 'sample_geotiff.geojson', encoding='utf-8') as f:
        collection = json.load(f)
    with open(tmp_path / 'geo' / 'instances' / 'sample_geotiff.json', encoding='utf-8') as f:
        objects = json.load(f)['objects']
    assert collection['crs'] == {'type': 'name', 'properties': {'name': 'urn:ogc:def:crs:EPSG::32616'}}
    assert len(collection['features']) == 43
    with rasterio.open(tif) as src:
        transform, height, width = src.transform, src.height, src.width
    for feature, obj in zip(collection['features'], objects):
        shape = shapely_geometry.shape(feature['geometry'])
        assert shape.is_valid
        # The mask's pixel-edge box, mapped by rasterio's transform, is the polygon's extent.
        x, y, w, h = obj['bbox']
        corners = [transform @ (x, y), transform @ (x + w, y + h)]
        xs, ys = sorted(c[0] for c in corners), sorted(c[1] for c in corners)
        np.testing.assert_allclose(shape.bounds, (xs[0], ys[0], xs[1], ys[1]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(shape.area, obj['area'] * abs(transform.a * transform.e), rtol=1e-9)
        mask = mask_utils.decode(dict(size=obj['segmentation']['size'],
                                      counts=obj['segmentation']['counts'].encode())).astype(bool)
        back = _raster(feature['geometry'], height, width, transform)
        assert _iou(back, mask) >= 0.99
