"""Cutting a whole dataset into patches: worker processes, resume, progress and the summary.

:func:`crop_dataset` runs ``nproc`` worker processes with a progress bar; each image is
read, skipped when its manifest says it was finished with the same settings, else cut and
written (:func:`~samrs_mm.patches.write.write_patches`). Bad images do not stop the run: they
are listed in the summary (``split_summary.json``) and the run's status.

What stops it early (:mod:`samrs_mm.runs`): a stop signal raised as
:class:`~samrs_mm.runs.RunInterrupted`, or an output folder that cannot be written (disk full,
read-only). Finished images are kept, the workers are ended at once (and die with the
parent in any case), and the summary says why the run stopped and what it did not reach.
Two images with one file stem are refused before any work (their patches would collide).
"""
from __future__ import annotations

import functools
import json
import os
import os.path as osp
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..fileio import atomic_write, claim_settings, load_record
from ..runs import (
    EXIT_FAILED,
    EXIT_STORAGE,
    RunInterrupted,
    as_storage_error,
    init_worker,
    interrupted_stop,
    stop_record,
)
from ..sources.base import duplicate_stems, duplicate_stems_message
from ..sources.errors import ReadStats
from ..structures.errors import AnnotationError
from .crop import PatchSettings, recorded_settings
from .write import MANIFEST_DIR, finished_manifest, write_patches

__all__ = ['SETTINGS_FILE', 'CropSummary', 'crop_dataset', 'claim_out_dir']

SETTINGS_FILE = 'split_settings.json'
# What folders cut before these settings existed were made with.
_EARLIER_DEFAULTS = dict(window_rule='pad', label_header=True)

_WORKER: Dict[str, Any] = {}


def _init_worker(source, out_dir: str, settings: PatchSettings, resume: bool) -> None:
    # Do not touch OpenCV's thread settings here: cv2.setNumThreads() in a forked child
    # joins the parent's (absent) pool threads and hangs.
    _WORKER.update(source=source, out_dir=out_dir, settings=settings, resume=resume)


def _init_pool_worker(parent_pid: int, *args) -> None:
    init_worker(parent_pid, obey_sigterm=True)  # dies with the parent; Pool.terminate stops it
    _init_worker(*args)


def _crop_one(index: int) -> Dict[str, Any]:
    """Cut image ``index`` of the worker's source; never raises (failures are reported)."""
    from ..sources.image_io import load_image
    source, out_dir = _WORKER['source'], _WORKER['out_dir']
    settings, resume = _WORKER['settings'], _WORKER['resume']
    result: Dict[str, Any] = dict(index=index, status='failed', stats=None)
    try:
        record, stats = source.read_with_stats(index)
        result['stats'] = stats
        result['stem'] = record.stem
        if 'skip_reason' in record.meta:
            result.update(status='skipped', error=record.meta.get('error', ''))
            return result
        if resume:
            manifest = finished_manifest(out_dir, record.stem, settings)
            if manifest is not None:
                result.update(status='resumed', manifest=manifest)
                return result
        image = load_image(record)
        manifest = write_patches(record, image, out_dir, source.classes, settings)
        result.update(status='done', manifest=manifest)
    except AnnotationError as exc:
        result.update(error=str(exc))
    except Exception as exc:  # a bug or an I/O failure: report it, keep the other images going
        storage = as_storage_error(exc, folder=out_dir)
        if storage is not None:  # every later image would fail the same way: the run stops
            result.update(status='storage', error=str(storage))
        else:
            result.update(error=f'{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}')
    return result


@dataclass
class CropSummary:
    """Totals of a split run; ``failures`` lists ``(index, message)`` of images not split."""

    images: int = 0
    status: Counter = field(default_factory=Counter)
    patches_written: int = 0
    patches_existing: int = 0
    patches_empty: int = 0
    objects: Counter = field(default_factory=Counter)
    failures: List[Tuple[int, str]] = field(default_factory=list)
    skipped: List[Tuple[int, str]] = field(default_factory=list)
    read_stats: ReadStats = field(default_factory=ReadStats)
    not_reached: int = 0                 # images a stopped run did not get to
    stopped: Optional[dict] = None       # why the run stopped early (reason, detail, exit_status)

    @property
    def ok(self) -> bool:
        """True when every image was split (done or resumed) or skipped by lenient mode."""
        return not self.failures and self.stopped is None

    @property
    def exit_status(self) -> int:
        """The tool's exit status (docs/runs.md)."""
        if self.stopped is not None:
            return int(self.stopped['exit_status'])
        return EXIT_FAILED if self.failures else 0

    def add(self, result: Dict[str, Any]) -> None:
        """Fold one image's result into the totals (a ``'storage'`` result is not one)."""
        if result['status'] == 'storage':
            return
        self.images += 1
        self.status[result['status']] += 1
        if result.get('stats') is not None:
            self.read_stats.merge(result['stats'])
        if result['status'] == 'failed':
            self.failures.append((result['index'], result.get('error', '')))
        elif result['status'] == 'skipped':
            self.skipped.append((result['index'], result.get('error', '')))
        manifest = result.get('manifest')
        if manifest is None:
            return
        self.objects.update(manifest['accounting'])
        if result['status'] == 'done':
            self.patches_written += manifest['written']
            self.patches_existing += manifest['existing']
        else:
            self.patches_existing += len(manifest['patches'])
        self.patches_empty += manifest['empty']

    def as_dict(self) -> dict:
        """Plain-dict form, written to ``split_summary.json``."""
        data = dict(images=self.images, status=dict(self.status),
                    patches_written=self.patches_written,
                    patches_existing=self.patches_existing, patches_empty=self.patches_empty,
                    objects=dict(self.objects), failures=self.failures, skipped=self.skipped,
                    read_stats=self.read_stats.as_dict())
        if self.stopped is not None:
            data.update(complete=False, stopped=self.stopped, not_reached=self.not_reached,
                        rerun='rerun the same command: finished images are kept and skipped')
        return data

    def report(self) -> str:
        """Human-readable summary printed at the end of a run."""
        obj = self.objects
        status = ', '.join(f'{k} {v}' for k, v in sorted(self.status.items()))
        lines = [
            f'images: {self.images} ({status})',
            f'patches: {self.patches_written} written, {self.patches_existing} already there, '
            f'{self.patches_empty} empty (not written)',
            f'objects: {obj.get("objects", 0)} = {obj.get("kept", 0)} kept whole + '
            f'{obj.get("clipped", 0)} only clipped + {obj.get("difficult", 0)} only as '
            f'truncated-difficult + {obj.get("dropped", 0)} dropped (iof below threshold)',
        ]
        if self.read_stats.num_skipped or self.read_stats.unknown_classes:
            lines.append(self.read_stats.summary())
        for index, message in self.skipped[:10]:
            lines.append(f'SKIPPED image #{index}: {message}')
        for index, message in self.failures[:20]:
            lines.append(f'FAILED image #{index}: {message}')
        if len(self.failures) > 20:
            lines.append(f'... and {len(self.failures) - 20} more failures '
                         '(see split_summary.json)')
        if self.stopped is not None:
            lines.append(f'STOPPED ({self.stopped["detail"]}): {self.not_reached} image(s) not reached; '
                         'finished images are kept, rerun the same command to finish')
        return '\n'.join(lines)


