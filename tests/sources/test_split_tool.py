"""tools/split_images.py end to end: options, config files, resume, exit status."""
import os
import os.path as osp

from tests.conftest import run_tool

TOOL = 'tools/split_images.py'


def test_split_tool_dota_preset_and_resume(shared_data, tmp_path):
    out = str(tmp_path / 'out')
    args = [TOOL, '--source', 'dota', '--ann-dir', osp.join(shared_data, 'dota/labelTxt'),
            '--out-dir', out, '--preset', 'dota-v2', '--nproc', '2', '--no-progress']
    proc = run_tool(args, timeout=300)
    assert 'patches: 4 written' in proc.stdout
    assert 'objects: 536 = 536 kept whole' in proc.stdout
    assert sorted(os.listdir(osp.join(out, 'labelTxt'))) == [
        'P0706__1024__0___0.txt', 'P0706__1024__0___824.txt', 'P0706__1024__824___0.txt',
        'P0706__1024__824___824.txt']
    again = run_tool(args, timeout=300)
    assert 'images: 1 (resumed 1)' in again.stdout and 'patches: 0 written, 4 already there' in again.stdout


def test_split_tool_config_file(shared_data, tmp_path):
    cfg = tmp_path / 'split_cfg.py'
    cfg.write_text(
        f"source = dict(type='voc', ann_dir={osp.join(shared_data, 'deepforest')!r}, "
        f"img_dir={osp.join(shared_data, 'deepforest')!r})\n"
        "split = dict(patch_size=256, gap=112, iof_thr=0.5)\n")
    out = str(tmp_path / 'out')
    proc = run_tool([TOOL, '--config', str(cfg), '--out-dir', out, '--no-progress'], timeout=300)
    assert '256x256, gap 112' in proc.stdout and 'iof >= 0.5' in proc.stdout
    # 400 px with 256 / gap 112: starts 0 and 144 on each axis.
    assert sorted(os.listdir(osp.join(out, 'images'))) == [
        'OSBS_029__256__0___0.png', 'OSBS_029__256__0___144.png', 'OSBS_029__256__144___0.png',
        'OSBS_029__256__144___144.png']
    assert 'objects: 61 =' in proc.stdout


def test_split_tool_reports_bad_images_and_fails(tmp_path):
    ann_dir, img_dir = tmp_path / 'labelTxt', tmp_path / 'images'
    ann_dir.mkdir()
    img_dir.mkdir()
    (ann_dir / 'x.txt').write_text('1 1 9 1 9 9 1 9 plane 0\n')
    proc = run_tool([TOOL, '--source', 'dota', '--ann-dir', str(ann_dir), '--out-dir',
                     str(tmp_path / 'out'), '--no-progress'], check=False, timeout=300)
    assert proc.returncode == 1
    assert f'FAILED image #0: {ann_dir / "x.txt"}: no image for this annotation' in proc.stdout
    bad = run_tool([TOOL, '--source', 'dota', '--ann-dir', str(tmp_path / 'missing'), '--out-dir',
                    str(tmp_path / 'out')], check=False, timeout=300)
    assert bad.returncode == 2 and 'DOTA annotation folder not found' in bad.stderr
