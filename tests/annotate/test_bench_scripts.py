"""The benchmark and device-check scripts run on CPU without mmcv (their --quick / small paths)."""
import re

from tests.conftest import run_tool


def test_speed_bench_quick(shared_data):
    out = run_tool(['bench/annotate_speed.py', '--quick', '--threads', '1', '--data', shared_data],
                   timeout=600).stdout
    assert 'P0706.png (1111x1182, 536 objects), first 48 used' in out
    for label in ('(a) SamPredictor.predict per object', '(b) SAMRS scripts', '(c) samrs_mm engine',
                  '(m) model floor'):
        assert re.search(re.escape(label) + r'.*\| [\d.]+ \| [\d.]+ \| \d+ \| -?\d+ \|', out), out
    for ratio in ('(c)/(m)', '(b)/(c)', '(a)/(c)'):
        assert re.search(re.escape(ratio) + r' = [\d.]+', out), out
    # Our masks equal the SAMRS scripts' full-resolution masks (ties allowed, counted).
    match = re.search(r'\(c\) vs \(b\) masks: (\d+)/48 identical, (\d+) differing pixels', out)
    assert match and int(match.group(1)) >= 47 and int(match.group(2)) <= 5, out


def test_faithfulness_script(shared_data):
    out = run_tool(['bench/annotate_faithfulness.py', '--specs', 'rhbox+cp,rbox_mask', '--vit-b-objects', '0',
                    '--threads', '1', '--data', shared_data], timeout=600).stdout
    assert re.search(r'\| rhbox\+cp \| 16 \| .*\| yes \|', out), out
    assert re.search(r'\| rbox_mask \| 16 \| .*\| yes \|', out), out
    assert 'RESULT: FAITHFUL' in out


def test_gpu_script_runs_without_openmmlab(shared_data, tmp_path):
    """bench/gpu_annotate.sh --cpu-quick: every step and module it loads works with mmcv & co. unimportable."""
    import sys
    for name in ('mmcv', 'mmseg', 'mmengine', 'mmdet', 'mmrotate'):
        (tmp_path / name).mkdir()
        (tmp_path / name / '__init__.py').write_text(f'raise ImportError("{name} is blocked for this check")\n')
    out = run_tool(['bench/gpu_annotate.sh', '--cpu-quick'], timeout=900,
                   env={'PYTHON': sys.executable, 'PYTHONPATH': str(tmp_path), 'SAMRS_DATA': shared_data}).stdout
    assert '!! exit status' not in out and 'blocked' not in out, out
    assert 'TF32 (engine and reference alike): allow_tf32=False' in out
    assert 'engine mask path: batched' in out and 'RESULT: FAITHFUL' in out
    assert re.search(r'\| rbox_mask \| 16 \| .*\| yes \|', out), out
    for dtype, objects in (('float32', 48), ('bfloat16', 8)):
        assert f'dtype {dtype}, torch' in out
        same = r'\(c\) vs \(x\) masks \(batched vs per-object\): %d/%d identical, 0 differing' % (objects, objects)
        assert re.search(same, out), out
    assert len(re.findall(r'\(c\) stages: encoder [\d.]+ s, decoder [\d.]+ s, masks\+RLE [\d.]+ s', out)) == 2
    assert re.search(r'\(x\) engine, batched masks \| [\d.]+ \|', out), out
    assert out.rstrip().endswith('done')
