"""tools/split_images.py: one real subprocess run, the other cases through ``main(argv)``.

Starting the tool costs an ``import samrs_mm`` (mmseg, mmdet: seconds), so only the first test
pays for a subprocess; the rest call the same ``main`` in-process.
"""
import importlib.util
import os
import os.path as osp

import pytest

from tests.conftest import REPO_ROOT, run_tool

TOOL = 'tools/split_images.py'
P0706_LABELS = ['P0706__1024__0___0.txt', 'P0706__1024__0___158.txt', 'P0706__1024__87___0.txt',
                'P0706__1024__87___158.txt']


@pytest.fixture(scope='module')
def tool():
    """The tool's module, imported from its file."""
    spec = importlib.util.spec_from_file_location('split_images_tool', osp.join(REPO_ROOT, TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_tool_subprocess_dota_preset(shared_data, tmp_path):
    out = str(tmp_path / 'out')
    proc = run_tool([TOOL, '--source', 'dota', '--ann-dir', osp.join(shared_data, 'dota/labelTxt'),
                     '--out-dir', out, '--preset', 'dota-v2', '--nproc', '2', '--no-progress'],
                    timeout=300)
    assert ('(1024x1024, gap 200, shift windows, rates [1.0] (resize), iof >= 0.7, cut objects: fit, 2 processes)'
            in proc.stdout)
    assert 'patches: 4 written' in proc.stdout
    assert 'objects: 536 = 535 kept whole + 1 only clipped' in proc.stdout
    assert sorted(os.listdir(osp.join(out, 'labelTxt'))) == P0706_LABELS


def test_split_tool_resume(tool, shared_data, tmp_path, capsys):
    args = ['--source', 'dota', '--ann-dir', osp.join(shared_data, 'dota/labelTxt'),
            '--out-dir', str(tmp_path), '--preset', 'dota-v2', '--no-progress']
    assert tool.main(args) == 0
    assert tool.main(args) == 0
    out = capsys.readouterr().out
    assert 'images: 1 (resumed 1)' in out and 'patches: 0 written, 4 already there' in out
    assert sorted(os.listdir(tmp_path / 'labelTxt')) == P0706_LABELS


def test_split_tool_config_file(tool, shared_data, tmp_path, capsys):
    cfg = tmp_path / 'split_cfg.py'
    cfg.write_text(
        f"source = dict(type='voc', ann_dir={osp.join(shared_data, 'deepforest')!r}, "
        f"img_dir={osp.join(shared_data, 'deepforest')!r})\n"
        "split = dict(patch_size=256, gap=112, iof_thr=0.5)\n")
    out = tmp_path / 'out'
    assert tool.main(['--config', str(cfg), '--out-dir', str(out), '--no-progress']) == 0
    stdout = capsys.readouterr().out
    assert '256x256, gap 112' in stdout and 'iof >= 0.5' in stdout
    # 400 px with 256 / gap 112: starts 0 and 144 on each axis.
    assert sorted(os.listdir(out / 'images')) == [
        'OSBS_029__256__0___0.png', 'OSBS_029__256__0___144.png', 'OSBS_029__256__144___0.png',
        'OSBS_029__256__144___144.png']
    assert 'objects: 61 =' in stdout
    # Options override the config file.
    assert tool.main(['--config', str(cfg), '--out-dir', str(tmp_path / 'o2'), '--gap', '0',
                      '--no-progress']) == 0
    assert 'gap 0' in capsys.readouterr().out


def test_split_tool_exit_status_on_bad_input(tool, tmp_path, capsys):
    ann_dir = tmp_path / 'labelTxt'
    ann_dir.mkdir()
    (tmp_path / 'images').mkdir()
    (ann_dir / 'x.txt').write_text('1 1 9 1 9 9 1 9 plane 0\n')
    assert tool.main(['--source', 'dota', '--ann-dir', str(ann_dir), '--out-dir',
                      str(tmp_path / 'out'), '--no-progress']) == 1
    assert f'FAILED image #0: {ann_dir / "x.txt"}: no image for this annotation' in \
        capsys.readouterr().out
    assert tool.main(['--source', 'dota', '--ann-dir', str(tmp_path / 'missing'), '--out-dir',
                      str(tmp_path / 'out')]) == 2
    assert 'DOTA annotation folder not found' in capsys.readouterr().err
    assert tool.main(['--out-dir', str(tmp_path / 'out')]) == 2
    assert 'error: --source: not given; valid: coco, dior, dota' in capsys.readouterr().err


def test_split_tool_bad_options_are_one_line_exit_2(tool, tmp_path, capsys):
    out = tmp_path / 'out'
    base = ['--source', 'dota', '--ann-dir', str(tmp_path), '--out-dir', str(out)]
    for extra, message in (
            (['--class-list', 'foo'], "split_images.py: error: --class-list: 'foo' is not a class list name (fast, "
                                      "sior, sota) nor a comma-separated list of class names (one class: 'foo,')"),
            (['--nproc', '0'], 'split_images.py: error: --nproc: got 0; valid: an int >= 1')):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(base + extra)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith(message) and err.count('\n') == 1, err
    assert not out.exists()


def test_split_tool_one_class_list_and_duplicate_stems(tool, tmp_path, capsys):
    from tests.annotate.annotate_data import write_coco_with_duplicate_stems, write_dota_dataset
    data = write_dota_dataset(str(tmp_path / 'data'), n_images=1)
    # 'plane,' is the one-class list ['plane'] (a single word must be a SAMRS list name).
    assert tool.main(['--source', 'dota', '--ann-dir', f'{data}/labelTxt', '--class-list', 'plane,',
                      '--skip-unknown', '--out-dir', str(tmp_path / 'one'), '--patch-size', '128', '--gap', '0',
                      '--no-progress']) == 0
    lines = (tmp_path / 'one' / 'labelTxt' / 'img00__128__0___0.txt').read_text().splitlines()
    assert [line.split()[8] for line in lines if len(line.split()) == 10] == ['plane']
    capsys.readouterr()
    coco = write_coco_with_duplicate_stems(str(tmp_path / 'coco'))
    assert tool.main(['--source', 'coco', '--ann-file', coco['ann_file'], '--out-dir', str(tmp_path / 'two'),
                      '--nproc', '2', '--no-progress']) == 2
    assert capsys.readouterr().err == (
        f'error: 1 source image(s) share a file stem with another, so their outputs would overwrite each other: '
        f'{tmp_path}/coco/a.png and {tmp_path}/coco/a.jpg; give every image a unique file name\n')
    assert not (tmp_path / 'two').exists()


def test_split_tool_sigterm_keeps_finished_images_and_leaves_no_worker(tool, tmp_path, capsys):
    """A worker waits on img02 (a named pipe) while the other three images are split; SIGTERM
    then stops the run with a summary saying so, and the rerun finishes."""
    import json
    import signal

    from tests.annotate.annotate_data import write_dota_dataset
    from tests.conftest import blocking_file, group_processes, kill_group, start_tool, survivors, wait_for
    data = write_dota_dataset(str(tmp_path / 'data'), n_images=4)
    out = tmp_path / 'out'
    args = ['--source', 'dota', '--ann-dir', f'{data}/labelTxt', '--out-dir', str(out), '--patch-size', '64',
            '--gap', '0', '--nproc', '2', '--no-progress']
    manifests = out / 'split_manifest'
    with blocking_file(f'{data}/labelTxt/img02.txt'):
        proc = start_tool([TOOL] + args, str(tmp_path / 'log'))
        try:
            # Manifests only: a file being written sits beside its target under a temporary name.
            wait_for(lambda: len(list(manifests.glob('*.json'))) == 3, proc, what='three images split')
            group = group_processes(proc.pid)
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=120)
        finally:
            kill_group(proc.pid)
            proc.wait()
        assert len(group) == 3  # the tool and its two workers
        assert status == 128 + signal.SIGTERM and survivors(proc.pid) == []
    summary = json.loads((out / 'split_summary.json').read_text())
    assert summary['complete'] is False
    assert summary['stopped'] == dict(reason='interrupted', detail='interrupted by SIGTERM', exit_status=143)
    # The third image's result may still have been on its way to the tool when SIGTERM came.
    assert summary['images'] in (2, 3) and summary['images'] + summary['not_reached'] == 4
    stdout = (tmp_path / 'log' / 'stdout').read_text()
    assert f'STOPPED (interrupted by SIGTERM): {summary["not_reached"]} image(s) not reached' in stdout
    assert tool.main(args) == 0
    rerun = capsys.readouterr().out
    assert 'images: 4 (done 1, resumed 3)' in rerun, rerun


def test_split_tool_padding_value_means_what_mmrotate_means(tool, shared_data, tmp_path, capsys):
    """--padding-value takes mmrotate's order (OpenCV's B G R); --pad-value (R G B) still works, with a warning."""
    import cv2
    import numpy as np
    base = ['--source', 'isaid', '--img-dir', osp.join(shared_data, 'isaid/train'), '--patch-size', '1024',
            '--gap', '0', '--no-progress']
    assert tool.main(base + ['--out-dir', str(tmp_path / 'a'), '--padding-value', '104', '116', '124']) == 0
    patch = cv2.imread(str(tmp_path / 'a' / 'images' / 'P0005__1024__0___0.png'))  # 884 x 977, padded
    assert patch.shape == (1024, 1024, 3)
    assert (patch[977:] == [104, 116, 124]).all() and (patch[:, 884:] == [104, 116, 124]).all()
    capsys.readouterr()
    assert tool.main(base + ['--out-dir', str(tmp_path / 'b'), '--pad-value', '124', '116', '104']) == 0
    assert capsys.readouterr().err == ("split_images.py: warning: --pad-value is deprecated (it takes R G B; "
                                       "mmrotate's --padding-value takes B G R): use --padding-value 104 116 124\n")
    assert (tmp_path / 'a' / 'images' / 'P0005__1024__0___0.png').read_bytes() == \
        (tmp_path / 'b' / 'images' / 'P0005__1024__0___0.png').read_bytes()
    for extra, message in ((['--padding-value', '7', '--pad-value', '7'],
                            'split_images.py: error: --pad-value: deprecated, and --padding-value is given too; '
                            'valid: --padding-value only (see --help)\n'),
                           (['--padding-value', '1', '2'],
                            'split_images.py: error: --padding-value: got [1, 2]; valid: 1 or 3 integers in 0..255 '
                            '(B G R) (see --help)\n')):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(base + ['--out-dir', str(tmp_path / 'c')] + extra)
        assert exit_info.value.code == 2 and capsys.readouterr().err.endswith(message)
    assert not (tmp_path / 'c').exists()
    assert np.array_equal(cv2.imread(str(tmp_path / 'a' / 'images' / 'P0005__1024__0___0.png'))[:977, :884],
                          cv2.imread(osp.join(shared_data, 'isaid/train/P0005.png')))


def test_split_tool_cut_rule_and_mmrotate_rate_mode(tool, shared_data, tmp_path, capsys):
    import json
    data = osp.join(shared_data, 'deepforest')
    args = ['--source', 'voc', '--ann-dir', data, '--img-dir', data, '--out-dir', str(tmp_path), '--patch-size', '512',
            '--gap', '0', '--rates', '2', '--rate-mode', 'window', '--cut-rule', 'original', '--no-progress']
    assert tool.main(args) == 0
    assert 'rates [2.0] (window), iof >= 0.7, cut objects: original, 1 processes)' in capsys.readouterr().out
    # mmrotate's windows of 512 / 2 = 256 on the 400 x 400 image, not resized, named by their size.
    assert sorted(os.listdir(tmp_path / 'images')) == [
        'OSBS_029__256__0___0.png', 'OSBS_029__256__0___144.png', 'OSBS_029__256__144___0.png',
        'OSBS_029__256__144___144.png']
    manifest = json.loads((tmp_path / 'split_manifest' / 'OSBS_029.json').read_text())
    assert manifest['settings']['cut_rule'] == 'original' and manifest['settings']['rate_mode'] == 'window'
    assert {(p['size'], p['rate']) for p in manifest['patches']} == {(256, 1.0)}
    # Cut objects keep their whole box (leaving the patch) and difficulty 2.
    lines = [line.split() for name in os.listdir(tmp_path / 'labelTxt')
             for line in (tmp_path / 'labelTxt' / name).read_text().splitlines()]
    outside = [line for line in lines if min(map(float, line[:8])) < 0 or max(map(float, line[:8])) > 256]
    assert outside and all(line[9] == '2' for line in outside)
    args[args.index('original')] = 'fit'
    assert tool.main(args) == 2
    assert "cut_rule differ: {'cut_rule': 'original'} vs {'cut_rule': 'fit'}" in capsys.readouterr().err
