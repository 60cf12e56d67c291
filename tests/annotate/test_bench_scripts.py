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
