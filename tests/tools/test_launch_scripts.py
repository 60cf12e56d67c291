"""The dist_*.sh / slurm_*.sh wrappers: argument checks and the exact command each one starts.

torchrun itself is exercised end to end by the 2-process tests of train and annotate; here
fake ``srun`` / ``python`` executables record the command line, so the Slurm wrappers are
checked on a machine without Slurm.
"""
import os
import stat

import pytest

from tests.conftest import run_tool

RECORDER = '#!/usr/bin/env bash\nprintf "%s\\n" "$(basename "$0")" "$@" > "$RECORD_FILE"\n'


@pytest.fixture
def recorded(tmp_path):
    """A PATH with recording ``srun`` and ``fakepython``; returns (env, read_argv)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('srun', 'fakepython'):
        path = bin_dir / name
        path.write_text(RECORDER)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / 'argv.txt'
    env = dict(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', RECORD_FILE=str(record),
               PYTHON='fakepython')

    def read_argv():
        return record.read_text().splitlines()

    return env, read_argv


def _tools(repo_root, name):
    return os.path.join(repo_root, 'tools', name)


@pytest.mark.parametrize('script,minimum', [
    ('dist_train.sh', 2), ('dist_test.sh', 3), ('dist_annotate.sh', 2),
    ('slurm_train.sh', 3), ('slurm_test.sh', 4), ('slurm_annotate.sh', 3)])
def test_missing_arguments_print_usage(script, minimum):
    proc = run_tool([f'tools/{script}'] + ['x'] * (minimum - 1), check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith('usage: ') and script in proc.stderr


def test_slurm_train_command_line(recorded, repo_root):
    env, argv = recorded
    env.update(GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='3', SRUN_ARGS='--qos=high --time=10')
    run_tool(['tools/slurm_train.sh', 'gpu', 'sep', 'configs/sep/upernet_r50.py', 'work_dirs/x',
              '--cfg-options', 'train_cfg.max_iters=2'], env=env)
    assert argv() == [
        'srun', '-p', 'gpu', '--job-name=sep', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
        '--cpus-per-task=3', '--kill-on-bad-exit=1', '--qos=high', '--time=10',
        'fakepython', '-u', _tools(repo_root, 'train.py'), 'configs/sep/upernet_r50.py',
        '--launcher', 'slurm', '--work-dir', 'work_dirs/x', '--cfg-options', 'train_cfg.max_iters=2']


def test_slurm_test_and_annotate_defaults(recorded, repo_root):
    env, argv = recorded
    run_tool(['tools/slurm_test.sh', 'p', 'j', 'cfg.py', 'ckpt.pth', '--show-dir', 'out'], env=env)
    assert argv() == [
        'srun', '-p', 'p', '--job-name=j', '--gres=gpu:4', '--ntasks=4', '--ntasks-per-node=4',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', 'fakepython', '-u', _tools(repo_root, 'test.py'),
        'cfg.py', 'ckpt.pth', '--launcher', 'slurm', '--show-dir', 'out']
    # No WORK_DIR: nothing is added for it.
    run_tool(['tools/slurm_annotate.sh', 'p', 'j', 'ann.py'], env=env)
    assert argv()[4:] == ['--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8', '--cpus-per-task=5',
                          '--kill-on-bad-exit=1', 'fakepython', '-u', _tools(repo_root, 'samrs_annotate.py'),
                          'ann.py', '--launcher', 'slurm']


def test_dist_scripts_command_line(recorded, repo_root):
    env, argv = recorded
    env.update(NNODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1')
    run_tool(['tools/dist_test.sh', 'cfg.py', 'ckpt.pth', '4', '--tta'], env=env)
    assert argv() == [
        'fakepython', '-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=10.0.0.1', '--nproc_per_node=4', '--master_port=29500',
        _tools(repo_root, 'test.py'), 'cfg.py', 'ckpt.pth', '--launcher', 'pytorch', '--tta']
    run_tool(['tools/dist_annotate.sh', 'ann.py', '2'], env=dict(env, PORT='30001'))
    assert argv()[7:] == ['--master_port=30001', _tools(repo_root, 'samrs_annotate.py'), 'ann.py',
                          '--launcher', 'pytorch']
    run_tool(['tools/dist_train.sh', 'cfg.py', '2', '--amp'], env=dict(env, NNODES='1', NODE_RANK='0'))
    assert argv()[3:] == ['--nnodes=1', '--node_rank=0', '--master_addr=10.0.0.1', '--nproc_per_node=2',
                          '--master_port=29500', _tools(repo_root, 'train.py'), 'cfg.py',
                          '--launcher', 'pytorch', '--amp']
