"""Worker processes that never outlive their parent.

A DataLoader or ``multiprocessing`` worker whose parent is killed (``kill -9``, the OOM
killer, a scheduler) is re-parented to init and can block forever writing results nobody
reads, holding its memory. :func:`init_worker` runs first in each worker
(``worker_init_fn`` / ``initializer``): it asks the kernel to kill the worker when its
parent dies (Linux ``PR_SET_PDEATHSIG``), exits at once if the parent is already gone, makes
the worker leave stop signals to its parent (which shuts the workers down in order), and
closes the parent's work-dir lock in the child. :func:`stop_worker_processes` is the parent's
side: a run that stops early ends its workers at once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading

from .lock import release_in_child

__all__ = ['die_with_parent', 'init_worker', 'stop_worker_processes']

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies; False where
    that is not available (not Linux)."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def init_worker(parent_pid: int, *_worker_id, obey_sigterm: bool = False) -> None:
    """First thing a worker process does (see the module docstring).

    ``parent_pid`` is the pid of the process that starts the workers, taken before they
    start (``functools.partial(init_worker, os.getpid())``); the DataLoader passes the
    worker id after it, which is not needed. ``obey_sigterm`` keeps SIGTERM deadly, for
    ``multiprocessing.Pool`` workers, which ``Pool.terminate`` stops with SIGTERM; DataLoader
    workers ignore it and are stopped by their loader.
    """
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the request above took effect
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL if obey_sigterm else signal.SIG_IGN)
    release_in_child()


def stop_worker_processes() -> None:
    """Kill the ``multiprocessing`` children of this process that are still alive, now.

    For a run that stops early: its workers only read and decode inputs, nothing of theirs
    is worth waiting for (a worker blocked on a slow or hung file system would otherwise
    hold the stop for the loader's join timeouts). SIGCHLD is left alone meanwhile, so
    torch's DataLoader handler does not report the killed workers as failures.
    """
    children = multiprocessing.active_children()
    if not children:
        return
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL) if in_main else None
    try:
        for child in children:
            child.kill()
        for child in children:
            child.join(timeout=5.0)
    finally:
        if in_main:
            signal.signal(signal.SIGCHLD, previous if previous is not None else signal.SIG_DFL)
