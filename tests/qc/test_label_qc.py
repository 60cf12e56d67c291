"""Label QC on iSAID's ground-truth masks with planted defects: what is flagged and why, the old
format, the report, the overlap counts, the filtered datasets in the package's datasets, bad input."""
import csv
import hashlib
import json
import os
import os.path as osp
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.qc.qc_data import DEFECTS, PER_KIND

GEOMETRIC = ('outside_box', 'box_fill', 'rbox_iou', 'parts')


def _rows(work_dir):
    with open(osp.join(work_dir, 'qc', 'objects.csv'), encoding='utf-8') as f:
        return list(csv.DictReader(f))


def test_default_thresholds_catch_every_planted_defect_and_no_real_mask(qc_runs):
    planted = qc_runs['planted']
    rows = _rows(qc_runs['new']['work_dir'])
    assert len(rows) == 131 and len(planted) == len(DEFECTS) * PER_KIND == 24
    flagged = {int(r['id']): r['reasons'].split(';') for r in rows if r['flagged'] == '1'}
    assert set(flagged) == set(planted)  # catch rate 24 / 24, false flags 0 / 107
    for obj_id, kind in planted.items():
        assert DEFECTS[kind] in flagged[obj_id], (obj_id, kind, flagged[obj_id])
    summary = qc_runs['new']['summary']
    assert (summary['objects'], summary['flagged'], summary['signals_stored']) == (131, 24, 131)
    assert {r: v['flagged'] for r, v in summary['per_reason'].items()} == dict(
        low_score=4, unstable=4, leak=4, sliver=4, box_filled=4, rbox_mismatch=8, shattered=4)
    assert sum(v['flagged'] for v in summary['per_class'].values()) == 24
    assert summary['notes'] == []


def test_old_outputs_give_the_same_geometric_signals(qc_runs):
    new, old = _rows(qc_runs['new']['work_dir']), _rows(qc_runs['old']['work_dir'])
    assert [(r['image'], r['id']) for r in new] == [(r['image'], r['id']) for r in old]
    for a, b in zip(new, old):
        for key in GEOMETRIC + ('score', 'class', 'area'):
            assert a[key] == b[key], (a['id'], key)
        assert a['stability'] != '' and b['stability'] == ''
    summary = qc_runs['old']['summary']
    assert summary['signals_computed'] == 131 and summary['flagged'] == 20  # the 4 unstable ones are not seen
    assert any(n.startswith('rule unstable not applied: no object has stability') for n in summary['notes'])


def test_report_pages_and_index(qc_runs):
    summary = qc_runs['new']['summary']
    pages = summary['pages']
    assert [osp.basename(p) for p in pages['histograms']] == ['hist_all.png', 'hist_001.png', 'hist_002.png']
    assert [osp.basename(p) for p in pages['gallery']] == ['gallery_1.png']  # 24 flagged, 24 a page
    with open(pages['index'], encoding='utf-8') as f:
        page = f.read()
    for path in pages['histograms'] + pages['gallery']:
        assert f'src="{osp.basename(path)}"' in page
        with Image.open(path) as img:
            assert img.size[0] > 400
    assert len(summary['worst']) == 24 and {(w['image'], w['id']) for w in summary['worst']} == \
        {('P0005', k) for k in qc_runs['planted']}
    assert 'score_on_top' in page


def test_overlap_report_counts_what_each_rule_changes(qc_runs):
    from samrs_mm.annotate.outputs import OVERLAP_RULES, compose_semantic
    work_dir = qc_runs['new']['work_dir']
    with open(osp.join(work_dir, 'instances', 'P0005.json'), encoding='utf-8') as f:
        data = json.load(f)
    masks = [SimpleNamespace(rle=o['segmentation'], area=o['area'], bbox=o['bbox'], score=o['score'])
             for o in data['objects']]
    labels = [o['class_index'] for o in data['objects']]
    h, w = data['image']['height'], data['image']['width']
    written = np.asarray(Image.open(osp.join(work_dir, 'semantic', 'P0005.png')))
    expected = {rule: int((compose_semantic(masks, labels, h, w, rule) != written).sum()) for rule in OVERLAP_RULES}
    overlap = qc_runs['new']['summary']['overlap']
    assert overlap['run_rule'] == 'small_on_top' and overlap['changed_pixels'] == expected
    assert expected['large_on_top'] > 0 and overlap['labelled_pixels'] == int((written != 255).sum())


