"""tools/prompt_ablation.py on the real iSAID sample (131 instances with masks)."""
import csv
import os.path as osp

import numpy as np
import pytest

from tests.conftest import run_tool

TOOL = 'tools/prompt_ablation.py'


def write_isaid_config(path, shared_data, engine):
    with open(path, 'w') as f:
        f.write(f"source = dict(type='isaid', img_dir={osp.join(shared_data, 'isaid', 'train')!r}, "
                f"class_list='sota')\nengine = {engine}\n")
    return str(path)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def independent_box_rows(shared_data):
    """(I, U) of every instance for filled H-Box and RH-Box regions, computed without the engine."""
    from samrs_mm.sources import build_source
    from samrs_mm.structures.boxes import rbox_to_hbox
    record = build_source(dict(type='isaid', img_dir=osp.join(shared_data, 'isaid', 'train')))[0]
    rows = {'hbox': [], 'rhbox': []}
    for inst in record.instances:
        gt = inst.decode_mask()
        for kind, (x1, y1, x2, y2) in (('hbox', inst.hbox), ('rhbox', rbox_to_hbox(inst.rbox))):
            # Pixel (i, j) is filled when its centre lies in [x1, x2) x [y1, y2).
            cols = (np.arange(gt.shape[1]) + 0.5 >= x1) & (np.arange(gt.shape[1]) + 0.5 < x2)
            rows_in = (np.arange(gt.shape[0]) + 0.5 >= y1) & (np.arange(gt.shape[0]) + 0.5 < y2)
            fill = rows_in[:, None] & cols[None, :]
            inter = int((fill & gt).sum())
            rows[kind].append((inter, int(fill.sum()) + int(gt.sum()) - inter))
    return {k: np.array(v, dtype=np.float64) for k, v in rows.items()}


def test_box_rows_match_an_independent_computation(shared_data, tmp_path):
    cfg = write_isaid_config(tmp_path / 'cfg.py', shared_data, "dict(backend='box')")
    proc = run_tool([TOOL, cfg, '--out-dir', str(tmp_path / 'out'), '--box-regions', 'hbox', 'rhbox', 'rbox',
                     '--no-progress'])
    assert 'only the box rows run' in proc.stdout
    rows = read_csv(tmp_path / 'out' / 'prompt_ablation.csv')
    assert [r['row'] for r in rows] == ['box: H-Box', 'box: RH-Box', 'box: R-Box']
    assert all(int(r['instances']) == 131 and int(r['images']) == 1 for r in rows)
    expected = independent_box_rows(shared_data)
    for row, kind in zip(rows[:2], ('hbox', 'rhbox')):
        iu = expected[kind]
        assert float(row['mIoU_I']) == pytest.approx(100 * np.mean(iu[:, 0] / iu[:, 1]), rel=1e-12)
        assert float(row['mIoU_P']) == pytest.approx(100 * iu[:, 0].sum() / iu[:, 1].sum(), rel=1e-12)
    # A rotated box hugs the objects more tightly than its horizontal hull.
    assert float(rows[2]['mIoU_I']) > float(rows[1]['mIoU_I'])
    markdown = (tmp_path / 'out' / 'prompt_ablation.md').read_text()
    assert '| box: H-Box | box fill |' in markdown
    assert '| Prompt | Method | mIoU_I (%) | mIoU_P (%) | Instances |' in markdown


