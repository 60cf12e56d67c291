"""The stock entry points: train -> checkpoint -> resume -> test, and 2-process CPU DDP."""
import json
import os
import os.path as osp

import torch

from tests.conftest import free_port, run_tool
from tests.toy_data import write_image_folder_dataset, write_tiny_quickstart_config


def _scalars(work_dir):
    """The json-lines training log that mmengine writes under <work_dir>/<timestamp>/vis_data."""
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    assert files, f'no scalars.json under {work_dir}'
    records = []
    for path in files:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def test_train_checkpoint_resume_test(tmp_path, repo_root):
    data = write_image_folder_dataset(str(tmp_path / 'data'))
    config = write_tiny_quickstart_config(str(tmp_path / 'tiny.py'), repo_root, data,
                                          max_iters=4, ckpt_interval=2)
    work_dir = str(tmp_path / 'work')

    first = run_tool(['tools/train.py', config, '--work-dir', work_dir,
                      '--cfg-options', 'train_cfg.max_iters=2'])
    log = first.stdout + first.stderr
    assert 'converted' in log and 'SyncBN' in log, 'CPU run must say SyncBN became BN'
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth'))

    second = run_tool(['tools/train.py', config, '--work-dir', work_dir, '--resume'])
    log = second.stdout + second.stderr
    assert 'resumed' in log.lower()
    ckpt = torch.load(osp.join(work_dir, 'iter_4.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 4
    iters = sorted({r['iter'] for r in _scalars(work_dir) if 'loss' in r})
    assert iters == [1, 2, 3, 4], 'the resumed run must continue at iteration 3'

    test = run_tool(['tools/test.py', config, osp.join(work_dir, 'iter_4.pth'),
                     '--work-dir', str(tmp_path / 'test')])
    assert 'mIoU' in test.stdout + test.stderr


def test_amp_without_gpu_is_a_clear_error(tmp_path, repo_root):
    if torch.cuda.is_available():
        import pytest
        pytest.skip('this machine has a GPU: --amp is valid here')
    data = write_image_folder_dataset(str(tmp_path / 'data'), num_train=2, num_val=1)
    config = write_tiny_quickstart_config(str(tmp_path / 'tiny.py'), repo_root, data)
    proc = run_tool(['tools/train.py', config, '--amp', '--work-dir', str(tmp_path / 'w')],
                    check=False)
    assert proc.returncode != 0
    assert '--amp needs a GPU' in proc.stderr and 'Traceback' not in proc.stderr


def test_missing_config_is_a_clear_error(tmp_path):
    proc = run_tool(['tools/train.py', str(tmp_path / 'nope.py')], check=False)
    assert proc.returncode != 0
    assert 'config file not found' in proc.stderr and 'nope.py' in proc.stderr


def test_dist_train_two_cpu_processes(tmp_path, repo_root):
    data = write_image_folder_dataset(str(tmp_path / 'data'), num_train=4, num_val=2)
    config = write_tiny_quickstart_config(str(tmp_path / 'tiny.py'), repo_root, data,
                                          max_iters=2, ckpt_interval=2)
    work_dir = str(tmp_path / 'work')
    proc = run_tool(['tools/dist_train.sh', config, '2', '--work-dir', work_dir],
                    env={'PORT': free_port(), 'OMP_NUM_THREADS': '1'})
    log = proc.stdout + proc.stderr
    assert 'gloo' in log
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    checkpoints = [f for f in os.listdir(work_dir) if f.endswith('.pth')]
    assert checkpoints == ['iter_2.pth'], 'exactly one checkpoint, written by rank 0'
    ckpt = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # mmengine's env log
