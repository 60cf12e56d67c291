"""Boxes of a scene: every vector format and CRS to the raster's pixels, and the one-line refusals."""
import json
import os.path as osp

import numpy as np
import pytest

from samrs_mm.scenes.boxes import read_boxes
from samrs_mm.scenes.raster import SceneInputError, SceneRaster
from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
from tests.scenes.scene_data import SCENE_CRS, grid_objects, scene_transform, write_boxes, write_dota, write_scene

SOTA = SAMRS_CLASS_LISTS['sota']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """A 400 x 300 UTM scene and its 12 boxes (every third one rotated by 30 degrees)."""
    root = tmp_path_factory.mktemp('boxes')
    objects = grid_objects(400, 300, step=100)
    path = write_scene(str(root / 'scene.tif'), 400, 300, objects)
    return str(root), path, objects


def _wgs84_geojson(path, objects):
    """The objects' corners taken to lon / lat by pyproj directly (independent of geopandas' to_crs)."""
    from pyproj import Transformer
    to_wgs84 = Transformer.from_crs(SCENE_CRS, 'EPSG:4326', always_xy=True)
    transform = scene_transform()
    features = []
    for name, quad in objects:
        xs, ys = transform * (quad[:, 0], quad[:, 1])
        lon, lat = to_wgs84.transform(xs, ys)
        ring = [[float(a), float(b)] for a, b in zip(lon, lat)]
        features.append(dict(type='Feature', properties={'kind': name},
                             geometry=dict(type='Polygon', coordinates=[ring + ring[:1]])))
    with open(path, 'w') as f:
        json.dump(dict(type='FeatureCollection', features=features), f)
    return path


def test_boxes_in_wgs84_come_back_to_their_pixels(scene):
    from samrs_mm.structures.boxes import polygon_to_hbox, quad_to_rbox
    root, path, objects = scene
    boxes_path = _wgs84_geojson(osp.join(root, 'wgs84.geojson'), objects)
    with SceneRaster(path) as raster:
        found = read_boxes(boxes_path, raster, SOTA, class_field='kind')
    assert found.crs == 'EPSG:4326' and found.total == len(objects) and found.outside == 0
    for obj, (name, quad) in zip(found.objects, objects):
        assert obj.class_name == name and obj.class_index == SOTA.index(name)
        assert np.allclose(obj.hbox, polygon_to_hbox(quad), atol=1e-6)
        if obj.rbox is None:  # axis-aligned in pixels: a horizontal box
            assert np.isclose(quad[0, 1], quad[1, 1]) or np.isclose(quad[0, 0], quad[1, 0])
        else:
            expected = quad_to_rbox(quad)
            assert np.allclose(obj.rbox[:4], expected[:4], atol=1e-6)
            assert np.isclose(np.cos(2 * (obj.rbox[4] - expected[4])), 1.0, atol=1e-9)
    assert sum(o.rbox is not None for o in found.objects) == len(objects) // 3


@pytest.mark.parametrize('ext', ['.gpkg', '.shp', '.parquet'])
def test_every_vector_format_reads_the_same_boxes(scene, ext):
    root, path, objects = scene
    boxes_path = write_boxes(osp.join(root, 'boxes' + ext), objects, to_crs='EPSG:3857')
    reference = write_dota(osp.join(root, 'scene.txt'), objects)
    with SceneRaster(path) as raster:
        found = read_boxes(boxes_path, raster, SOTA)
        dota = read_boxes(reference, raster, SOTA)
    assert [o.class_name for o in found.objects] == [o.class_name for o in dota.objects]
    for a, b in zip(found.objects, dota.objects):
        assert np.allclose(a.hbox, b.hbox, atol=2e-3)  # the DOTA file keeps 3 decimals


