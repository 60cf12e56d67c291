"""One owner per output folder: a lock file that a second run cannot take, and a killed run cannot keep.

:class:`WorkDirLock` holds an exclusive ``flock`` on ``<folder>/.samrs_mm.lock`` for the
whole run and writes into it who holds it (host, process id, command, start time). The
kernel drops the lock when the holder's last descriptor closes, so a run killed with
``kill -9`` leaves at most a stale file that the next run takes over at once. A second run
on the same folder gets :class:`WorkDirBusy`, whose message names the running one.

Worker processes forked from the holder inherit its descriptor; :func:`release_in_child`
(called by :func:`samrs_mm.runs.workers.init_worker`) closes it there, so only the
holder's own lifetime counts. On file systems without ``flock`` (some Lustre mounts) the
run goes on unlocked, with a warning.
"""
from __future__ import annotations

import datetime
import errno
import json
import os
import os.path as osp
import shlex
import socket
import sys
import warnings
from typing import Optional, Set

from .errors import as_storage_error

__all__ = ['LOCK_FILE', 'WorkDirBusy', 'WorkDirLock', 'release_in_child']

LOCK_FILE = '.samrs_mm.lock'

# Descriptors of the locks this process holds (closed in forked workers).
_HELD: Set[int] = set()


class WorkDirBusy(RuntimeError):
    """Another run holds the folder; the message names it (host, pid, command, start)."""

    def __init__(self, folder: str, owner: Optional[dict], lock_path: str) -> None:
        self.folder = folder
        self.owner = owner or {}
        if owner:
            who = (f"pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}: "
                   f"{owner.get('command')}")
        else:
            who = 'a run that has not recorded itself yet'
        super().__init__(f'{folder} is in use by another run ({who}); wait for it to end, or '
                         f'give another output folder (lock file {lock_path})')


def _owner_record() -> dict:
    """Who this process is, for the lock file and the refusal message of a second run."""
    return dict(pid=os.getpid(), host=socket.gethostname(),
                started=datetime.datetime.now().isoformat(timespec='seconds'),
                command=' '.join(shlex.quote(a) for a in [osp.basename(sys.executable)] + sys.argv))


def _read_owner(fd: int) -> Optional[dict]:
    try:
        data = os.pread(fd, 65536, 0)
        owner = json.loads(data.decode('utf-8')) if data else None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


class WorkDirLock:
    """Exclusive ownership of ``folder`` for one run; a context manager.

    ``acquire`` creates the folder when needed and raises :class:`WorkDirBusy` when another
    run holds it, :class:`~samrs_mm.runs.errors.StorageError` when the folder cannot be
    written (read-only, permission, disk full). ``release`` removes the lock file.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = osp.join(folder, LOCK_FILE)
        self._fd: Optional[int] = None
        self.locked = False

    def acquire(self) -> 'WorkDirLock':
        """Take the folder or raise (see the class docstring)."""
        if self._fd is not None:
            return self
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise (as_storage_error(exc, self.folder) or exc) from None
        import fcntl
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise (as_storage_error(exc, self.path, self.folder) or exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise WorkDirBusy(self.folder, owner, self.path) from None
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    os.close(fd)
                    raise
                warnings.warn(f'{self.folder}: this file system cannot lock files ({exc.strerror}); '
                              'a second run on the same folder would not be detected')
                break
            # The previous holder removes the file as it releases it: a lock taken on a file
            # that is no longer at ``path`` protects nothing, so try again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.locked = True
                break
            os.close(fd)
        self._fd = fd
        _HELD.add(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(_owner_record()) + '\n').encode('utf-8'), 0)
        except OSError:
            pass  # a full disk: the lock holds without the owner's name
        return self

    def release(self) -> None:
        """Give the folder up (removes the lock file while still holding it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        if self.locked:
            try:
                os.remove(self.path)
            except OSError:
                pass
        os.close(fd)
        self.locked = False

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def release_in_child() -> None:
    """Close, in a forked child, the lock descriptors inherited from the holder.

    The lock stays with the parent (``flock`` belongs to the open file, shared by both
    descriptors until the child's copy is closed).
    """
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()
