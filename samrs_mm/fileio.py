"""Files that survive kills: atomic writes and the records that mark finished work.

Every long-running stage (patch cropping, labelling, dataset conversion, split lists) writes
its outputs with :func:`atomic_write` / :func:`atomic_open` (a temporary file on the same
file system, then one rename: a reader sees the old file or the complete new one, never half
of it), and resumes by reading, per item, a json record written after the item's outputs
(:func:`load_record`, :func:`record_is_current`): an item whose record is current is skipped.
An output folder remembers the settings it was made with (:func:`claim_settings`), so a rerun
with other settings is refused instead of mixing two kinds of output.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import os.path as osp
from typing import IO, Any, Iterable, Iterator, Mapping, Optional

__all__ = ['temp_path', 'atomic_open', 'atomic_write', 'load_record', 'record_is_current', 'SettingsMismatch',
           'claim_settings']

_COUNTER = itertools.count()


def temp_path(path: str, tmp_dir: Optional[str] = None) -> str:
    """A fresh temporary name for ``path``: beside it, or in ``tmp_dir`` (same file system).

    The name carries the process id and a counter, so concurrent writers never share one,
    and it never ends in the target's extension (globs such as ``*.png`` skip it).
    """
    if tmp_dir is None:
        return f'{path}.tmp{os.getpid()}'
    os.makedirs(tmp_dir, exist_ok=True)
    return osp.join(tmp_dir, f'{os.getpid()}-{next(_COUNTER)}-{osp.basename(path)}')


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'wb', tmp_dir: Optional[str] = None,
                **open_kwargs) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` when the block ends normally.

    On an exception the temporary file is removed and ``path`` is left as it was; an
    ``OSError`` about the temporary file (a full disk) is re-raised naming ``path``.
    """
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    tmp = temp_path(path, tmp_dir)
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError) and exc.filename in (tmp, None):
            exc.filename = path
        raise


def atomic_write(path: str, data: bytes, tmp_dir: Optional[str] = None) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, 'wb', tmp_dir) as handle:
        handle.write(data)


def load_record(path: str) -> Optional[dict]:
    """The json object of a finished item's record; None when it is missing or unreadable
    (a torn or foreign file means the item is redone, never trusted)."""
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_is_current(record: Optional[Mapping[str, Any]], match: Mapping[str, Any] = (),
                      outputs: Iterable[str] = ()) -> bool:
    """True when ``record`` exists, holds every ``match`` key with that value (the run's
    settings), and every path in ``outputs`` exists (a link counts even if dangling)."""
    if record is None:
        return False
    if any(record.get(key) != value for key, value in dict(match).items()):
        return False
    return all(osp.lexists(path) for path in outputs)


class SettingsMismatch(ValueError):
    """An output folder was made with other settings than the run's."""


def claim_settings(path: str, settings: Mapping[str, Any], remedy: str,
                   previous: Optional[Mapping[str, Any]] = None) -> None:
    """Record ``settings`` at ``path`` (json), after refusing a folder made with other ones.

    ``previous`` stands in for the settings of a folder made before ``path`` was written
    (read from its other records by the caller). Raises :class:`SettingsMismatch` naming
    the settings that differ and ``remedy`` (what the user can do).
    """
    previous = load_record(path) or previous
    settings = json.loads(json.dumps(dict(settings)))  # the json form, as it is stored
    if previous is not None and dict(previous) != settings:
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        before = {k: previous.get(k) for k in changed}
        now = {k: settings.get(k) for k in changed}
        raise SettingsMismatch(f'{path}: {osp.dirname(path) or "."} was made with other settings '
                               f'({", ".join(changed)} differ: {before} vs {now}); {remedy}')
    atomic_write(path, json.dumps(settings, indent=2, sort_keys=True).encode())