def test_real_spacenet_footprints_land_on_their_coco_boxes(shared_data):
    root = osp.join(shared_data, 'spacenet')
    with open(osp.join(root, 'coco_sample_2.json')) as f:
        coco = json.load(f)
    with SceneRaster(osp.join(root, 'sample_geotiff.tif')) as raster:
        assert raster.dtype == np.uint16 and raster.count == 1 and raster.georeferenced
        found = read_boxes(osp.join(root, 'geotiff_labels.geojson'), raster, ['building'], box_type='hbox')
    assert found.total == 43 and len(found.objects) == 43
    mine = np.array([np.clip(o.hbox, 0, 900) for o in found.objects])
    theirs = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in coco['annotations'])])
    for box in theirs:  # COCO's boxes are clipped to the image; every one is one of ours
        assert np.abs(mine - box).max(axis=1).min() < 1e-6


def test_boxes_outside_the_raster_are_counted_and_named(scene):
    root, path, objects = scene
    far = [('ship', np.array([[900.0, 10], [950, 10], [950, 40], [900, 40]])),
           ('plane', np.array([[-80.0, -60], [-10, -60], [-10, -5], [-80, -5]]))]
    boxes_path = write_boxes(osp.join(root, 'outside.gpkg'), objects[:2] + far)
    with SceneRaster(path) as raster:
        found = read_boxes(boxes_path, raster, SOTA)
    assert len(found.objects) == 2 and found.outside == 2
    assert [o['box_id'] for o in found.outside_named] == [2, 3]
    assert all('outside the 400x300 raster' in o['reason'] for o in found.outside_named)


def test_untransformable_boxes_are_refused_in_one_line(scene, tmp_path):
    import geopandas
    from shapely.geometry import box
    root, path, _ = scene
    mars = str(tmp_path / 'mars.gpkg')
    geopandas.GeoDataFrame({'class': ['ship']}, geometry=[box(10, 10, 11, 11)], crs='IAU_2015:49900').to_file(mars)
    with SceneRaster(path) as raster, pytest.raises(SceneInputError) as error:
        read_boxes(mars, raster, SOTA)
    text = str(error.value)
    assert '\n' not in text and text.startswith(f'{mars}: cannot transform the boxes from ')
    assert "Mars" in text and "to the raster's CRS EPSG:32616 (" in text


def test_class_problems_name_the_feature_or_the_fields(scene):
    root, path, objects = scene
    odd = write_boxes(osp.join(root, 'odd.gpkg'), objects[:3] + [('spaceship', objects[3][1])], class_field='type')
    with SceneRaster(path) as raster:
        with pytest.raises(SceneInputError, match=r"which field holds the class\? give --class-field NAME "
                                                  r"\(fields: type\)"):
            read_boxes(odd, raster, SOTA)
        with pytest.raises(SceneInputError, match=r"no field 'kind' \(fields: type\)"):
            read_boxes(odd, raster, SOTA, class_field='kind')
        with pytest.raises(SceneInputError, match=r"odd.gpkg#feature 3: unknown class 'spaceship'"):
            read_boxes(odd, raster, SOTA, class_field='type')
        found = read_boxes(odd, raster, SOTA, class_field='type', skip_unknown=True)
        assert len(found.objects) == 3 and found.unknown_classes == {'spaceship': 1}
        mapped = read_boxes(odd, raster, SOTA, class_field='type', class_map={'spaceship': 'helicopter'})
        assert mapped.objects[3].class_name == 'helicopter' and mapped.objects[3].source_class == 'spaceship'


def test_a_raster_without_crs_takes_pixel_boxes_only(tmp_path):
    objects = grid_objects(200, 150, step=80)
    path = write_scene(str(tmp_path / 'plain.tif'), 200, 150, objects, crs=None)
    pixel_frame = write_boxes(str(tmp_path / 'pixels.gpkg'), objects, crs=None, to_crs=None,
                              transform=__import__('rasterio').transform.Affine.identity())
    with_crs = write_boxes(str(tmp_path / 'utm.gpkg'), objects)
    with SceneRaster(path) as raster:
        assert not raster.georeferenced
        found = read_boxes(pixel_frame, raster, SOTA)
        assert len(found.objects) == len(objects)
        assert np.allclose(found.objects[0].hbox, [objects[0][1][:, 0].min(), objects[0][1][:, 1].min(),
                                                   objects[0][1][:, 0].max(), objects[0][1][:, 1].max()])
        with pytest.raises(SceneInputError, match='has no CRS, so they cannot be placed on it'):
            read_boxes(with_crs, raster, SOTA)
