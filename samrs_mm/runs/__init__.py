"""What every long-running tool shares so that a cluster cannot spoil its work.

A labelling, cropping or conversion run may be killed (``kill -9``), stopped by a scheduler
(SIGTERM, then SIGKILL a little later), started twice on one folder, or meet a full or
read-only disk. The tools (``samrs_annotate.py``, ``split_images.py``, the dataset converters,
``dataset_stats.py``) handle those the same way, with the pieces of this package:

* :mod:`~samrs_mm.runs.lock`: :class:`WorkDirLock`, one owner per output folder; a second
  run is refused with :class:`WorkDirBusy` naming the running one; the kernel drops the lock
  of a killed run, so nothing is left stuck.
* :mod:`~samrs_mm.runs.signals`: :func:`stop_on_signals` turns SIGTERM / SIGINT / SIGHUP into
  :class:`RunInterrupted`, so the tool abandons the current item, keeps finished work and
  writes a summary that says it was interrupted.
* :mod:`~samrs_mm.runs.workers`: :func:`init_worker`, run first in every worker process
  (DataLoader ``worker_init_fn``, ``multiprocessing`` initializer): the worker dies with its
  parent whatever signal ended it.
* :mod:`~samrs_mm.runs.errors`: the documented exit statuses and :class:`StorageError` (disk
  full, read-only, quota: the run stops, what was finished is kept).
* :mod:`~samrs_mm.runs.options`: :class:`OptionError`, :class:`ToolArgumentParser` and
  :class:`ConfigOptionsAction` (one-line option errors, exit status 2, nothing written;
  ``--cfg-options`` values keep their spaces).
* :mod:`~samrs_mm.runs.owner`: :func:`run_as_owner` puts the lock, the signals and the exit
  statuses together around a tool's work.
* :mod:`~samrs_mm.runs.ranks`: :func:`setup_ranks` (the ranks of a torchrun / Slurm run, a
  gloo barrier) and :func:`take_folder` (rank 0 owns the output folder, every rank learns it).

Nothing here imports OpenMMLab or torch.
"""
from .errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_USAGE,
    StorageError,
    as_storage_error,
    describe_exit_status,
    stop_record,
    storage_stop,
)
from .lock import WorkDirBusy, WorkDirLock
from .options import ConfigOptionsAction, OptionError, ToolArgumentParser, print_error
from .owner import run_as_owner
from .ranks import LAUNCHERS, setup_ranks, take_folder, wait_for_ranks
from .signals import RunInterrupted, interrupted_stop, stop_on_signals
from .workers import die_with_parent, init_worker, stop_worker_processes

__all__ = ['EXIT_OK', 'EXIT_FAILED', 'EXIT_USAGE', 'EXIT_STORAGE', 'describe_exit_status',
           'StorageError', 'as_storage_error', 'OptionError', 'ToolArgumentParser', 'ConfigOptionsAction',
           'print_error',
           'WorkDirLock', 'WorkDirBusy', 'RunInterrupted', 'interrupted_stop', 'stop_on_signals',
           'stop_record', 'storage_stop',
           'init_worker', 'die_with_parent', 'stop_worker_processes', 'run_as_owner', 'LAUNCHERS', 'setup_ranks',
           'take_folder', 'wait_for_ranks']
