"""tools/annotate_scene.py and its SceneLabeller: seams leave no trace, georeferenced outputs read back
with rasterio / pyogrio / geopandas / pycocotools, resume, ranks, stops, bad input."""
import json
import os
import os.path as osp
import shutil
import signal

import numpy as np
import pytest

from samrs_mm.runs import RunInterrupted
from samrs_mm.scenes.labelling import SceneLabeller
from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
from tests.annotate.annotate_data import tool_main
from tests.conftest import kill_group, start_tool, wait_for
from tests.scenes.scene_data import SCENE_CRS, grid_objects, scene_transform, write_boxes, write_scene

SOTA = SAMRS_CLASS_LISTS['sota']
BOX_CFG = dict(engine=dict(backend='box', prompt='hbox'), runner=dict(progress=False),
               scene=dict(window_size=256, gap=64, context=8, class_list='sota'))


def _objects():
    """Grid objects with integer corners, plus a small car on a plane (the overlap rule) and a ship
    lying across the seam of the first two grid windows (its own window)."""
    objects = grid_objects(700, 520, step=110)
    plane = np.array([[300.0, 300], [380, 300], [380, 360], [300, 360]])
    car = np.array([[330.0, 320], [350, 320], [350, 332], [330, 332]])
    seam = np.array([[170.0, 20], [250, 20], [250, 70], [170, 70]])
    return objects + [('plane', plane), ('small-vehicle', car), ('ship', seam)]


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp('annotate_scene')
    objects = _objects()
    image = write_scene(str(root / 'scene.tif'), 700, 520, objects)
    boxes = write_boxes(str(root / 'boxes.gpkg'), objects)
    return str(root), image, boxes, objects


def _run(scene, out, cfg=BOX_CFG, **kwargs):
    _, image, boxes, _ = scene
    return SceneLabeller(json.loads(json.dumps(cfg)), image, boxes, str(out), log=lambda *a: None, **kwargs).run()


def outputs(out):
    """What a finished scene folder holds, in comparable form."""
    import geopandas
    import rasterio
    with rasterio.open(osp.join(out, 'semantic.tif')) as ds:
        semantic = ds.read(1)
        meta = (ds.crs.to_string(), tuple(ds.transform), ds.tags(ns='IMAGE_STRUCTURE').get('LAYOUT'), ds.overviews(1))
    frame = geopandas.read_file(osp.join(out, 'instances.gpkg'))
    rows = [tuple(r) for r in frame.drop(columns='geometry').itertuples(index=False)]
    with open(osp.join(out, 'instances_coco.json'), 'rb') as f:
        coco = f.read()
    with open(osp.join(out, 'summary.json')) as f:
        summary = json.load(f)
    return dict(semantic=semantic, meta=meta, rows=rows, geometry=[g.wkt for g in frame.geometry], coco=coco,
                summary=summary)


@pytest.fixture(scope='module')
def reference(scene, tmp_path_factory):
    out = tmp_path_factory.mktemp('reference') / 'out'
    summary = _run(scene, out)
    return str(out), summary, outputs(str(out))


def test_the_scene_equals_the_same_boxes_labelled_on_the_whole_image_at_once(scene, reference):
    """Every object is labelled in its one window; painted by the overlap rule the windows leave no seam."""
    from samrs_mm.annotate.engine import build_engine
    from samrs_mm.annotate.outputs import compose_semantic
    from samrs_mm.sources.image_io import load_image
    from samrs_mm.structures.record import Instance
    _, image_path, _, objects = scene
    out, summary, found = reference
    assert summary['complete'] and summary['exit_status'] == 0
    windows = summary['windows']
    assert windows['seam'] >= 1 and windows['labelled'] == windows['total'] == windows['grid'] + windows['seam']
    image = load_image(image_path)
    instances = [Instance(name, np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()]),
                          SOTA.index(name)) for name, q in objects]
    masks = build_engine(dict(backend='box', prompt='hbox')).annotate(image, instances)
    whole = compose_semantic(masks, [i.class_index for i in instances], 520, 700)
    assert np.array_equal(found['semantic'], whole)
    assert summary['objects']['labelled'] == len(objects) and summary['boxes']['boxes'] == len(objects)
    assert summary['class_counts']['plane'] == sum(name == 'plane' for name, _ in objects)
    # The overlap rule: the car stays on top of the plane.
    assert found['semantic'][325, 340] == SOTA.index('small-vehicle')
    assert found['semantic'][310, 310] == SOTA.index('plane')