def claim_out_dir(out_dir: str, settings: PatchSettings) -> None:
    """Refuse an output folder cut with other settings (a second window rule would mix two
    sets of patches); record ours in ``split_settings.json``."""
    path = osp.join(out_dir, SETTINGS_FILE)
    recorded = load_record(path)
    if recorded is not None and recorded_settings(recorded) != recorded:
        # Written before some settings existed: say what the folder was cut with.
        atomic_write(path, json.dumps(recorded_settings(recorded), indent=2, sort_keys=True).encode())
    previous = None
    manifest_dir = osp.join(out_dir, MANIFEST_DIR)
    if recorded is None and osp.isdir(manifest_dir):
        # A folder from before the settings file: its manifests say how it was cut.
        names = sorted(n for n in os.listdir(manifest_dir) if n.endswith('.json'))
        manifest = load_record(osp.join(manifest_dir, names[0])) if names else None
        if manifest and isinstance(manifest.get('settings'), dict):
            previous = recorded_settings({**_EARLIER_DEFAULTS, **manifest['settings']})
    claim_settings(path, settings.as_dict(),
                   'continue it with the same options (e.g. --window-rule, --cut-rule), or give another --out-dir',
                   previous)


def crop_dataset(source, out_dir: str, settings: Optional[PatchSettings] = None,
                  nproc: int = 1, resume: bool = True, progress: bool = True,
                  indices: Optional[Sequence[int]] = None) -> CropSummary:
    """Cut every image of ``source`` (a reader) into patches under ``out_dir``; return the summary.

    Runs ``nproc`` worker processes with a progress bar. Bad images do not stop the run:
    they are listed in ``summary.failures`` (check ``summary.ok``). With ``resume`` images
    finished earlier with the same settings are skipped. ``split_summary.json`` is written
    to ``out_dir``. Images sharing a file stem raise a ValueError before any work; a stop
    signal or an unwritable ``out_dir`` ends the run early (``summary.stopped``).
    """
    from tqdm import tqdm
    settings = settings or PatchSettings()
    todo = list(range(len(source))) if indices is None else list(indices)
    clashes = duplicate_stems(source, todo)
    if clashes:
        raise ValueError(duplicate_stems_message(clashes))
    os.makedirs(out_dir, exist_ok=True)
    claim_out_dir(out_dir, settings)
    summary = CropSummary(read_stats=ReadStats(getattr(source, 'name', '')))
    if nproc <= 1:
        _init_worker(source, out_dir, settings, resume)
        results = map(_crop_one, todo)
        pool = None
    else:
        import multiprocessing as mp
        pool = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn').Pool(
            nproc, initializer=functools.partial(_init_pool_worker, os.getpid()),
            initargs=(source, out_dir, settings, resume))
        results = pool.imap_unordered(_crop_one, todo, chunksize=1)
    # The bar (and its monitor thread) comes after the fork, so no child inherits its locks.
    bar = tqdm(total=len(todo), desc='split', unit='img', disable=not progress, dynamic_ncols=True)
    try:
        for result in results:
            if result['status'] == 'storage':
                summary.stopped = stop_record('storage', result['error'], EXIT_STORAGE)
                break
            summary.add(result)
            bar.update(1)
            bar.set_postfix(patches=summary.patches_written, failed=len(summary.failures))
    except (RunInterrupted, KeyboardInterrupt) as exc:
        summary.stopped = interrupted_stop(exc)
    finally:
        bar.close()
        if pool is not None:
            if summary.stopped is not None:
                pool.terminate()  # workers only cut images: nothing of theirs is worth waiting for
            else:
                pool.close()
            pool.join()
    summary.not_reached = len(todo) - summary.images
    summary.failures.sort()
    summary.skipped.sort()
    try:
        atomic_write(osp.join(out_dir, 'split_summary.json'),
                     json.dumps(summary.as_dict(), indent=1, default=str).encode('utf-8'))
    except OSError as exc:
        if summary.stopped is None or as_storage_error(exc) is None:
            raise
    return summary