def test_tiny_sam_table_shape(shared_data, tmp_path):
    """Every row of the paper's table with a random-weight SAM (numbers meaningless), on the first
    3 objects: random masks cover much of the image, so all 131 would take minutes on CPU."""
    engine = ("dict(backend='segment_anything', model_type='tiny_test', random_init=True, device='cpu', "
              "prompt_batch_size=64)")
    cfg = write_isaid_config(tmp_path / 'cfg.py', shared_data, engine)
    run_tool([TOOL, cfg, '--out-dir', str(tmp_path / 'out'), '--no-progress', '--max-objects', '3'])
    rows = read_csv(tmp_path / 'out' / 'prompt_ablation.csv')
    assert [r['row'] for r in rows] == [
        'CP', 'H-Box', 'RH-Box', 'H-Box-M', 'R-Box-M', 'RH-Box-M', 'H-Box + CP', 'RH-Box + CP',
        'H-Box + H-Box-M', 'RH-Box + RH-Box-M', 'RH-Box + R-Box-M', 'CP + R-Box-M',
        'box: H-Box', 'box: RH-Box', 'box: R-Box']
    assert [r['method'] for r in rows] == ['sam'] * 12 + ['box'] * 3
    assert [r['prompt'] for r in rows[:7]] == ['cp', 'hbox', 'rhbox', 'hbox_mask', 'rbox_mask', 'rhbox_mask',
                                               'hbox+cp']
    for r in rows:
        assert int(r['instances']) == 3 and int(r['images']) == 1
        assert 0.0 <= float(r['mIoU_I']) <= 100.0 and 0.0 <= float(r['mIoU_P']) <= 100.0
    # The box rows in the same table are right for those 3 objects.
    expected = independent_box_rows(shared_data)
    for row, kind in zip(rows[12:14], ('hbox', 'rhbox')):
        iu = expected[kind][:3]
        assert float(row['mIoU_I']) == pytest.approx(100 * np.mean(iu[:, 0] / iu[:, 1]), rel=1e-12)
        assert float(row['mIoU_P']) == pytest.approx(100 * iu[:, 0].sum() / iu[:, 1].sum(), rel=1e-12)
    lines = (tmp_path / 'out' / 'prompt_ablation.md').read_text().splitlines()
    assert len([line for line in lines if line.startswith('| ') and 'Prompt' not in line]) == 15


def test_source_without_masks_is_an_error(shared_data, tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"source = dict(type='dota', ann_dir={osp.join(shared_data, 'dota', 'labelTxt')!r}, "
                   f"img_dir={osp.join(shared_data, 'dota', 'images')!r}, class_list='sota')\n"
                   "engine = dict(backend='box')\n")
    proc = run_tool([TOOL, str(cfg), '--out-dir', str(tmp_path / 'out'), '--no-progress'], check=False)
    assert proc.returncode == 1
    assert 'no object with a ground-truth mask' in proc.stderr and '536 objects without masks' in proc.stderr


def test_families_side_by_side(shared_data, tmp_path, capsys):
    """--models: every prompt row for each SAM family's model (random test weights, numbers meaningless)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('prompt_ablation_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    engine = "dict(backend='segment_anything', model_type='tiny_test', random_init=True, device='cpu')"
    cfg = write_isaid_config(tmp_path / 'cfg.py', shared_data, engine)
    models = ['segment_anything:tiny_test', 'sam_hq:tiny_test', 'sam2:tiny_test', 'sam3:tiny_test']
    assert tool.main([cfg, '--out-dir', str(tmp_path / 'out'), '--no-progress', '--max-objects', '2',
                      '--prompts', 'hbox', 'cp', '--box-regions', 'hbox', '--models', *models]) == 0
    rows = read_csv(tmp_path / 'out' / 'prompt_ablation.csv')
    assert [(r['model'], r['row']) for r in rows] == [(m, p) for m in models for p in ('H-Box', 'CP')] + \
        [('', 'box: H-Box')]
    assert all(int(r['instances']) == 2 for r in rows)
    markdown = (tmp_path / 'out' / 'prompt_ablation.md').read_text()
    for label in ('| H-Box | SAM tiny_test |', '| CP | HQ-SAM tiny_test |', '| H-Box | SAM 2.1 tiny_test |',
                  '| CP | SAM 3 tiny_test |', '| box: H-Box | box fill |'):
        assert label in markdown
    assert 'SAM tiny_test, HQ-SAM tiny_test, SAM 2.1 tiny_test, SAM 3 tiny_test' in markdown
    # A malformed model is a one-line error.
    assert tool.main([cfg, '--models', 'sam2']) == 2
    assert '--models takes BACKEND:MODEL_TYPE[=CHECKPOINT]' in capsys.readouterr().err