def test_outputs_read_back_georeferenced_with_the_gis_libraries(scene, reference):
    import geopandas
    import pyogrio
    from pycocotools.coco import COCO
    from pyproj import Transformer

    from samrs_mm.structures.rle import decode
    _, _, boxes_path, objects = scene
    out, summary, found = reference
    crs, transform, layout, overviews = found['meta']
    assert crs == SCENE_CRS and transform == tuple(scene_transform()) and layout == 'COG' and overviews == [2]
    assert pyogrio.read_info(osp.join(out, 'instances.gpkg'))['crs'] == SCENE_CRS
    frame = geopandas.read_file(osp.join(out, 'instances.gpkg'))
    assert list(frame['box_id']) == list(range(len(objects)))
    assert list(frame['class']) == [name for name, _ in objects]
    # Polygons trace the masks along pixel edges: their area is the mask area times 0.5 m x 0.5 m.
    assert np.allclose(frame.geometry.area, frame['area'] * 0.25)
    # CRS round trip: the input box (WGS84) -> pixels -> mask -> polygon in UTM, taken back to WGS84 by
    # pyproj directly, lands on the input corners.
    boxes = geopandas.read_file(boxes_path)
    to_wgs84 = Transformer.from_crs(SCENE_CRS, 'EPSG:4326', always_xy=True)
    for k in (0, 1, len(objects) - 1):  # axis-aligned boxes with integer pixel corners
        x1, y1, x2, y2 = frame.geometry[k].bounds
        lon, lat = to_wgs84.transform([x1, x2], [y2, y1])
        bx1, by1, bx2, by2 = boxes.geometry[k].bounds
        assert np.allclose([lon[0], lat[0], lon[1], lat[1]], [bx1, by1, bx2, by2], atol=1e-9)
    coco = COCO(osp.join(out, 'instances_coco.json'))
    assert len(coco.getAnnIds()) == len(objects) and coco.imgs[1]['width'] == 700
    for ann in coco.loadAnns(coco.getAnnIds()):
        mask = decode(ann['segmentation'])
        assert mask.sum() == ann['area'] == frame['area'][ann['box_id']]
    assert osp.getsize(osp.join(out, 'quicklook.png')) > 0


class _StopAt:
    """An engine that is stopped by SIGTERM when it is asked for its ``n``-th window."""

    def __init__(self, engine, n):
        self.engine, self.n, self.calls, self.cfg = engine, n, 0, engine.cfg

    def annotate_many(self, requests):
        self.calls += 1
        if self.calls == self.n:
            raise RunInterrupted(signal.SIGTERM)
        return self.engine.annotate_many(requests)


def test_a_stopped_run_keeps_its_windows_and_the_rerun_equals_an_uninterrupted_one(scene, reference, tmp_path):
    from samrs_mm.annotate.engine import build_engine
    out = tmp_path / 'out'
    stopped = _run(scene, out, engine=_StopAt(build_engine(dict(backend='box', prompt='hbox')), 4))
    assert stopped['complete'] is False and stopped['exit_status'] == 143
    assert stopped['stopped']['reason'] == 'interrupted' and stopped['done'] == 3
    assert stopped['not_reached'] == stopped['units'] - 3
    assert len(os.listdir(out / 'windows')) == 3 and not (out / 'semantic.tif').exists()
    resumed = _run(scene, out)
    assert resumed['complete']
    again = outputs(str(out))
    for key in ('semantic', 'meta', 'rows', 'geometry', 'coco', 'summary'):
        assert np.array_equal(again[key], reference[2][key]) if key == 'semantic' else again[key] == reference[2][key]


def test_two_ranks_split_the_windows_and_rank_0_writes_what_one_process_writes(scene, reference, tmp_path):
    out = tmp_path / 'out'
    first = _run(scene, out, rank=1, world_size=2, barrier=lambda: None, run_id='r')
    assert first['done'] == len(range(1, reference[1]['units'], 2))
    summary = _run(scene, out, rank=0, world_size=2, barrier=lambda: None, run_id='r')
    assert summary['complete']
    found = outputs(str(out))
    assert np.array_equal(found['semantic'], reference[2]['semantic']) and found['rows'] == reference[2]['rows']
    assert found['summary'] == reference[2]['summary']