def test_apply_drop_writes_a_dataset_the_package_loads(qc_runs, monkeypatch):
    from mmdet.registry import DATASETS as DET
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS as SEG

    from samrs_mm.annotate.outputs import compose_semantic
    from samrs_mm.datasets import samrs_rotated
    work_dir, out = qc_runs['new']['work_dir'], qc_runs['new']['apply_dir']
    planted = qc_runs['planted']
    with open(osp.join(work_dir, 'instances', 'P0005.json'), encoding='utf-8') as f:
        objects = json.load(f)['objects']
    with open(osp.join(out, 'instances', 'P0005.json'), encoding='utf-8') as f:
        kept = json.load(f)['objects']
    assert [o['id'] for o in kept] == [o['id'] for o in objects if o['id'] not in planted]
    assert qc_runs['new']['summary']['apply']['removed_total'] == 24
    # The label is the kept masks recomposed: what the run would have written without the flagged ones.
    masks = [SimpleNamespace(rle=o['segmentation'], area=o['area'], bbox=o['bbox'], score=o['score']) for o in kept]
    expected = compose_semantic(masks, [o['class_index'] for o in kept], 977, 884, 'small_on_top')
    np.testing.assert_array_equal(np.asarray(Image.open(osp.join(out, 'semantic', 'P0005.png'))), expected)
    root = osp.dirname(out)
    monkeypatch.setenv('SAMRS_DATA_ROOT', root)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'samrs_sep.py'))
    init_default_scope('mmseg')
    sep = SEG.build(dict(cfg.sota_train, serialize_data=False))
    assert len(sep) == 1 and sep[0]['data_samples'].gt_sem_seg.data.shape[0] == 1
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'samrs_instance.py'))
    init_default_scope('mmdet')
    det = DET.build(dict(cfg.train_dataloader.dataset, serialize_data=False))
    assert len(det.get_data_info(0)['instances']) == 107
    assert len(det[0]['data_samples'].gt_instances) == 107
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'samrs_rotated.py'))
    init_default_scope('mmrotate')
    rot = samrs_rotated.DATASETS.build(dict(cfg.train_dataloader.dataset, serialize_data=False))
    assert len(rot[0]['data_samples'].gt_instances) == 107
    with open(osp.join(out, 'annotations.json'), encoding='utf-8') as f:
        coco = json.load(f)
    assert len(coco['annotations']) == 107 and all(a['iscrowd'] == 0 for a in coco['annotations'])


def test_apply_ignore_keeps_flagged_objects_as_ignored(qc_runs):
    from mmdet.registry import DATASETS as DET
    from mmengine.registry import init_default_scope
    out = qc_runs['old']['apply_dir']
    init_default_scope('mmdet')
    listed = DET.build(dict(type='SOTAInstanceDataset', data_root=out, ann_file='train.txt', serialize_data=False))
    flags = [inst['ignore_flag'] for inst in listed.get_data_info(0)['instances']]
    assert len(flags) == 131 and sum(flags) == 20
    coco = DET.build(dict(type='SOTAInstanceDataset', data_root=out, ann_file='annotations.json',
                          data_prefix=dict(img='images'), serialize_data=False))
    assert sum(inst['ignore_flag'] for inst in coco.get_data_info(0)['instances']) == 20
    # Flagged pixels are unlabeled (255) in the recomposed label.
    label = np.asarray(Image.open(osp.join(out, 'semantic', 'P0005.png')))
    original = np.asarray(Image.open(osp.join(qc_runs['old']['work_dir'], 'semantic', 'P0005.png')))
    assert (label == 255).sum() > (original == 255).sum()


def test_the_original_work_dir_is_untouched(qc_runs):
    work_dir = qc_runs['new']['work_dir']
    names = sorted(os.listdir(work_dir))
    assert names == ['annotations.json', 'images', 'instances', 'qc', 'semantic', 'summary.json', 'train.txt',
                     'val.txt'] or names == ['.tmp', 'annotations.json', 'images', 'instances', 'qc', 'semantic',
                                             'summary.json', 'train.txt', 'val.txt']
    with open(osp.join(work_dir, 'instances', 'P0005.json'), 'rb') as f:
        data = json.loads(f.read())
    assert len(data['objects']) == 131 and not any('ignore' in o for o in data['objects'])
    digest = hashlib.sha256(open(osp.join(work_dir, 'semantic', 'P0005.png'), 'rb').read()).hexdigest()
    old = hashlib.sha256(open(osp.join(qc_runs['old']['work_dir'], 'semantic', 'P0005.png'), 'rb').read()).hexdigest()
    assert digest == old  # the copy made before any QC run has the same bytes


