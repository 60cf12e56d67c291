"""Cutting a whole dataset into patches: worker processes, resume, progress and the summary.

:func:`crop_dataset` runs ``nproc`` worker processes with a progress bar; each image is
read, skipped when its manifest says it was finished with the same settings, else cut and
written (:func:`~samrs_mm.patches.write.write_patches`). Bad images do not stop the run: they
are listed in the summary (``split_summary.json``) and the run's status.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..fileio import atomic_write, claim_settings, load_record
from ..sources.errors import ReadStats
from ..structures.errors import AnnotationError
from .crop import PatchSettings
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

    @property
    def ok(self) -> bool:
        """True when every image was split (done or resumed) or skipped by lenient mode."""
        return not self.failures

    def add(self, result: Dict[str, Any]) -> None:
        """Fold one image's result into the totals."""
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
        return dict(images=self.images, status=dict(self.status),
                    patches_written=self.patches_written,
                    patches_existing=self.patches_existing, patches_empty=self.patches_empty,
                    objects=dict(self.objects), failures=self.failures, skipped=self.skipped,
                    read_stats=self.read_stats.as_dict())

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
        return '\n'.join(lines)


def claim_out_dir(out_dir: str, settings: PatchSettings) -> None:
    """Refuse an output folder cut with other settings (a second window rule would mix two
    sets of patches); record ours in ``split_settings.json``."""
    previous = None
    manifest_dir = osp.join(out_dir, MANIFEST_DIR)
    if osp.isdir(manifest_dir):
        # A folder from before the settings file: its manifests say how it was cut.
        names = sorted(n for n in os.listdir(manifest_dir) if n.endswith('.json'))
        manifest = load_record(osp.join(manifest_dir, names[0])) if names else None
        if manifest and isinstance(manifest.get('settings'), dict):
            previous = {**_EARLIER_DEFAULTS, **manifest['settings']}
    claim_settings(osp.join(out_dir, SETTINGS_FILE), settings.as_dict(),
                   'continue it with the same options (e.g. --window-rule), or give another --out-dir',
                   previous)


def crop_dataset(source, out_dir: str, settings: Optional[PatchSettings] = None,
                  nproc: int = 1, resume: bool = True, progress: bool = True,
                  indices: Optional[Sequence[int]] = None) -> CropSummary:
    """Cut every image of ``source`` (a reader) into patches under ``out_dir``; return the summary.

    Runs ``nproc`` worker processes with a progress bar. Bad images do not stop the run:
    they are listed in ``summary.failures`` (check ``summary.ok``). With ``resume`` images
    finished earlier with the same settings are skipped. ``split_summary.json`` is written
    to ``out_dir``.
    """
    from tqdm import tqdm
    settings = settings or PatchSettings()
    claim_out_dir(out_dir, settings)
    todo = list(range(len(source))) if indices is None else list(indices)
    summary = CropSummary(read_stats=ReadStats(getattr(source, 'name', '')))
    if nproc <= 1:
        _init_worker(source, out_dir, settings, resume)
        results = map(_crop_one, todo)
        pool = None
    else:
        import multiprocessing as mp
        pool = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn').Pool(
            nproc, initializer=_init_worker, initargs=(source, out_dir, settings, resume))
        results = pool.imap_unordered(_crop_one, todo, chunksize=1)
    # The bar (and its monitor thread) comes after the fork, so no child inherits its locks.
    bar = tqdm(total=len(todo), desc='split', unit='img', disable=not progress, dynamic_ncols=True)
    try:
        for result in results:
            summary.add(result)
            bar.update(1)
            bar.set_postfix(patches=summary.patches_written, failed=len(summary.failures))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    summary.failures.sort()
    summary.skipped.sort()
    atomic_write(osp.join(out_dir, 'split_summary.json'),
                 json.dumps(summary.as_dict(), indent=1, default=str).encode('utf-8'))
    return summary