def test_nodata_windows_are_skipped_and_counted(tmp_path):
    objects = grid_objects(600, 300, step=100)
    image = write_scene(str(tmp_path / 'scene.tif'), 600, 300, objects, nodata=0, nodata_rect=(0, 0, 330, 300))
    boxes = write_boxes(str(tmp_path / 'boxes.gpkg'), objects)
    summary = SceneLabeller(dict(BOX_CFG), image, boxes, str(tmp_path / 'out'), log=lambda *a: None).run()
    assert summary['complete'] and summary['windows']['nodata'] >= 1
    inside = sum(1 for _, q in objects if q[:, 0].max() + 8 <= 256)  # in the first window column alone
    assert summary['objects']['in_nodata_windows'] >= inside
    assert summary['objects']['labelled'] + summary['objects']['in_nodata_windows'] == len(objects)
    import rasterio
    with rasterio.open(tmp_path / 'out' / 'semantic.tif') as ds:
        assert (ds.read(1)[:, :200] == 255).all()


def _corrupt_a_block(path, x, y):
    """Overwrite the compressed bytes of the block holding pixel (x, y) (band 1) with garbage."""
    import rasterio
    with rasterio.open(path) as ds:
        bx, by = x // ds.block_shapes[0][1], y // ds.block_shapes[0][0]
        offset = int(ds.get_tag_item(f'BLOCK_OFFSET_{bx}_{by}', 'TIFF', bidx=1))
        size = int(ds.get_tag_item(f'BLOCK_SIZE_{bx}_{by}', 'TIFF', bidx=1))
    with open(path, 'r+b') as f:
        f.seek(offset)
        f.write(b'\xff' * size)


def test_an_unreadable_block_fails_its_window_by_name_and_the_run_goes_on(scene, reference, tmp_path, capsys):
    root, image, boxes, _ = scene
    broken = str(tmp_path / 'scene.tif')
    shutil.copyfile(image, broken)
    _corrupt_a_block(broken, 600, 450)
    out = str(tmp_path / 'out')
    config = str(tmp_path / 'box.py')
    with open(config, 'w') as f:
        f.write(f'engine = {BOX_CFG["engine"]!r}\nrunner = {BOX_CFG["runner"]!r}\nscene = {BOX_CFG["scene"]!r}\n')
    main = tool_main('annotate_scene')
    assert main([config, '--image', broken, '--boxes', boxes, '--out-dir', out]) == 1
    err = capsys.readouterr().err
    assert f'{broken}: cannot read window x=' in err and 'rerun the same command' in err
    with open(osp.join(out, 'summary.json')) as f:
        summary = json.load(f)
    assert summary['windows']['failed'] >= 1 and summary['failures'][0]['error'].startswith(f'{broken}: cannot read')
    assert summary['windows']['labelled'] == summary['windows']['total'] - summary['windows']['failed']
    shutil.copyfile(image, broken)  # the file is fixed: the rerun labels the failed window only
    assert main([config, '--image', broken, '--boxes', boxes, '--out-dir', out]) == 0
    assert np.array_equal(outputs(out)['semantic'], reference[2]['semantic'])


def test_a_full_disk_stops_with_status_3_and_keeps_finished_windows(scene, reference, small_disk, tmp_path, capsys):
    _, image, boxes, _ = scene
    disk = small_disk(12)
    out = osp.join(disk.path, 'out')
    config = str(tmp_path / 'box.py')
    with open(config, 'w') as f:
        f.write(f'engine = {BOX_CFG["engine"]!r}\nrunner = {BOX_CFG["runner"]!r}\nscene = {BOX_CFG["scene"]!r}\n')
    main = tool_main('annotate_scene')
    assert main([config, '--image', image, '--boxes', boxes, '--out-dir', out]) == 3
    err = capsys.readouterr().err
    assert 'error: cannot write ' in err and 'No space left on device' in err
    kept = len(os.listdir(osp.join(out, 'windows')))
    assert 1 <= kept < reference[1]['units']
    assert not [n for n in os.listdir(out) if n not in ('windows', 'logs', '.tmp', 'summary.json')]
    disk.resize(20000)
    assert main([config, '--image', image, '--boxes', boxes, '--out-dir', out]) == 0
    assert np.array_equal(outputs(out)['semantic'], reference[2]['semantic'])


