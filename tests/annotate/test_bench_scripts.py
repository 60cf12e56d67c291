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


def load_speed_bench():
    """bench/annotate_speed.py as a module (its main takes argv)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('annotate_speed_bench', 'bench/annotate_speed.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_bench_rejects_unknown_methods_and_families(capsys):
    import pytest
    bench = load_speed_bench()
    for argv, message in ((['--methods', 'bcm'], "--methods: unknown or malformed value(s) ['bcm']"),
                          (['--methods', 'a,,c'], "--methods: unknown or malformed value(s) ['']"),
                          (['--families', 'sam9'], "--families: unknown or malformed value(s) ['sam9']"),
                          (['--families', 'sam2,sam3', '--model-type', 'hiera_l'], 'FAMILY=MODEL_TYPE pairs')):
        with pytest.raises(SystemExit) as exit_info:
            bench.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_speed_bench_every_family_quick(shared_data, capsys):
    """Per family, side by side: the predictor's own loop, the engine on realistic masks, the floor
    (SAM's own rows are checked by test_speed_bench_quick)."""
    bench = load_speed_bench()
    summary = bench.main(['--quick', '--families', 'sam_hq,sam2,sam3', '--methods', 'a,r,m', '--max-objects', '2',
                          '--threads', '1', '--data', shared_data])
    out = capsys.readouterr().out
    assert list(summary) == ['sam_hq', 'sam2', 'sam3']
    for name in ('HQ-SAM', 'SAM 2.1', 'SAM 3'):
        assert f'## {name} tiny_test' in out
    for label in ('HQ-SAM SamPredictor.predict per object', 'SAM2ImagePredictor.predict per object',
                  'SAM 3 predict_inst per object'):
        assert re.search(r'\(a\) ' + re.escape(label) + r' \| [\d.]+ \|', out), out
    assert len(re.findall(r'\(r\) engine, realistic masks \(object-shaped logits\) \| [\d.]+ \|', out)) == 3
    assert len(re.findall(r'\(r\)/\(m\) = [\d.]+', out)) == 3
    assert re.search(r'\| SAM 3 \| tiny_test( \| [\d.]+){3} \| [\d.]+ \|', out), out  # (a), (r), (m), (r)/(m)
    # Object-shaped masks: two runs per column, a short RLE (random weights: ~10^5 bytes).
    sizes = [int(m) for m in re.findall(r'\(r\) realistic masks: (\d+) bytes of RLE per mask', out)]
    assert len(sizes) == 3 and all(20 < b < 1000 for b in sizes), out
