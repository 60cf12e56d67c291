"""Shared pytest fixtures: repository paths, the real sample data, subprocess helpers."""
import contextlib
import errno
import importlib.util
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time

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


def _tool_command(args, env):
    full_env = dict(os.environ)
    full_env['PATH'] = osp.dirname(sys.executable) + os.pathsep + full_env.get('PATH', '')
    full_env.setdefault('PYTHONHASHSEED', '0')
    full_env.update(env or {})
    full_env['PYTHONPATH'] = os.pathsep.join(p for p in (TOOL_ENV, full_env.get('PYTHONPATH')) if p)
    if args[0].endswith('.py'):
        args = [sys.executable] + list(args)
    elif args[0].endswith('.sh'):
        args = ['bash'] + list(args)
    return list(args), full_env


def run_tool(args, cwd=REPO_ROOT, env=None, timeout=900, check=True):
    """Run a command with this interpreter's environment; return the CompletedProcess.

    ``args`` starting with a ``.py`` file run under the current interpreter; shell scripts
    run under bash with the interpreter's directory first on PATH (as ``make`` does).
    """
    args, full_env = _tool_command(args, env)
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


def _default_scopes():
    """mmengine's DefaultScope class and a copy of its instances (None without mmengine)."""
    try:
        from mmengine.registry import DefaultScope
    except ImportError:  # the OpenMMLab-free tests run without mmengine too
        return None, None
    return DefaultScope, DefaultScope._instance_dict.copy()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Leave mmengine's default scope as a fixture found it (module fixtures run tools in-process)."""
    scope_class, saved = _default_scopes()
    yield
    if scope_class is not None:
        scope_class._instance_dict = saved


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Give every test the mmengine default scope it found.

    Tests and tools run in-process call ``init_default_scope`` (a Runner does too); a scope
    left at 'mmrotate' would hide the mmseg registry from every later test in the process, so
    the order of tests (and how pytest-xdist deals them out) would matter.
    """
    scope_class, saved = _default_scopes()
    yield
    if scope_class is not None:
        scope_class._instance_dict = saved


@pytest.fixture(scope='session')
def samrs_objects(tmp_path_factory):
    """Tiny SOTA / SIOR / FAST subsets made by the annotate runner (instances/, name lists).

    ``(root, {subset: [names]})``; see ``tests.toy_data.write_samrs_object_subsets``.
    """
    from tests.toy_data import write_samrs_object_subsets
    root = str(tmp_path_factory.mktemp('samrs_objects'))
    return root, write_samrs_object_subsets(root)


def start_tool(args, log_dir, cwd=REPO_ROOT, env=None):
    """Start a command like :func:`run_tool` without waiting, in a new session (its own
    process group, whose id is its pid); stdout / stderr go to files in ``log_dir``."""
    args, full_env = _tool_command(args, env)
    os.makedirs(log_dir, exist_ok=True)
    with open(osp.join(log_dir, 'stdout'), 'w') as out, open(osp.join(log_dir, 'stderr'), 'w') as err:
        return subprocess.Popen(args, cwd=cwd, env=full_env, stdout=out, stderr=err, start_new_session=True)


def wait_for(condition, proc, timeout=300.0, what='the condition'):
    """Poll ``condition()`` until it holds; fail when ``proc`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f'the process ended (status {proc.returncode}) before {what}'
        assert time.monotonic() < deadline, f'no {what} within {timeout} s'
        time.sleep(0.02)


def group_processes(pgid):
    """Pids of the live (not zombie) processes of process group ``pgid``."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != 'Z':
            pids.append(int(entry))
    return sorted(pids)


def survivors(pgid, timeout=10.0):
    """The processes of group ``pgid`` still alive after up to ``timeout`` seconds (none: [])."""
    deadline = time.monotonic() + timeout
    while group_processes(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return group_processes(pgid)


def kill_group(pgid):
    """SIGKILL what is left of a process group a test started (cleanup after a failure)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, 9)


@contextlib.contextmanager
def blocking_file(path):
    """Swap ``path`` for a named pipe nobody writes to, so a reader opening it waits forever
    (a run stuck at a known item, whatever the machine's speed); the file comes back on exit."""
    aside = path + '.aside'
    shutil.move(path, aside)
    os.mkfifo(path)
    try:
        yield path
    finally:
        os.remove(path)
        shutil.move(aside, path)


class SmallDisk:
    """A folder whose file system fills up after ``kb`` kilobytes, or turns read-only.

    A real tmpfs mounted on the folder where this machine lets the tests mount one (root);
    elsewhere a simulation: writes through :mod:`samrs_mm.fileio` and ``shutil.copyfile``
    fail with ENOSPC past the same budget (counted in bytes, not pages), and with EROFS (like
    the work-dir lock) when read-only. ``real`` says which.
    Set ``SAMRS_TEST_SIMULATED_DISK=1`` to force the simulation.
    """

    def __init__(self, path, kb, monkeypatch):
        self.path, self.monkeypatch = str(path), monkeypatch
        os.makedirs(self.path, exist_ok=True)
        self.real = (os.environ.get('SAMRS_TEST_SIMULATED_DISK') != '1' and hasattr(os, 'geteuid')
                     and os.geteuid() == 0 and shutil.which('mount') is not None
                     and subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={kb}k', 'tmpfs', self.path],
                                        capture_output=True).returncode == 0)
        self.budget, self.used, self.readonly = kb * 1024, 0, False
        if not self.real:
            self._simulate()

    def resize(self, kb):
        """Give the file system ``kb`` kilobytes."""
        if self.real:
            subprocess.run(['mount', '-o', f'remount,size={kb}k', self.path], check=True)
        self.budget = kb * 1024

    def read_only(self, flag=True):
        """Make the file system read-only (or writable again)."""
        if self.real:
            subprocess.run(['mount', '-o', f'remount,{"ro" if flag else "rw"}', self.path], check=True)
        self.readonly = flag

    def close(self):
        """Unmount (the real tmpfs; its files go)."""
        if self.real:
            subprocess.run(['umount', self.path], check=False)
            if os.path.ismount(self.path):
                subprocess.run(['umount', '-l', self.path], check=False)

    def _inside(self, path):
        return osp.abspath(os.fspath(path)).startswith(osp.abspath(self.path) + os.sep)

    def _refuse_if_read_only(self, path):
        if self.readonly:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def _spend(self, size, *filename):
        """Count ``size`` bytes written; ENOSPC (naming ``filename`` if given) past the budget."""
        self.used += size
        if self.used > self.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *filename)

    def _simulate(self):
        import builtins

        import samrs_mm.fileio as fileio
        import samrs_mm.runs.lock as lock
        disk, real_open, real_os_open = self, builtins.open, os.open

        class Counted:
            def __init__(self, handle):
                self._handle = handle

            def write(self, data):
                disk._spend(len(data))
                return self._handle.write(data)

            def __getattr__(self, name):
                return getattr(self._handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self._handle.__exit__(*exc)

        def counted_open(path, mode='r', *args, **kwargs):
            if disk._inside(path) and any(c in mode for c in 'wax+'):
                disk._refuse_if_read_only(path)
                return Counted(real_open(path, mode, *args, **kwargs))
            return real_open(path, mode, *args, **kwargs)

        def lock_open(path, flags, *args, **kwargs):
            if disk._inside(path) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
                disk._refuse_if_read_only(path)
            return real_os_open(path, flags, *args, **kwargs)

        real_copyfile = shutil.copyfile

        def counted_copyfile(src, dst, *args, **kwargs):
            if disk._inside(dst):
                disk._refuse_if_read_only(dst)
                disk._spend(os.path.getsize(src), os.fspath(dst))
            return real_copyfile(src, dst, *args, **kwargs)

        self.monkeypatch.setattr(fileio, 'open', counted_open, raising=False)
        self.monkeypatch.setattr(lock.os, 'open', lock_open)
        self.monkeypatch.setattr(shutil, 'copyfile', counted_copyfile)


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """``make(kb)`` -> a :class:`SmallDisk` under ``tmp_path`` (unmounted after the test)."""
    disks = []

    def make(kb, name='disk'):
        disks.append(SmallDisk(tmp_path / name, kb, monkeypatch))
        return disks[-1]
    yield make
    for disk in disks:
        disk.close()