def test_bad_input_is_one_line_and_nothing_is_written(scene, tmp_path, capsys):
    _, image, boxes, _ = scene
    main = tool_main('annotate_scene')
    config = str(tmp_path / 'box.py')
    with open(config, 'w') as f:
        f.write("engine = dict(backend='box', prompt='hbox')\nscene = dict(window_sise=512)\n")
    out = str(tmp_path / 'out')
    assert main([config, '--image', image, '--boxes', boxes, '--out-dir', out]) == 2
    assert capsys.readouterr().err.strip() == ("error: unknown scene config key(s) ['window_sise']; valid keys: "
                                               'class_list, class_field, class_map, skip_unknown, lenient, box_type, '
                                               'layer, window_size, gap, context, stretch_scope, geoparquet, coco, '
                                               'quicklook')
    with open(config, 'w') as f:
        f.write("engine = dict(backend='box', prompt='hbox')\n")
    assert main([config, '--image', image + '.missing', '--boxes', boxes, '--out-dir', out]) == 2
    assert capsys.readouterr().err.strip() == f'error: {image}.missing: raster file not found'
    sam = str(tmp_path / 'sam.py')
    with open(sam, 'w') as f:
        f.write("engine = dict(backend='segment_anything', model_type='vit_h')\n")
    assert main([sam, '--image', image, '--boxes', boxes, '--out-dir', out]) == 2
    assert 'engine.checkpoint is not set' in capsys.readouterr().err
    assert not osp.exists(out)


def test_an_object_larger_than_a_window_is_labelled_from_a_reduced_window(tmp_path):
    big = np.array([[40.0, 30], [500, 30], [500, 200], [40, 200]])
    image = write_scene(str(tmp_path / 'scene.tif'), 560, 260, [('harbor', big)])
    boxes = write_boxes(str(tmp_path / 'boxes.gpkg'), [('harbor', big)])
    summary = SceneLabeller(dict(BOX_CFG), image, boxes, str(tmp_path / 'out'), log=lambda *a: None).run()
    assert summary['windows'] == dict(total=1, grid=0, seam=0, large=1, labelled=1, nodata=0, failed=0)
    import rasterio
    with rasterio.open(tmp_path / 'out' / 'semantic.tif') as ds:
        label = ds.read(1)
    # Read 2x smaller (476 x 186 px with context -> 238 x 93): the box is filled on that grid, every
    # model pixel covers 2 x 2 scene pixels, so the mask is the box to within one scene pixel.
    inside = label == SOTA.index('harbor')
    assert inside[30:200, 40:500].all() and not inside[:29].any() and not inside[201:].any()
    assert not inside[:, :39].any() and not inside[:, 501:].any()


def test_a_window_reaches_sam_as_the_same_pixels_saved_as_a_patch_would(tmp_path):
    """A 16-bit scene and the tiny random SAM: every window's masks equal the engine's on
    ``load_image`` of that window written as a GeoTIFF patch."""
    import rasterio
    from rasterio.windows import Window

    from samrs_mm.annotate.engine import build_engine
    from samrs_mm.scenes.masks import SceneMask
    from samrs_mm.sources.image_io import load_image
    from samrs_mm.structures.rle import decode
    objects = grid_objects(300, 220, step=100)
    image = write_scene(str(tmp_path / 'scene.tif'), 300, 220, objects, dtype='uint16', bands=1)
    boxes = write_boxes(str(tmp_path / 'boxes.gpkg'), objects)
    engine_cfg = dict(backend='segment_anything', model_type='tiny_test', random_init=True, prompt='hbox',
                      device='cpu', prompt_batch_size=4)
    cfg = dict(BOX_CFG, engine=engine_cfg)
    engine = build_engine(engine_cfg)
    labeller = SceneLabeller(cfg, image, boxes, str(tmp_path / 'out'), engine=engine, log=lambda *a: None)
    assert labeller.run()['complete']
    with rasterio.open(image) as src:
        profile = dict(src.profile)
        for lw in labeller.windows:
            patch = str(tmp_path / f'patch{lw.index}.tif')
            with rasterio.open(patch, 'w', **dict(profile, width=lw.window.width, height=lw.window.height,
                                                  transform=src.window_transform(Window(*lw.window)))) as dst:
                dst.write(src.read(window=Window(*lw.window)))
            instances = [labeller.objects[i].instance(lw.window.x, lw.window.y) for i in lw.box_ids]
            expected = engine.annotate(load_image(patch), instances)
            with open(labeller.record_path(lw.index)) as f:
                record = json.load(f)
            for mask, obj in zip(expected, record['objects']):
                mine = SceneMask.from_record(obj['mask'])
                full = np.zeros((lw.window.height, lw.window.width), dtype=bool)
                if mine.area:
                    full[mine.y - lw.window.y:mine.y - lw.window.y + mine.height,
                         mine.x - lw.window.x:mine.x - lw.window.x + mine.width] = decode(mine.rle)
                assert np.array_equal(full, mask.decode()) and obj['score'] == round(mask.score, 6)


