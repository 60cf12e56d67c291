"""tools/dataset_stats.py (Figures 5 and 6) and tools/visualize_labels.py (Figure 4) on known labels."""
import csv

import cv2
import pytest

from tests.annotate.annotate_data import write_config, write_dota_dataset
from tests.conftest import REPO_ROOT, run_tool


def tool_main(name):
    """``main`` of a tools/ script, loaded in this process (each tool start costs seconds)."""
    import importlib.util
    import os.path as osp
    spec = importlib.util.spec_from_file_location(f'tool_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope='module')
def labelled(tmp_path_factory):
    """Box-backend labels of 3 synthetic images: per image a plane (50x38) with a small
    vehicle (14x10) on it and a ship (40x40)."""
    root = tmp_path_factory.mktemp('stats')
    data = write_dota_dataset(str(root / 'data'), n_images=3)
    work = root / 'sota'
    run_tool(['tools/samrs_annotate.py', write_config(str(root / 'cfg.py'), data, str(work))])
    return root, work


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_class_and_size_tables(labelled):
    root, work = labelled
    out = root / 'stats'
    run_tool(['tools/dataset_stats.py', str(work), '--out-dir', str(out)])
    rows = {r['class']: r for r in read_csv(out / 'sota_classes.csv')}
    assert len(rows) == 19  # 18 SOTA classes + unlabeled
    # The small vehicle covers 140 px of the plane (smaller on top).
    assert (rows['plane']['pixels'], rows['small-vehicle']['pixels'], rows['ship']['pixels']) == ('5280', '420', '4800')
    assert rows['unlabeled']['pixels'] == str(3 * 96 * 128 - 10500)
    assert (rows['plane']['instances'], rows['ship']['instances'], rows['harbor']['instances']) == ('3', '3', '0')
    assert float(rows['ship']['pixel_share']) == pytest.approx(4800 / (3 * 96 * 128))
    sizes = {r['bin']: r for r in read_csv(out / 'sota_mask_sizes.csv')}
    # sqrt(1900) = 43.6 and sqrt(1600) = 40 fall in 32-64; sqrt(140) = 11.8 in 8-16.
    assert sizes['32-64']['masks'] == '6' and sizes['8-16']['masks'] == '3'
    assert sum(int(r['masks']) for k, r in sizes.items() if not k.startswith('coco')) == 9
    coco = [sizes[f'coco-{k}']['masks'] for k in ('small', 'medium', 'large')]
    assert coco == ['3', '6', '0']
    for name in ('sota_fig5_classes.png', 'sota_fig6_mask_sizes.png'):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100


def test_wrong_class_list_is_refused(labelled, capsys):
    root, work = labelled
    assert tool_main('dataset_stats')([str(work), '--out-dir', str(root / 'x'), '--classes', 'a,b']) == 2
    assert 'wrong --classes?' in capsys.readouterr().err


def test_visualize_three_panels(labelled):
    root, work = labelled
    out = root / 'vis'
    proc = run_tool(['tools/visualize_labels.py', str(work), '--stems', 'img01', '--out-dir', str(out)])
    assert 'img01.png' in proc.stdout
    picture = cv2.imread(str(out / 'img01.png'))
    # Three 128-px panels with two 8-px gaps, above a legend strip.
    assert picture.shape[1] == 3 * 128 + 16 and picture.shape[0] > 96
    colour_panel = cv2.imread(str(work / 'color' / 'img01.png'))
    assert (picture[:96, 2 * 136:] == colour_panel).all()

def test_visualize_unknown_stem(labelled, capsys):
    root, work = labelled
    assert tool_main('visualize_labels')([str(work), '--stems', 'nope', '--out-dir', str(root / 'vis')]) == 2
    assert "no labels for ['nope']" in capsys.readouterr().err


def test_stats_bad_option_and_a_stop_signal(labelled, capsys, monkeypatch):
    import importlib.util
    import os
    import os.path as osp
    import signal
    root, work = labelled
    path = osp.join(REPO_ROOT, 'tools', 'dataset_stats.py')
    spec = importlib.util.spec_from_file_location('dataset_stats_tool', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(work), '--out-dir', str(root / 'y'), '--classes', 'foo'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count('\n') == 1
    assert err.startswith("dataset_stats.py: error: --classes: 'foo' is not a class list name (fast, sior, sota)")
    # SIGTERM while the first subset is counted: status 143, no half-written table, folder free.
    counting = tool.count_pixels

    def interrupted(*args):
        signal.raise_signal(signal.SIGTERM)
        return counting(*args)
    monkeypatch.setattr(tool, 'count_pixels', interrupted)
    assert tool.main([str(work), '--out-dir', str(root / 'z')]) == 128 + signal.SIGTERM
    assert '[dataset_stats] interrupted by SIGTERM after 0 of 1 subsets (none complete)' in capsys.readouterr().err
    assert os.listdir(root / 'z') == []
