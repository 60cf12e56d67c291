"""`make demo`'s script end to end on the shipped synthetic scenes (2 SEP iterations)."""
import json
import os
import os.path as osp

from tests.conftest import run_tool


def test_demo_chain_runs_offline(tmp_path, repo_root):
    out = str(tmp_path / 'demo')
    proc = run_tool(['scripts/demo.sh'], env={'DEMO_OUT': out, 'DEMO_ITERS': '2'}, timeout=1500)
    log = proc.stdout + proc.stderr
    assert "the 'box' baseline fills each box" in log
    for subset in ('sota', 'sior', 'fast'):
        root = osp.join(out, 'samrs', subset)
        with open(osp.join(root, 'annotations.json')) as f:
            coco = json.load(f)
        labels = sorted(os.listdir(osp.join(root, 'semantic')))
        assert len(labels) == len(coco['images']) == len(os.listdir(osp.join(root, 'images')))
        train = open(osp.join(root, 'train.txt')).read().split()
        val = open(osp.join(root, 'val.txt')).read().split()
        assert len(val) >= 1 and len(train) + len(val) == len(labels)
        assert f'mIoU.{subset}' in log
    # 4 DOTA patches, 4 DIOR images, 6 FAIR1M patches (demo/make_demo_data.py, fixed seed)
    assert [len(os.listdir(osp.join(out, 'samrs', s, 'semantic'))) for s in ('sota', 'sior', 'fast')] == [4, 4, 6]
    assert osp.isfile(osp.join(out, 'sep', 'iter_2.pth'))
    # Label QC of the SOTA labels: one line; the box baseline's masks are their boxes, so the
    # box-filling rule flags them (the report says what SAM labels would be judged by).
    with open(osp.join(out, 'samrs', 'sota', 'annotations.json')) as f:
        sota_objects = len(json.load(f)['annotations'])
    qc_dir = osp.join(out, 'samrs', 'sota', 'qc')
    assert f'[label_qc] 4 images, {sota_objects} objects, ' in log and 'box_filled' in log
    assert f'report: {osp.join(qc_dir, "index.html")}' in log
    with open(osp.join(qc_dir, 'summary.json')) as f:
        assert json.load(f)['objects'] == sota_objects
    # Mask R-CNN on the SOTA instances, Oriented R-CNN on the FAST R-Boxes: one epoch, evaluated.
    assert osp.isfile(osp.join(out, 'instance', 'epoch_1.pth')) and osp.isfile(osp.join(out, 'rotated', 'epoch_1.pth'))
    assert 'coco/segm_mAP' in log and 'dota/mAP' in log
    # The georeferenced scene: its 70 WGS84 boxes labelled window by window, the SEP model streamed over it.
    import geopandas
    import rasterio
    labels, predicted = osp.join(out, 'scene', 'labels'), osp.join(out, 'scene', 'predicted')
    assert len(geopandas.read_file(osp.join(labels, 'instances.gpkg'))) == 70
    for folder in (labels, predicted):
        with open(osp.join(folder, 'summary.json')) as f:
            assert json.load(f)['complete']
        with rasterio.open(osp.join(folder, 'semantic.tif')) as ds:
            assert ds.crs.to_string() == 'EPSG:32616' and (ds.width, ds.height) == (1400, 1150)
    assert '[infer_scene] tasks semantic' in log and '[annotate_scene] windows' in log
    assert len(os.listdir(osp.join(out, 'overlays'))) == 1
    assert 'done. Outputs under' in log