def test_sigterm_stops_the_tool_cleanly(scene, tmp_path):
    """SIGTERM while SAM labels a window: exit 143, a summary that says so, the lock released, no process left."""
    from tests.conftest import survivors
    _, image, boxes, _ = scene
    config = str(tmp_path / 'tiny.py')
    with open(config, 'w') as f:
        f.write("engine = dict(backend='segment_anything', model_type='tiny_test', random_init=True, prompt='hbox', "
                "device='cpu', prompt_batch_size=4)\n"
                f'runner = {BOX_CFG["runner"]!r}\nscene = {BOX_CFG["scene"]!r}\n')
    out = str(tmp_path / 'out')
    proc = start_tool(['tools/annotate_scene.py', config, '--image', image, '--boxes', boxes, '--out-dir', out],
                      str(tmp_path / 'logs'))
    try:
        wait_for(lambda: osp.isdir(osp.join(out, 'windows')) and len(os.listdir(osp.join(out, 'windows'))) >= 1,
                 proc, timeout=120, what='a finished window')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        assert survivors(proc.pid) == []
    finally:
        kill_group(proc.pid)
    with open(osp.join(out, 'summary.json')) as f:
        summary = json.load(f)
    assert summary['stopped']['detail'] == 'interrupted by SIGTERM' and summary['complete'] is False
    assert summary['not_reached'] >= 1 and summary['done'] >= 1
    assert not osp.exists(osp.join(out, '.samrs_mm.lock')) and not osp.exists(osp.join(out, 'semantic.tif'))
    with open(osp.join(tmp_path, 'logs', 'stderr')) as f:
        assert 'stopped early (interrupted by SIGTERM)' in f.read()


def test_a_raster_without_crs_gives_pixel_outputs_and_a_warning(tmp_path):
    import geopandas
    import rasterio
    from rasterio.transform import Affine
    objects = grid_objects(300, 200, step=100)
    image = write_scene(str(tmp_path / 'plain.tif'), 300, 200, objects, crs=None)
    boxes = write_boxes(str(tmp_path / 'pixels.gpkg'), objects, crs=None, to_crs=None, transform=Affine.identity())
    said = []
    cfg = dict(BOX_CFG, scene=dict(BOX_CFG['scene'], geoparquet=True))
    summary = SceneLabeller(cfg, image, boxes, str(tmp_path / 'out'), log=said.append).run()
    assert summary['complete'] and summary['georeferenced'] is False and summary['crs'] is None
    assert said[0] == f'[annotate_scene] warning: {image} has no CRS: the outputs are in pixel coordinates'
    frame = geopandas.read_file(tmp_path / 'out' / 'instances.gpkg')
    assert frame.crs is None
    x1, y1, x2, y2 = frame.geometry[0].bounds  # pixel edges of the first box, y down
    quad = objects[0][1]
    assert (x1, y1, x2, y2) == (quad[:, 0].min(), quad[:, 1].min(), quad[:, 0].max(), quad[:, 1].max())
    parquet = geopandas.read_parquet(tmp_path / 'out' / 'instances.parquet')
    assert list(parquet['box_id']) == list(frame['box_id']) and parquet.geometry.equals(frame.geometry)
    with rasterio.open(tmp_path / 'out' / 'semantic.tif') as ds:
        assert ds.crs is None


def test_a_bad_overlap_rule_or_section_key_is_refused_before_any_work(scene, tmp_path):
    from samrs_mm.scenes.raster import SceneInputError
    with pytest.raises(SceneInputError, match=r"writer.overlap: got 'big_on_top'; valid: small_on_top, "):
        _run(scene, tmp_path / 'out', cfg=dict(BOX_CFG, writer=dict(overlap='big_on_top')))
    with pytest.raises(SceneInputError, match=r"unknown runner config key\(s\) \['strech'\]"):
        _run(scene, tmp_path / 'out', cfg=dict(BOX_CFG, runner=dict(strech=(1, 99))))
    assert not (tmp_path / 'out').exists()
