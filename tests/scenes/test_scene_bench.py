"""bench/scene_memory.py runs (tiny scenes): both tools and both in-memory baselines, and its tables."""
import re

from tests.conftest import run_tool


def test_scene_memory_bench_runs_on_small_scenes(tmp_path):
    out = run_tool(['bench/scene_memory.py', '--sizes', '400', '600', '--work', str(tmp_path)], timeout=600).stdout
    for size, run in (('400', 'annotate_scene'), ('400', 'infer_scene'), ('400', 'annotate in memory'),
                      ('400', 'infer in memory'), ('600', 'annotate_scene'), ('600', 'infer_scene')):
        assert re.search(rf'\| {size}\^2 \| {run} \| [\d.]+ \| \d+ \| [\d.]+ \|', out), out
    for tool in ('annotate_scene', 'infer_scene'):
        assert re.search(rf'\| {tool} \| [\d.]+x \| [\d.]+x \|', out), out
