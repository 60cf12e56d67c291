"""Sharding: tools/dist_annotate.sh with 2 CPU processes labels every image exactly once, into
the files of a one-process run, with prompt_batch_size='auto' decided once for both ranks."""
import glob
import json
import os.path as osp

from tests.annotate.annotate_data import decided_size, tree_files, write_config
from tests.annotate.conftest import GRID_ENGINE
from tests.conftest import free_port, run_tool

ENGINE_EXTRA = ''.join(f', {k}={v!r}' for k, v in GRID_ENGINE.items())
ENV = dict(OMP_NUM_THREADS='1')


def test_two_processes_match_one_process(grid_data, grid_reference, tmp_path):
    work = str(tmp_path / 'dist')
    dist = write_config(str(tmp_path / 'dist.py'), grid_data, work, backend='tiny', prompt_batch_size='auto',
                        engine_extra=ENGINE_EXTRA)
    proc = run_tool(['tools/dist_annotate.sh', dist, '2'], env=dict(ENV, PORT=free_port()))
    assert 'images 4 | labelled 4 (this run 4, resumed 0)' in proc.stdout
    # One decision for the work dir, whichever rank measured first; both ranks used it.
    size = decided_size(work)
    reference_dir, reference = grid_reference(size)
    # Same files, byte for byte, as the one-process run: nothing missing, nothing twice.
    assert tree_files(work, exclude=('logs', 'prompt_batch_size')) == reference
    logs = glob.glob(osp.join(work, 'logs', 'annotate_*.json'))
    assert len(logs) == 1
    with open(logs[0]) as f:
        log = json.load(f)
    assert log['world_size'] == 2
    # Rank r labels images r, r + 2, ...: 2 and 2 of the 4.
    assert [(r['rank'], r['labelled']) for r in log['per_rank']] == [(0, 2), (1, 2)]
    # The two-process run also resumes a finished one-process run: nothing is redone.
    single = write_config(str(tmp_path / 'single.py'), grid_data, reference_dir, backend='tiny',
                          prompt_batch_size=size, engine_extra=ENGINE_EXTRA)
    proc = run_tool(['tools/dist_annotate.sh', single, '2'], env=dict(ENV, PORT=free_port()))
    assert 'labelled 4 (this run 0, resumed 4)' in proc.stdout
    assert tree_files(reference_dir) == reference
