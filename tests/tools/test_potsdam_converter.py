"""tools/dataset_converters/potsdam.py on a tiny archive in the official ISPRS layout."""
import importlib.util
import json
import os
import os.path as osp
import sys
import zipfile

import cv2
import numpy as np
import pytest

from tests.conftest import REPO_ROOT, run_tool

TOOL = osp.join('tools', 'dataset_converters', 'potsdam.py')
# Tiny tiles: 80 rows x 100 columns, cropped 32 x 32 at stride 20.
H, W, CROP, STRIDE = 80, 100, 32, 20
X_STARTS, Y_STARTS = [0, 20, 40, 60, 68], [0, 20, 40, 48]
ODD_COLOUR = (10, 20, 30)


def _load_common():
    path = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'converter_common.py')
    spec = importlib.util.spec_from_file_location('converter_common_under_test', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _tile_pair(seed):
    """An RGB tile and its colour label with every ISPRS colour, a boundary and odd pixels."""
    rng = np.random.default_rng(seed)
    image_rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    label_rgb = np.zeros((H, W, 3), np.uint8)
    colours = [(255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0),
               (255, 0, 0)]
    for index, colour in enumerate(colours):  # six vertical bands of 16 columns
        label_rgb[:, index * 16:(index + 1) * 16] = colour
    label_rgb[:, 96:] = (0, 0, 0)             # boundary (noBoundary release)
    label_rgb[0:2, 0:3] = ODD_COLOUR          # 6 pixels of a colour outside the legend
    return image_rgb, label_rgb


def _tif_bytes(rgb):
    ok, data = cv2.imencode('.tif', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def make_potsdam_release(root, tiles=('2_10', '6_7', '2_13', '9_9')):
    """Write 2_Ortho_RGB.zip and 5_Labels_all_noBoundary.zip as ISPRS ships them."""
    os.makedirs(root, exist_ok=True)
    pairs = {}
    with zipfile.ZipFile(osp.join(root, '2_Ortho_RGB.zip'), 'w') as images, \
            zipfile.ZipFile(osp.join(root, '5_Labels_all_noBoundary.zip'), 'w') as labels:
        for seed, tile in enumerate(tiles):
            image_rgb, label_rgb = _tile_pair(seed)
            pairs[tile] = (image_rgb, label_rgb)
            images.writestr(f'2_Ortho_RGB/top_potsdam_{tile}_RGB.tif', _tif_bytes(image_rgb))
            images.writestr(f'2_Ortho_RGB/top_potsdam_{tile}_RGB.tfw', 'world file\n')
            labels.writestr(f'top_potsdam_{tile}_label_noBoundary.tif', _tif_bytes(label_rgb))
    return pairs


def _convert(src, out, *extra, check=True):
    return run_tool([TOOL, src, '-o', out, '--crop-size', str(CROP), '--stride', str(STRIDE),
                     *extra], check=check, timeout=300)


def _names(out, kind, split):
    return sorted(os.listdir(osp.join(out, kind, split)))


def test_window_counts_match_the_paper():
    common = _load_common()
    assert common.window_starts(H, CROP, STRIDE) == Y_STARTS
    assert common.window_starts(W, CROP, STRIDE) == X_STARTS
    starts = common.window_starts(6000, 512, 320)
    assert len(starts) == 19 and starts[-1] == 6000 - 512 and starts[:2] == [0, 320]
    per_tile = len(common.crop_boxes(6000, 6000, 512, 320))
    assert per_tile == 361
    assert 24 * per_tile == 8664 and 14 * per_tile == 5054  # SAMRS A.6 crop counts
    assert common.window_starts(20, 32, 20) == [0]  # smaller than a crop: one padded window


def test_converts_official_layout(tmp_path):
    src, out = str(tmp_path / 'potsdam_release'), str(tmp_path / 'potsdam')
    pairs = make_potsdam_release(src)
    proc = _convert(src, out, '--nproc', '2')
    assert 'summary' in proc.stdout
    assert 'tiles outside the standard split' in proc.stdout  # 9_9 is reported, not converted
    assert '22 of 24 train tiles not found' in proc.stdout

    train, val = _names(out, 'img_dir', 'train'), _names(out, 'img_dir', 'val')
    assert len(train) == 2 * len(X_STARTS) * len(Y_STARTS) == 40
    assert len(val) == 20
    assert _names(out, 'ann_dir', 'train') == train
    assert '2_10_68_48_100_80.png' in train and '6_7_0_0_32_32.png' in train
    assert all(name.startswith('2_13_') for name in val)

    # The image crop is the exact tile region (lossless), in RGB order.
    image_rgb, _ = pairs['2_10']
    crop = cv2.cvtColor(cv2.imread(osp.join(out, 'img_dir', 'train', '2_10_68_48_100_80.png')),
                        cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(crop, image_rgb[48:80, 68:100])

    # Labels: mmseg's Potsdam values (0 ignore, 1..6), boundary and odd colours -> 0.
    label = cv2.imread(osp.join(out, 'ann_dir', 'train', '2_10_0_0_32_32.png'), cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and label.shape == (32, 32)
    assert (label[0:2, 0:3] == 0).all()                    # unknown colour
    assert (label[2:, 0:16] == 1).all()                    # impervious surface
    assert (label[:, 16:32] == 2).all()                    # building
    far = cv2.imread(osp.join(out, 'ann_dir', 'train', '2_10_68_0_100_32.png'), cv2.IMREAD_UNCHANGED)
    # Columns 68..99 cross the car band (64-79), the clutter band (80-95) and the boundary.
    expected = np.zeros(32, np.uint8)
    for column in range(68, 100):
        expected[column - 68] = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6}.get(column // 16, 0)
    np.testing.assert_array_equal(far[5], expected)
    assert set(np.unique(far[5]).tolist()) == {5, 6, 0}    # car, clutter, boundary

    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['train']['crops'] == 40 and summary['splits']['val']['crops'] == 20
    assert summary['failures'] == {}
    assert 'pixels of unknown colour' in proc.stdout


def test_resume_skips_finished_tiles_and_refills_missing_crops(tmp_path):
    src, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    make_potsdam_release(src, tiles=('2_10', '2_13'))
    _convert(src, out, '--nproc', '1')
    before = os.path.getmtime(osp.join(out, 'img_dir', 'train', '2_10_0_0_32_32.png'))
    os.remove(osp.join(out, 'ann_dir', 'val', '2_13_20_20_52_52.png'))

    proc = _convert(src, out, '--nproc', '1')
    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['train']['written'] == 0 and summary['splits']['train']['reused'] == 20
    assert summary['splits']['val']['written'] == 1 and summary['splits']['val']['crops'] == 20
    assert osp.isfile(osp.join(out, 'ann_dir', 'val', '2_13_20_20_52_52.png'))
    assert os.path.getmtime(osp.join(out, 'img_dir', 'train', '2_10_0_0_32_32.png')) == before
    assert not [n for n in os.listdir(osp.join(out, 'img_dir', 'train')) if '.part' in n]
    assert proc.returncode == 0

    # Resuming with other crop settings would mix two protocols: refused, named.
    other = run_tool([TOOL, src, '-o', out, '--crop-size', '32', '--stride', '16'], check=False)
    assert other.returncode == 2
    assert 'stride' in other.stderr and '.conversion_settings.json' in other.stderr


def test_bad_inputs_fail_clearly(tmp_path):
    src, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    make_potsdam_release(src, tiles=('2_10',))
    strict = _convert(src, out, '--strict', check=False)
    assert strict.returncode == 1
    assert 'top_potsdam_2_10_label_noBoundary.tif' in strict.stdout
    assert 'outside the ISPRS legend' in strict.stdout and '(10, 20, 30)' in strict.stdout

    # A corrupt tile fails alone; the good one is converted; exit status says so.
    broken = str(tmp_path / 'broken')
    make_potsdam_release(broken, tiles=('2_11',))
    with zipfile.ZipFile(osp.join(broken, '2_Ortho_RGB.zip'), 'a') as images:
        images.writestr('2_Ortho_RGB/top_potsdam_2_12_RGB.tif', b'not a tiff')
    with zipfile.ZipFile(osp.join(broken, '5_Labels_all_noBoundary.zip'), 'a') as labels:
        labels.writestr('top_potsdam_2_12_label_noBoundary.tif', _tif_bytes(_tile_pair(3)[1]))
    proc = _convert(broken, str(tmp_path / 'out2'), '--nproc', '2', check=False)
    assert proc.returncode == 1
    assert 'FAILED train/2_12' in proc.stdout and 'top_potsdam_2_12_RGB.tif' in proc.stdout
    assert len(_names(str(tmp_path / 'out2'), 'img_dir', 'train')) == 20

    empty = run_tool([TOOL, str(tmp_path / 'out2' / 'img_dir'), '-o', str(tmp_path / 'o3')],
                     check=False)
    assert empty.returncode == 2 and 'no Potsdam tile found' in empty.stderr


@pytest.mark.parametrize('labels', ['all'])
def test_full_label_release(tmp_path, labels):
    src, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    os.makedirs(src)
    image_rgb, label_rgb = _tile_pair(0)
    # Extracted files instead of archives, the 5_Labels_all naming.
    os.makedirs(osp.join(src, '2_Ortho_RGB'))
    cv2.imwrite(osp.join(src, '2_Ortho_RGB', 'top_potsdam_7_13_RGB.tif'),
                cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(osp.join(src, 'top_potsdam_7_13_label.tif'), cv2.cvtColor(label_rgb, cv2.COLOR_RGB2BGR))
    _convert(src, out, '--labels', labels, '--splits', 'val')
    assert len(_names(out, 'ann_dir', 'val')) == 20
    assert not osp.isdir(osp.join(out, 'img_dir', 'train'))


def test_extracted_copy_beside_the_archive(tmp_path):
    src, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    pairs = make_potsdam_release(src, tiles=('2_10',))
    # The user also extracted the RGB archive, with a modified tile: the extracted file wins.
    os.makedirs(osp.join(src, '2_Ortho_RGB'))
    changed = pairs['2_10'][0] // 2
    cv2.imwrite(osp.join(src, '2_Ortho_RGB', 'top_potsdam_2_10_RGB.tif'),
                cv2.cvtColor(changed, cv2.COLOR_RGB2BGR))
    _convert(src, out)
    crop = cv2.cvtColor(cv2.imread(osp.join(out, 'img_dir', 'train', '2_10_0_0_32_32.png')),
                        cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(crop, changed[:32, :32])
    # Two archives holding the same tile are ambiguous.
    with zipfile.ZipFile(osp.join(src, 'more_RGB.zip'), 'w') as extra:
        extra.writestr('top_potsdam_2_10_RGB.tif', _tif_bytes(changed))
    os.remove(osp.join(src, '2_Ortho_RGB', 'top_potsdam_2_10_RGB.tif'))
    twice = _convert(src, str(tmp_path / 'out2'), check=False)
    assert twice.returncode == 2 and '2_10 found twice' in twice.stderr


def _tool_main():
    spec = importlib.util.spec_from_file_location('potsdam_under_test', osp.join(REPO_ROOT, TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_kill_9_leaves_no_worker_and_no_stuck_folder(tmp_path, capsys):
    """A worker waits on tile 6_7 (a named pipe) while the others are cut; after kill -9 no
    process of the run lives on, and the rerun takes the output folder and finishes."""
    import signal

    from tests.conftest import blocking_file, group_processes, kill_group, start_tool, survivors, wait_for
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    for seed, tile in enumerate(('2_10', '6_7', '2_13')):
        image_rgb, label_rgb = _tile_pair(seed)
        (src / f'top_potsdam_{tile}_RGB.tif').write_bytes(_tif_bytes(image_rgb))
        (src / f'top_potsdam_{tile}_label_noBoundary.tif').write_bytes(_tif_bytes(label_rgb))
    args = [str(src), '-o', str(out), '--crop-size', str(CROP), '--stride', str(STRIDE), '--nproc', '2']
    done = [out / '.done' / 'train' / '2_10.json', out / '.done' / 'val' / '2_13.json']
    with blocking_file(str(src / 'top_potsdam_6_7_RGB.tif')):
        proc = start_tool([TOOL] + args, str(tmp_path / 'log'))
        try:
            wait_for(lambda: all(p.exists() for p in done), proc, what='two tiles cut')
            group = group_processes(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            left = survivors(proc.pid)
        finally:
            kill_group(proc.pid)
            proc.wait()
    assert len(group) == 3 and left == []  # the tool and its two workers, all gone
    assert (out / '.samrs_mm.lock').exists()  # left by the killed run, taken over below
    assert _tool_main()(args[:-1] + ['1']) == 0  # one process: this module's workers would not unpickle
    stdout = capsys.readouterr().out
    assert 'train      2 tiles ->     40 crops (20 written, 20 already there), 0 failed' in stdout
    assert not (out / '.samrs_mm.lock').exists()


def test_bad_option_is_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _tool_main()([str(tmp_path), '-o', str(tmp_path / 'out'), '--stride', '0'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == 'potsdam.py: error: --stride: got 0; valid: an int >= 1 (see --help)\n'
    assert not (tmp_path / 'out').exists()
