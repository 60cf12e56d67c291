"""Sharding: tools/dist_annotate.sh with 2 CPU processes labels every image exactly once."""
import glob
import json
import os.path as osp
import socket

from tests.annotate.annotate_data import tree_files, write_config, write_dota_dataset
from tests.conftest import run_tool


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process(tmp_path):
    data = write_dota_dataset(str(tmp_path / 'data'), n_images=7)
    single = write_config(str(tmp_path / 'single.py'), data, str(tmp_path / 'single'))
    run_tool(['tools/samrs_annotate.py', single])
    dist = write_config(str(tmp_path / 'dist.py'), data, str(tmp_path / 'dist'))
    proc = run_tool(['tools/dist_annotate.sh', dist, '2'], env=dict(PORT=str(free_port()), OMP_NUM_THREADS='1'))
    assert 'images 7 | labelled 7 (this run 7, resumed 0)' in proc.stdout
    # Same files, byte for byte, as the single-process run: nothing missing, nothing twice.
    assert tree_files(str(tmp_path / 'dist')) == tree_files(str(tmp_path / 'single'))
    logs = glob.glob(osp.join(str(tmp_path / 'dist'), 'logs', 'annotate_*.json'))
    assert len(logs) == 1
    with open(logs[0]) as f:
        log = json.load(f)
    assert log['world_size'] == 2
    # Rank r labels images r, r + 2, ...: 4 and 3 of the 7.
    assert [(r['rank'], r['labelled']) for r in log['per_rank']] == [(0, 4), (1, 3)]
    # The two-process run also resumes a finished one-process run: nothing is redone.
    before = tree_files(str(tmp_path / 'single'))
    proc = run_tool(['tools/dist_annotate.sh', single, '2'], env=dict(PORT=str(free_port()), OMP_NUM_THREADS='1'))
    assert 'labelled 7 (this run 0, resumed 7)' in proc.stdout
    assert tree_files(str(tmp_path / 'single')) == before
