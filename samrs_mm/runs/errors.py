"""Exit statuses of the long-running tools, and the storage errors that stop a run.

Every tool of this package that works through a dataset ends with one of these statuses
(docs/runs.md):

====  ==================================================================================
0     every item was done (or skipped on purpose, e.g. by a lenient reader)
1     the run ended but some items failed (each named in the summary); or ``--fail-fast``
      stopped it at the first failure
2     the run could not start: a bad option or config key, an input that cannot work (two
      images with one file stem), or the output folder is in use by another run; nothing
      was written
3     the run stopped because the output cannot be written (disk full, read-only file
      system, quota, permission); finished items are kept, rerun once there is room
128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); finished items are
      kept and the summary says the run was interrupted; rerun the same command to finish
====  ==================================================================================
"""
from __future__ import annotations

import errno
import os
import signal
from typing import Optional

__all__ = ['EXIT_OK', 'EXIT_FAILED', 'EXIT_USAGE', 'EXIT_STORAGE', 'STORAGE_ERRNOS',
           'describe_exit_status', 'stop_record', 'StorageError', 'as_storage_error', 'storage_stop']

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3

# Errors that no other item of the run could avoid either: stop instead of failing them all.
STORAGE_ERRNOS = frozenset(code for code in (errno.ENOSPC, getattr(errno, 'EDQUOT', None), errno.EROFS,
                                             errno.EACCES, errno.EPERM, getattr(errno, 'EFBIG', None))
                           if code is not None)


def describe_exit_status(status: int) -> str:
    """What an exit status of the tools means, in a few words (for summaries and messages)."""
    if status >= 128:
        try:
            name = signal.Signals(status - 128).name
        except ValueError:
            name = f'signal {status - 128}'
        return f'interrupted by {name}'
    return {EXIT_OK: 'complete', EXIT_FAILED: 'some items failed', EXIT_USAGE: 'could not start',
            EXIT_STORAGE: 'output could not be written'}.get(status, f'status {status}')


def stop_record(reason: str, detail: str, exit_status: int) -> dict:
    """Why a run stopped early, as its summary file records it: ``reason`` (``'interrupted'``,
    ``'storage'``, ``'fail_fast'``, ...), a sentence, and the tool's exit status."""
    return dict(reason=reason, detail=detail, exit_status=int(exit_status))


class StorageError(Exception):
    """The output cannot be written (disk full, read-only, quota, permission).

    Raised by a run in place of the ``OSError``, so that the run stops at once (every later
    item would fail the same way), keeps what it finished and exits with
    :data:`EXIT_STORAGE`. ``path`` is the file or folder that could not be written.
    """

    def __init__(self, path: str, errno_code: Optional[int], reason: str, folder: str = '') -> None:
        self.path = path
        self.errno = errno_code
        self.reason = reason
        self.folder = folder
        where = f' (output folder {folder})' if folder and not path.startswith(folder) else ''
        super().__init__(f'cannot write {path}{where}: {reason}')


def as_storage_error(exc: BaseException, path: str = '', folder: str = '') -> Optional[StorageError]:
    """``exc`` as a :class:`StorageError` when it is an ``OSError`` of :data:`STORAGE_ERRNOS`, else None.

    ``path`` names what was being written when the error does not say (it often names a
    temporary file, so the caller's target path is clearer); of a two-path error (a copy, a
    rename) the second path is the one written.
    """
    if isinstance(exc, StorageError):
        return exc
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    target = path or exc.filename2 or exc.filename or folder or '?'
    return StorageError(os.fspath(target), exc.errno, exc.strerror or os.strerror(exc.errno), folder)


def storage_stop(exc: StorageError) -> dict:
    """The :func:`stop_record` of a run stopped by ``exc``."""
    return stop_record('storage', str(exc), EXIT_STORAGE)