def test_release_pickles_give_the_same_geometric_signals(qc_runs, tmp_path):
    from samrs_mm.qc import run_label_qc
    work_dir = qc_runs['old']['work_dir']
    release = tmp_path / 'sota'
    (release / 'ins').mkdir(parents=True)
    os.symlink(osp.join(work_dir, 'images'), release / 'images')
    with open(osp.join(work_dir, 'instances', 'P0005.json'), encoding='utf-8') as f:
        objects = json.load(f)['objects']
    entries = [dict(mask=o['segmentation'], category=o['class_name'], label=np.int64(o['class_index']),
                    bbox=np.asarray(o['hbox'], dtype=np.float32)) for o in objects]
    with open(release / 'ins' / 'P0005.pkl', 'wb') as f:
        pickle.dump(entries, f)
    summary = run_label_qc(str(release), pages=False, progress=False)
    assert summary['layout'] == 'release' and summary['objects'] == 131
    ours = {r['id']: r for r in _rows(work_dir)}
    for row in _rows(str(release)):
        assert row['score'] == '' and row['rbox_iou'] == ''  # no SAM score, no rotated box in an H-Box pickle
        for key in ('outside_box', 'parts'):
            assert float(row[key]) == pytest.approx(float(ours[row['id']][key]), abs=1e-6)
        # The pickle's float32 prompt box: the fill agrees to float32 rounding.
        assert float(row['box_fill']) == pytest.approx(float(ours[row['id']]['box_fill']), rel=1e-5)


def test_bad_work_dir_and_bad_config_key_are_one_line_errors(qc_runs, tmp_path, capsys):
    tool = qc_runs['tool']
    assert tool.main([str(tmp_path / 'missing')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {tmp_path / "missing"}: work dir not found']
    (tmp_path / 'empty').mkdir()
    assert tool.main([str(tmp_path / 'empty')]) == 2
    assert 'not a labelled folder' in capsys.readouterr().err
    config = tmp_path / 'thresholds.json'
    config.write_text(json.dumps(dict(max_part=3)))
    assert tool.main([qc_runs['old']['work_dir'], '--config', str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown threshold 'max_part'" in err[0] and 'max_parts' in err[0]
    assert str(config) in err[0]
    config.write_text('min_stability = "high"\n')
    py = tmp_path / 'thresholds.py'
    py.write_text('min_stability = "high"\n')
    assert tool.main([qc_runs['old']['work_dir'], '--config', str(py)]) == 2
    assert "threshold 'min_stability' must be a number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        tool.main([qc_runs['old']['work_dir'], '--apply-mode', 'erase'])
    assert exc.value.code == 2
    assert "invalid choice: 'erase'" in capsys.readouterr().err


def test_thresholds_file_changes_the_flags(qc_runs, tmp_path):
    from samrs_mm.qc import load_thresholds, run_label_qc
    py = tmp_path / 'strict.py'
    py.write_text('min_box_fill = None\nmax_parts = 1000\n')
    thresholds = load_thresholds(str(py))
    summary = run_label_qc(qc_runs['new']['work_dir'], str(tmp_path / 'qc'), thresholds, pages=False, progress=False)
    reasons = {r: v['flagged'] for r, v in summary['per_reason'].items()}
    assert reasons['sliver'] == 0 and reasons['shattered'] == 0 and summary['flagged'] == 20
    assert 'rule sliver is switched off (min_box_fill = None)' in summary['notes']


def test_summary_line_names_the_report(qc_runs):
    line = qc_runs['tool'].summary_line(qc_runs['new']['summary'])
    assert line.startswith('[label_qc] 1 images, 131 objects, 24 flagged (18.3%: low_score 4, unstable 4, leak 4')
    assert line.endswith(f"report: {qc_runs['new']['summary']['pages']['index']}")
