"""Shared pytest fixtures: repository paths, the real sample data, subprocess helpers."""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Real sample imagery lives beside the repository, never inside it (see ../shared/data/README.md).
SHARED_DATA = osp.normpath(osp.join(REPO_ROOT, '..', 'shared', 'data'))
# Its sitecustomize.py skips mmengine's cosmetic yapf pass in every tool a test starts.
TOOL_ENV = osp.join(REPO_ROOT, 'tests', 'tool_env')
_spec = importlib.util.spec_from_file_location('tests_tool_env', osp.join(TOOL_ENV, 'sitecustomize.py'))
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))  # the same in this process (runpy tools)


@pytest.fixture(scope='session')
def repo_root():
    """Absolute path of the repository root."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def shared_data():
    """Path of ``../shared/data``; skips the test when the folder is not there."""
    if not osp.isdir(SHARED_DATA):
        pytest.skip(f'real sample data not found at {SHARED_DATA} (see ../shared/data/README.md)')
    return SHARED_DATA


def run_tool(args, cwd=REPO_ROOT, env=None, timeout=900, check=True):
    """Run a command with this interpreter's environment; return the CompletedProcess.

    ``args`` starting with a ``.py`` file run under the current interpreter; shell scripts
    run under bash with the interpreter's directory first on PATH (as ``make`` does).
    """
    full_env = dict(os.environ)
    full_env['PATH'] = osp.dirname(sys.executable) + os.pathsep + full_env.get('PATH', '')
    full_env.setdefault('PYTHONHASHSEED', '0')
    full_env.update(env or {})
    full_env['PYTHONPATH'] = os.pathsep.join(p for p in (TOOL_ENV, full_env.get('PYTHONPATH')) if p)
    if args[0].endswith('.py'):
        args = [sys.executable] + list(args)
    elif args[0].endswith('.sh'):
        args = ['bash'] + list(args)
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'command failed ({proc.returncode}): {" ".join(map(str, args))}\n'
                             f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def free_port():
    """A TCP port nobody listens on now, for a torchrun master (tests run side by side)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Give every test the mmengine default scope it found.

    Tests (and tools run in-process) call ``init_default_scope``; a scope left at 'mmrotate'
    would hide the mmseg registry from every later test, so the order of tests would matter.
    """
    try:
        from mmengine.registry import DefaultScope
    except ImportError:  # the OpenMMLab-free tests run without mmengine too
        yield
        return
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved


@pytest.fixture(scope='session')
def samrs_objects(tmp_path_factory):
    """Tiny SOTA / SIOR / FAST subsets made by the annotate runner (instances/, name lists).

    ``(root, {subset: [names]})``; see ``tests.toy_data.write_samrs_object_subsets``.
    """
    from tests.toy_data import write_samrs_object_subsets
    root = str(tmp_path_factory.mktemp('samrs_objects'))
    return root, write_samrs_object_subsets(root)
