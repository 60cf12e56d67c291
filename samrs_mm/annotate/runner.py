"""Run the labelling of a whole dataset: source -> DataLoader -> engine -> writers, then merge.

:class:`AnnotateRunner` takes the annotate config (docs/annotate.md): ``source`` (passed to
:func:`~samrs_mm.sources.build_source`), ``engine`` (passed to
:func:`~samrs_mm.annotate.engine.build_engine`), ``writer`` (:class:`LabelWriter` settings
plus ``splits``) and ``runner`` (workers, failure policy). What it guarantees:

* **Parallel decoding.** A torch ``DataLoader`` with ``num_workers`` processes parses the
  annotations and decodes the images; the main process runs the engine and writes.
* **Resume.** An image whose ``instances/<stem>.json`` exists with the same settings
  fingerprint is skipped before its pixels are decoded; every file is written atomically.
  Killed at any moment and restarted, a run ends with the same files as an uninterrupted one.
* **Shards.** With ``world_size`` processes, rank ``r`` labels images ``r, r + N, ...``; every
  image is covered exactly once. After a barrier rank 0 merges all shards into
  ``annotations.json`` and ``summary.json``.
* **Accounting.** Every source image ends as labelled, skipped (a lenient source could not
  use it) or failed (error naming the file); failures never stop the other images unless
  ``fail_fast``. ``summary.json`` holds only what the finished labels determine (identical
  after a resume); timings and per-run counts go to ``logs/``.
* **Stops.** A run stopped early (a stop signal, a full or read-only disk, ``fail_fast``)
  keeps every finished image, removes its temporary files and writes a ``summary.json`` that
  says why it stopped and how many images it did not reach; ``RunSummary.stopped`` carries
  the tool's exit status (:mod:`samrs_mm.runs`).
* **One prompt batch size.** With ``prompt_batch_size='auto'`` the size is measured once per
  work dir on a throw-away pass and kept in ``prompt_batch_size/``
  (:class:`~samrs_mm.annotate.batch_size.BatchSizeStore`); every rank and every resume reads
  it, so the files never depend on timing, on the number of ranks or on where a run resumed.
* **Unique names.** Two source images with one file stem would overwrite each other's
  labels: they are refused before any work, both named.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import os.path as osp
import shutil
import sys
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..runs import (
    EXIT_FAILED,
    RunInterrupted,
    StorageError,
    as_storage_error,
    init_worker,
    interrupted_stop,
    stop_record,
    stop_worker_processes,
    storage_stop,
)
from .batch_size import BatchSizeStore
from .writers import TMP_DIR_NAME, AtomicFiles, LabelWriter, merge_annotations, read_instances

__all__ = ['sam_weights_problem', 'AnnotateConfigError', 'ItemOutcome', 'RunSummary', 'AnnotateRunner',
           'settings_fingerprint',
           'RUNNER_DEFAULTS', 'WRITER_DEFAULTS']

RUNNER_DEFAULTS: Dict[str, Any] = dict(
    num_workers=2,          # DataLoader processes that parse annotations and decode images
    fail_fast=False,        # stop at the first failed image instead of labelling the rest
    progress=True,          # progress bar (rank 0)
    dist_timeout=7 * 24 * 3600,  # seconds rank 0 may wait for the slowest rank
    stretch=(2.0, 98.0),    # percentile stretch of non-8-bit rasters (load_image)
    bands=None,             # 1-based bands of multi-band rasters (load_image)
)
# Folder of the work dir that keeps the prompt batch sizes 'auto' decided.
BATCH_SIZE_DIR = 'prompt_batch_size'
# Seconds rank 0 of a stopped multi-rank run waits for the other ranks' accounts.
_STOPPED_SHARD_WAIT = 5.0
WRITER_DEFAULTS: Dict[str, Any] = dict(
    overlap='small_on_top', ignore_index=255, copy_images=None, color=True, geotiff=True,
    image_root=None, palette=None, splits=None,
    # Not part of the fingerprint: turning it on relabels only images without a vector file.
    vector=None)

# Engine keys that change what is written; device and batch sizes only change speed.
# 'backend' names the model family and 'model_type' the model, so a resumed run never mixes models.
_FINGERPRINT_ENGINE_KEYS = ('backend', 'model_type', 'checkpoint', 'random_init', 'random_seed', 'prompt',
                            'rotated_only_sources', 'multimask_output', 'dtype',
                            # TF32 changes CUDA masks (logit differences up to ~1e-4 flip pixels).
                            'allow_tf32')
# Keys only some families read: part of the fingerprint for those families only, so the
# fingerprints of the other configurations (and their existing work dirs) stay as they were.
_FINGERPRINT_FAMILY_KEYS = {'sam_hq': ('hq_token_only',)}


class AnnotateConfigError(ValueError):
    """The annotate config cannot run (bad key, missing weights, unreadable source folder)."""


@dataclass
class ItemOutcome:
    """What happened to one source image."""

    index: int
    status: str                     # 'labelled' | 'resumed' | 'skipped' | 'failed'
    stem: str = ''
    file: str = ''
    objects: int = 0
    empty_masks: int = 0
    error: str = ''
    stats: Optional[dict] = None    # ReadStats.as_dict() of reading this image

    @property
    def has_labels(self) -> bool:
        """True when the image's label files exist at the end."""
        return self.status in ('labelled', 'resumed')


@dataclass
class RunSummary:
    """End-of-run numbers (rank 0 has the totals of every rank)."""

    images: int = 0
    labelled: int = 0
    labelled_now: int = 0
    resumed: int = 0
    objects: int = 0
    objects_now: int = 0
    empty_masks: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: List[dict] = field(default_factory=list)
    work_dir: str = ''
    read_stats: dict = field(default_factory=dict)   # what the source skipped (rank 0)
    not_reached: int = 0                             # images a stopped run did not get to
    stopped: Optional[dict] = None                   # why the run stopped early (reason, detail, exit_status)

    @classmethod
    def of_outcomes(cls, outcomes: List[ItemOutcome], seconds: float, work_dir: str,
                    images: Optional[int] = None, **extra) -> 'RunSummary':
        """The counts of ``outcomes`` (one per image handled); ``images`` defaults to their number."""
        return cls(
            images=len(outcomes) if images is None else images,
            labelled=sum(o.has_labels for o in outcomes),
            labelled_now=sum(o.status == 'labelled' for o in outcomes),
            resumed=sum(o.status == 'resumed' for o in outcomes),
            objects=sum(o.objects for o in outcomes if o.has_labels),
            objects_now=sum(o.objects for o in outcomes if o.status == 'labelled'),
            empty_masks=sum(o.empty_masks for o in outcomes if o.has_labels),
            skipped=sum(o.status == 'skipped' for o in outcomes),
            failed=sum(o.status == 'failed' for o in outcomes), seconds=seconds,
            failures=[dict(index=o.index, file=o.file, error=o.error) for o in outcomes if o.status == 'failed'],
            work_dir=work_dir, **extra)

    @property
    def objects_per_second(self) -> float:
        """Objects labelled by this run per wall-clock second."""
        return self.objects_now / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True when the run reached every image and none failed."""
        return self.failed == 0 and self.stopped is None

    @property
    def exit_status(self) -> int:
        """The tool's exit status (docs/runs.md): the stop's, else 1 when an image failed, else 0."""
        if self.stopped is not None:
            return int(self.stopped['exit_status'])
        return EXIT_FAILED if self.failed else 0

    def line(self) -> str:
        """One-line human summary."""
        text = (f'images {self.images} | labelled {self.labelled} (this run {self.labelled_now}, '
                f'resumed {self.resumed}) | objects {self.objects} | empty masks {self.empty_masks} | '
                f'skipped {self.skipped} | failed {self.failed} | {self.objects_per_second:.1f} objects/s')
        if self.stopped is not None:
            text += f' | not reached {self.not_reached} ({self.stopped["detail"]})'
        return text


def _plain(obj):
    """Config values as plain json types (ConfigDict -> dict, tuples -> lists)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, type):
        return obj.__name__
    if isinstance(obj, (np.generic,)):
        return obj.item()
    return obj


def settings_fingerprint(engine_cfg: dict, writer_cfg: dict, classes: Sequence[str]) -> str:
    """Short hash of every setting that changes the written files (not device or batch sizes)."""
    keys = _FINGERPRINT_ENGINE_KEYS + _FINGERPRINT_FAMILY_KEYS.get(engine_cfg.get('backend'), ())
    engine = {k: engine_cfg.get(k) for k in keys}
    if engine.get('checkpoint'):
        # The weights matter, not where they are stored.
        engine['checkpoint'] = osp.basename(str(engine['checkpoint']))
    writer = {k: writer_cfg.get(k) for k in ('overlap', 'ignore_index', 'copy_images', 'color', 'geotiff',
                                              'image_root', 'palette')}
    text = json.dumps(_plain(dict(engine=engine, writer=writer, classes=list(classes))), sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


OFFICIAL_SAM_CHECKPOINTS = ('official SAM checkpoints: https://github.com/facebookresearch/segment-anything'
                            '#model-checkpoints (vit_h: https://dl.fbaipublicfiles.com/segment_anything/'
                            'sam_vit_h_4b8939.pth)')


def _official_weights_hint(backend: str, model_type) -> str:
    """Where the official weights of a SAM family's model type are (one line)."""
    if backend == 'segment_anything':
        return OFFICIAL_SAM_CHECKPOINTS
    from .sam_models import FAMILY_NAMES, OFFICIAL_CHECKPOINTS
    urls = OFFICIAL_CHECKPOINTS.get(backend, {})
    url = urls.get(model_type) or ', '.join(f'{t}: {u}' for t, u in urls.items())
    return (f"official {FAMILY_NAMES[backend]} weights: {url} (or engine.checkpoint='official' with "
            f'engine.download=True)')


def sam_weights_problem(engine_cfg: dict) -> Optional[str]:
    """Why a SAM-family model cannot be built from ``engine_cfg`` (checkpoint missing), with the fix; None if fine.

    Checked before any work starts, so a long run never fails on its first image for this.
    """
    from .sam_models import FAMILY_NAMES, SAM_FAMILIES
    backend = engine_cfg.get('backend', 'segment_anything')
    if backend not in SAM_FAMILIES:
        return None
    name = FAMILY_NAMES[backend]
    hint = _official_weights_hint(backend, engine_cfg.get('model_type'))
    checkpoint = engine_cfg.get('checkpoint')
    if str(checkpoint).strip() in ('', 'none', 'None'):
        checkpoint = None
    if not checkpoint and not engine_cfg.get('random_init'):
        example = 'sam_vit_h_4b8939.pth' if backend == 'segment_anything' else 'WEIGHTS_FILE'
        return (f"engine.backend={backend!r} needs {name} weights and engine.checkpoint is not set.\n"
                f'  give them:     --cfg-options engine.checkpoint=/path/to/{example} '
                '(or set SAM_CHECKPOINT for the configs in configs/annotate)\n'
                '  or skip SAM:   --cfg-options engine.backend=box   (fills each box: a baseline, not SAM masks)\n'
                f'  {hint}')
    if checkpoint and checkpoint != 'official' and not osp.isfile(osp.expanduser(str(checkpoint))):
        return (f'{name} checkpoint not found: {checkpoint} (cwd {os.getcwd()}).\n'
                f'  {hint}; or label without SAM: --cfg-options engine.backend=box')
    return None


def _merge_read_stats(stats_dicts: Sequence[Optional[dict]], source_name: str) -> dict:
    """Sum ReadStats dicts (in the given order, so examples are deterministic)."""
    from ..sources.errors import ReadStats
    total = ReadStats(source_name)
    for d in stats_dicts:
        if not d:
            continue
        part = ReadStats(d.get('source', source_name))
        part.images = d.get('images', 0)
        part.instances = d.get('instances', 0)
        part.skipped_images.update(d.get('skipped_images', {}))
        part.skipped_instances.update(d.get('skipped_instances', {}))
        part.unknown_classes.update(d.get('unknown_classes', {}))
        part.examples = {k: list(v) for k, v in d.get('examples', {}).items()}
        total.merge(part)
    out = total.as_dict()
    # Counters keep first-seen order; sort for stable files.
    for key in ('skipped_images', 'skipped_instances', 'unknown_classes'):
        out[key] = dict(sorted(out[key].items()))
    out['examples'] = dict(sorted(out['examples'].items()))
    return out


def _error_text(exc: BaseException) -> str:
    """Message of an error; unexpected types keep their name so bugs stay recognisable."""
    from ..sources.errors import AnnotationError
    if isinstance(exc, (AnnotationError, ValueError, FileNotFoundError)):
        return str(exc)
    return f'{type(exc).__name__}: {exc}'


class _LoadedItem:
    """What a DataLoader worker hands over for one source image."""

    __slots__ = ('index', 'status', 'record', 'image', 'error', 'file', 'stats')

    def __init__(self, index, status, record=None, image=None, error='', file='', stats=None):
        self.index, self.status, self.record, self.image = index, status, record, image
        self.error, self.file, self.stats = error, file, stats


class _ShardDataset(torch.utils.data.Dataset):
    """The source images of one shard: parses, checks resume state, decodes (in workers)."""

    def __init__(self, source, indices: Sequence[int], writer: LabelWriter, fingerprint: str,
                 stretch, bands) -> None:
        self.source = source
        self.indices = list(indices)
        self.writer = writer
        self.fingerprint = fingerprint
        self.stretch = tuple(stretch)
        self.bands = bands

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> _LoadedItem:
        from ..sources.image_io import load_image
        index = self.indices[k]
        try:
            record, stats = self.source.read_with_stats(index)
        except Exception as exc:  # noqa: BLE001 - reported per image, never lost
            return _LoadedItem(index, 'failed', error=_error_text(exc), file=getattr(exc, 'path', '') or '')
        stats = stats.as_dict()
        if 'skip_reason' in record.meta:
            return _LoadedItem(index, 'skipped', record=record, error=record.meta.get('error', ''),
                               file=record.ann_path or record.image_path, stats=stats)
        try:
            if self.writer.finished(record, self.fingerprint):
                return _LoadedItem(index, 'resumed', record=record, stats=stats)
            image = load_image(record, stretch=self.stretch, bands=self.bands)
        except Exception as exc:  # noqa: BLE001
            return _LoadedItem(index, 'failed', record=record, error=_error_text(exc),
                               file=getattr(exc, 'path', '') or record.image_path, stats=stats)
        return _LoadedItem(index, 'todo', record=record, image=image, stats=stats)


def _identity_collate(items):
    return items


class _FailFast(Exception):
    """``fail_fast``: the first failed image stops the run."""


def _config_problem(key: str, value, valid: str) -> AnnotateConfigError:
    return AnnotateConfigError(f'{key}: got {value!r}; valid: {valid}')


class AnnotateRunner:
    """Labels the images of one source into a work dir (see the module docstring).

    Args:
        cfg: dict with ``source``, ``engine``, ``work_dir`` and optional ``writer`` / ``runner``.
        rank, world_size: this process's shard (rank 0 merges).
        engine: an already built engine (tests, notebooks); else built from ``cfg['engine']``
            when the first image needs labelling.
        barrier: callable that waits for every rank (required when ``world_size > 1``).
        run_id: the same string on every rank of one run (marks its shard accounts); drawn
            at random when not given.

    The tools hold the work dir's :class:`~samrs_mm.runs.WorkDirLock` and turn stop signals
    into :class:`~samrs_mm.runs.RunInterrupted` (:func:`~samrs_mm.runs.stop_on_signals`);
    code calling :meth:`run` directly may do the same.
    """

    def __init__(self, cfg: dict, rank: int = 0, world_size: int = 1, engine=None, barrier=None,
                 log=print, run_id: Optional[str] = None) -> None:
        cfg = _plain(dict(cfg))
        unknown = sorted(set(cfg) - {'source', 'engine', 'writer', 'runner', 'work_dir'})
        if unknown:
            raise AnnotateConfigError(f'unknown top-level annotate config key(s) {unknown}; expected source, '
                                      f'engine, writer, runner, work_dir')
        for key in ('source', 'engine', 'work_dir'):
            if not cfg.get(key):
                raise AnnotateConfigError(f'the annotate config needs {key!r}')
        self.cfg = cfg
        self.work_dir = cfg['work_dir']
        self.runner_cfg = self._with_defaults('runner', RUNNER_DEFAULTS)
        self._check_runner_values()
        self.writer_cfg = self._with_defaults('writer', WRITER_DEFAULTS)
        self.engine_cfg = dict(cfg['engine'])
        if str(self.engine_cfg.get('checkpoint')).strip() in ('', 'none', 'None'):
            # Configs spell "no checkpoint" as 'none' (mmengine's env placeholders need a default).
            self.engine_cfg['checkpoint'] = None
        self.rank, self.world_size = int(rank), int(world_size)
        if self.world_size > 1 and barrier is None:
            raise ValueError('a distributed run needs a barrier callable')
        self.barrier = barrier or (lambda: None)
        self.log = log
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._engine = engine
        self.source = self._build_source()
        try:
            self.classes = tuple(self.source.classes)
        except ValueError as exc:
            raise AnnotateConfigError(f'source.class_list: {exc}') from None
        from ..sources import duplicate_stems, duplicate_stems_message
        clashes = duplicate_stems(self.source)
        if clashes:
            raise AnnotateConfigError(duplicate_stems_message(clashes))
        writer_kwargs = {k: v for k, v in self.writer_cfg.items() if k != 'splits'}
        if writer_kwargs.get('image_root') is None and not writer_kwargs.get('copy_images'):
            writer_kwargs['image_root'] = self._default_image_root()
        self.writer_cfg['image_root'] = writer_kwargs['image_root']
        try:
            self.writer = LabelWriter(self.work_dir, self.classes, **writer_kwargs)
        except (TypeError, ValueError) as exc:
            raise AnnotateConfigError(f'writer config: {exc}') from None
        from .engine import ENGINE_DEFAULTS, EngineConfigError, check_engine_config
        try:
            # Unknown keys and bad prompts fail here, before any image is read; SAM itself is
            # loaded only when an image needs it.
            check_engine_config(self.engine_cfg)
            if self.engine_cfg.get('backend') == 'box' and self._engine is None:
                self._engine = self._build_engine()
        except (EngineConfigError, ValueError) as exc:
            raise AnnotateConfigError(f'engine config: {exc}') from None
        full_engine = dict(ENGINE_DEFAULTS)
        full_engine.update({k: v for k, v in self.engine_cfg.items() if k != 'type'})
        self.fingerprint = settings_fingerprint(full_engine, self.writer_cfg, self.classes)
        self._stems: Dict[str, str] = {}      # file stem -> image, of the images this process saw
        self._sizes_read = False              # prompt batch sizes of the work dir adopted
        self._published: set = set()          # prompt kinds whose size the work dir records

    # ---- construction ---------------------------------------------------------------------
    def _with_defaults(self, key: str, defaults: Dict[str, Any]) -> Dict[str, Any]:
        given = dict(self.cfg.get(key) or {})
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise AnnotateConfigError(f'unknown {key} config key(s) {unknown}; valid keys: {", ".join(defaults)}')
        merged = dict(defaults)
        merged.update(given)
        return merged

    def _check_runner_values(self) -> None:
        """Refuse runner values that would fail deep inside torch or numpy later."""
        cfg = self.runner_cfg

        def is_int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        if not is_int(cfg['num_workers']) or cfg['num_workers'] < 0:
            raise _config_problem('runner.num_workers', cfg['num_workers'], 'an int >= 0')
        for key in ('fail_fast', 'progress'):
            if not isinstance(cfg[key], bool):
                raise _config_problem(f'runner.{key}', cfg[key], 'True or False')
        timeout = cfg['dist_timeout']
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise _config_problem('runner.dist_timeout', timeout, 'seconds > 0')
        stretch = cfg['stretch']
        if (not isinstance(stretch, (list, tuple)) or len(stretch) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stretch)
                or not 0 <= stretch[0] < stretch[1] <= 100):
            raise _config_problem('runner.stretch', stretch, 'two percentiles (low, high), 0 <= low < high <= 100')
        bands = cfg['bands']
        if bands is not None and (not isinstance(bands, (list, tuple)) or not bands
                                  or not all(is_int(b) and b >= 1 for b in bands)):
            raise _config_problem('runner.bands', bands, 'None or a list of 1-based band numbers')

    def _build_source(self):
        from ..sources import build_source
        from ..sources.class_maps import resolve_class_list
        source_cfg = dict(self.cfg['source'])
        try:
            resolve_class_list(source_cfg.get('class_list'))
        except ValueError as exc:
            raise AnnotateConfigError(f'source.class_list: {exc}') from None
        try:
            return build_source(source_cfg)
        except (KeyError, TypeError, ValueError, FileNotFoundError) as exc:
            raise AnnotateConfigError(f'source config {self.cfg["source"]}: {exc}') from None

    def _default_image_root(self) -> Optional[str]:
        img_dir = getattr(self.source, 'img_dir', None)
        if isinstance(img_dir, str):
            return img_dir
        if isinstance(img_dir, (list, tuple)) and img_dir:
            return img_dir[0] if len(img_dir) == 1 else osp.commonpath([osp.abspath(d) for d in img_dir])
        return None

    def _build_engine(self):
        from .engine import EngineConfigError, build_engine
        cfg = dict(self.engine_cfg)
        cfg.pop('type', None)
        if self.world_size > 1 and str(cfg.get('device', 'cpu')) in ('cuda', 'auto') and torch.cuda.is_available():
            # One GPU per rank, as torchrun / Slurm assign them.
            cfg['device'] = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
        try:
            return build_engine(cfg)
        except (EngineConfigError, ValueError, FileNotFoundError) as exc:
            raise AnnotateConfigError(f'engine config: {exc}') from None

    @property
    def engine(self):
        """The labelling engine, built on first use (a fully resumed run never loads SAM)."""
        if self._engine is None:
            self._engine = self._build_engine()
        return self._engine

    # ---- running --------------------------------------------------------------------------
    def shard_indices(self) -> List[int]:
        """Source indices this rank labels."""
        return list(range(self.rank, len(self.source), self.world_size))

    def _tmp_dir(self) -> str:
        return osp.join(self.work_dir, TMP_DIR_NAME, f'pid{os.getpid()}')

    def _shard_path(self, rank: int) -> str:
        return osp.join(self.work_dir, TMP_DIR_NAME, 'shards', f'rank{rank}.json')

    def run(self) -> RunSummary:
        """Label this rank's shard, wait for all ranks, merge on rank 0; return the summary.

        A run stopped early (``summary.stopped``) keeps its finished images and writes a
        summary saying why (rank 0); it does not rebuild ``annotations.json``.
        """
        start = time.perf_counter()
        try:
            os.makedirs(self.work_dir, exist_ok=True)
        except OSError as exc:
            raise (as_storage_error(exc, self.work_dir) or exc) from None
        outcomes, stop = self._label_shard()
        seconds = time.perf_counter() - start
        files = AtomicFiles(self._tmp_dir())
        try:
            return self._after_labelling(outcomes, stop, seconds, files)
        except (RunInterrupted, KeyboardInterrupt) as exc:  # while writing the accounts or merging
            return self._finish_stopped(outcomes, interrupted_stop(exc), seconds, files)

    def _after_labelling(self, outcomes: List[ItemOutcome], stop: Optional[dict], seconds: float,
                         files: AtomicFiles) -> RunSummary:
        """Write this rank's account, wait for the others, merge on rank 0 (or finish a stopped run)."""
        try:
            files.write_json(self._shard_path(self.rank), dict(
                run_id=self.run_id, world_size=self.world_size, seconds=seconds, stopped=stop,
                outcomes=[asdict(o) for o in outcomes]))
        except OSError as exc:
            storage = as_storage_error(exc, self._shard_path(self.rank), self.work_dir)
            if storage is None:
                raise
            stop = stop or storage_stop(storage)
        if stop is None:
            stop = self._wait_for_ranks()
        if stop is not None:
            return self._finish_stopped(outcomes, stop, seconds, files)
        summary = None
        if self.rank == 0:
            try:
                summary = self._merge(files)
            except OSError as exc:
                storage = as_storage_error(exc, folder=self.work_dir)
                if storage is None:
                    raise
                stop = storage_stop(storage)
        self._wait_for_ranks()
        if stop is not None:
            return self._finish_stopped(outcomes, stop, seconds, files)
        if self.rank != 0:
            summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
        return summary

    def _wait_for_ranks(self) -> Optional[dict]:
        """The barrier; a stop record when it was interrupted or another rank is gone."""
        try:
            self.barrier()
        except (RunInterrupted, KeyboardInterrupt) as exc:
            return interrupted_stop(exc)
        except Exception as exc:  # noqa: BLE001 - gloo raises when a peer's connection closes
            return stop_record('rank_lost', f'another process of this run ended early ({type(exc).__name__}: '
                                f'{exc})', EXIT_FAILED)
        return None

    def _label_shard(self) -> Tuple[List[ItemOutcome], Optional[dict]]:
        """Label this rank's images; return their outcomes and why the run stopped early (or None)."""
        indices = self.shard_indices()
        dataset = _ShardDataset(self.source, indices, self.writer, self.fingerprint,
                                self.runner_cfg['stretch'], self.runner_cfg['bands'])
        batch = int(self.engine_cfg.get('image_batch_size', 1) or 1)
        workers = int(self.runner_cfg['num_workers'])
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch, shuffle=False, num_workers=workers, collate_fn=_identity_collate,
            prefetch_factor=4 if workers > 0 else None,
            # Workers die with this process, whatever ends it (no orphans after kill -9).
            worker_init_fn=functools.partial(init_worker, os.getpid()) if workers > 0 else None)
        outcomes: List[ItemOutcome] = []
        stop: Optional[dict] = None
        bar = self._progress(len(indices))
        objects = 0
        batches = None
        try:
            batches = iter(loader)
            for items in batches:
                todo = []
                for item in items:
                    outcome = self._stem_clash(item)
                    if outcome is None and item.status == 'todo':
                        todo.append(item)
                        continue
                    outcome = outcome or self._outcome_of(item)
                    outcomes.append(outcome)
                    self._check_fail_fast(outcome)
                for outcome in self._label_items(todo):
                    outcomes.append(outcome)
                    objects += outcome.objects if outcome.status == 'labelled' else 0
                    self._check_fail_fast(outcome)
                if bar is not None:
                    bar.update(len(items))
                    bar.set_postfix(objects=objects, refresh=False)
        except (RunInterrupted, KeyboardInterrupt) as exc:
            stop = interrupted_stop(exc)
        except StorageError as exc:
            stop = storage_stop(exc)
        except _FailFast as exc:
            stop = stop_record('fail_fast', str(exc), EXIT_FAILED)
        finally:
            if bar is not None:
                bar.close()
            if stop is not None:
                stop_worker_processes()
            shutdown = getattr(batches, '_shutdown_workers', None)
            if shutdown is not None:
                shutdown()
        return outcomes, stop

    def _outcome_of(self, item: _LoadedItem) -> ItemOutcome:
        """The outcome of an image the worker already settled (resumed, skipped, failed)."""
        outcome = ItemOutcome(index=item.index, status=item.status,
                              stem=item.record.stem if item.record is not None else '',
                              file=item.file, error=item.error, stats=item.stats)
        if item.status == 'resumed':
            data = read_instances(self.writer.instances_path(outcome.stem))
            outcome.objects = len(data['objects'])
            outcome.empty_masks = sum(1 for o in data['objects'] if o['area'] == 0)
        return outcome

    def _stem_clash(self, item: _LoadedItem) -> Optional[ItemOutcome]:
        """A failed outcome when another image of this run already has ``item``'s file stem.

        The sources are checked for such images before the run; this catches the ones only
        their annotation reveals (a VOC ``<filename>`` naming another image).
        """
        if item.record is None or item.status not in ('todo', 'resumed'):
            return None
        stem, path = item.record.stem, item.record.image_path
        other = self._stems.setdefault(stem, path)
        if osp.abspath(other) == osp.abspath(path):
            return None
        return ItemOutcome(index=item.index, status='failed', file=path, stats=item.stats,
                           error=f'{path}: its labels would overwrite those of {other} (same file stem '
                                 f'{stem!r}); give images unique names')

    def _progress(self, total: int):
        if not self.runner_cfg['progress'] or self.rank != 0:
            return None
        from tqdm import tqdm
        desc = 'annotate' if self.world_size == 1 else f'annotate (rank 0 of {self.world_size})'
        return tqdm(total=total, desc=desc, unit='img', dynamic_ncols=True, mininterval=1.0, file=sys.stderr)

    def _check_fail_fast(self, outcome: ItemOutcome) -> None:
        if outcome.status == 'failed':
            self.log(f'[samrs_annotate] failed: {outcome.error}')
            if self.runner_cfg['fail_fast']:
                raise _FailFast(f'stopped at the first failed image (fail_fast): {outcome.error.splitlines()[0]}')

    def _label_items(self, items: List[_LoadedItem]) -> Iterator[ItemOutcome]:
        """Label a group of decoded images, yielding each outcome as its files are written;
        a failing group is retried image by image. A full or read-only disk raises
        :class:`~samrs_mm.runs.StorageError` (every later image would fail the same way)."""
        if not items:
            return
        from .backend import AnnotateRequest
        requests = [AnnotateRequest(image=it.image, instances=it.record.instances, source=it.record.source,
                                    name=it.record.image_path) for it in items]
        try:
            results = self._annotate(requests)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001
            if len(items) == 1:
                yield self._failed(items[0], exc)
                return
            # One bad image must not fail its batch neighbours.
            for it in items:
                yield from self._label_items([it])
            return
        for item, masks in zip(items, results):
            try:
                result = self.writer.write(item.record, masks, self.fingerprint, image=item.image)
            except Exception as exc:  # noqa: BLE001
                storage = as_storage_error(exc, folder=self.work_dir)
                if storage is not None:
                    raise storage from exc
                yield self._failed(item, exc)
                continue
            yield ItemOutcome(index=item.index, status='labelled', stem=result.stem, objects=result.objects,
                              empty_masks=result.empty_masks, stats=item.stats)

    @staticmethod
    def _failed(item: _LoadedItem, exc: BaseException) -> ItemOutcome:
        text = _error_text(exc)
        if item.record is not None and item.record.image_path not in text:
            text = f'{item.record.image_path}: {text}'
        if not isinstance(exc, (ValueError, FileNotFoundError)):
            text += '\n' + ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        return ItemOutcome(index=item.index, status='failed', stem=item.record.stem if item.record else '',
                           file=item.record.image_path if item.record else '', error=text, stats=item.stats)

    # ---- one prompt batch size per work dir -------------------------------------------------
    def _auto_sizer(self):
        """The backend's shared prompt batch sizer when it measures (``'auto'``), else None."""
        sizer = getattr(getattr(self.engine, 'backend', None), 'sizer', None)
        return sizer if getattr(sizer, 'measuring', False) else None

    @property
    def batch_size_store(self) -> BatchSizeStore:
        """Where this work dir keeps the prompt batch sizes (per settings and device type)."""
        device = str(getattr(self.engine, 'cfg', {}).get('device') or self.engine_cfg.get('device') or 'cpu')
        return BatchSizeStore(osp.join(self.work_dir, BATCH_SIZE_DIR), f'{self.fingerprint}-{device.split(":")[0]}')

    def _annotate(self, requests: list) -> List[list]:
        """The engine's masks of ``requests``, every prompt batch of a size decided for this work dir.

        With ``prompt_batch_size='auto'`` a size measured on the real work would make these
        masks depend on timing; so the size is decided first on a throw-away pass
        (:meth:`_calibrate`) or read from the work dir, and a pass that still met an
        undecided prompt kind is decided and done again.
        """
        engine = self.engine
        sizer = self._auto_sizer()
        if sizer is None:
            return list(engine.annotate_many(requests))
        if not self._sizes_read:
            self._sizes_read = True
            self._adopt_stored_sizes(sizer)
        if not sizer.decisions():
            self._calibrate(sizer, requests)
        for _ in range(3):
            before = sizer.provisional
            results = list(engine.annotate_many(requests))
            if sizer.provisional == before:
                return results
            self._calibrate(sizer, requests)  # a prompt kind met for the first time
        raise RuntimeError('the prompt batch size could not be decided')

    def _adopt_stored_sizes(self, sizer) -> None:
        for key, size in self.batch_size_store.load_all().items():
            if key in self._published:
                continue
            self._published.add(key)
            used = sizer.adopt(key, size)
            if used != size:
                self.log(f'[samrs_annotate] the work dir keeps prompt batch size {size} for {key!r} prompts, '
                         f'more than this device\'s memory budget allows: using {used} (masks of the images '
                         'labelled from now on may differ from the earlier ones in the last float bits)')

    def _calibrate(self, sizer, requests: list) -> None:
        """Decide the prompt batch size of every prompt kind ``requests`` use, once per work dir.

        A size another rank or an earlier run kept is adopted; else the sizes are timed on
        a throw-away pass over the prompts of the request with most objects, repeated
        until every candidate is timed, and the decision is kept (the first process to
        record one wins; the others adopt it).
        """
        from .backend import AnnotateRequest
        self._adopt_stored_sizes(sizer)
        if sizer.decisions() and not sizer.undecided():
            return
        with_objects = [r for r in requests if len(r.instances)]
        if not with_objects:
            return
        req = max(with_objects, key=lambda r: len(r.instances))
        repeat = -(-sizer.calibration_prompts() // len(req.instances))
        calibration = AnnotateRequest(image=req.image, instances=list(req.instances) * repeat,
                                      source=req.source, name=req.name)
        for _ in range(2):
            list(self.engine.annotate_many([calibration]))  # only the timings count
            if not sizer.undecided():
                break
        sizer.decide_all()
        store = self.batch_size_store
        for key, size in sizer.decisions().items():
            if key in self._published:
                continue
            details = dict(seconds_per_prompt={str(k): round(v, 6) for k, v in sorted(sizer.measurements(key).items())},
                           measured_on=req.name, rank=self.rank)
            try:
                kept, mine = store.publish(key, size, details)
            except OSError as exc:
                raise (as_storage_error(exc, store.path(key), self.work_dir) or exc) from None
            self._published.add(key)
            used = sizer.adopt(key, kept)
            how = 'measured here' if mine else f'decided by another process (this one measured {size})'
            self.log(f'[samrs_annotate] prompt batch size {used} for {key!r} prompts, {how}; kept in '
                     f'{store.path(key)} for resumes and the other ranks')

    # ---- merging --------------------------------------------------------------------------
    def _read_shards(self) -> tuple:
        outcomes: List[ItemOutcome] = []
        seconds = 0.0
        self._per_rank = []
        for r in range(self.world_size):
            with open(self._shard_path(r), encoding='utf-8') as f:
                data = json.load(f)
            seconds = max(seconds, float(data['seconds']))
            mine = [ItemOutcome(**o) for o in data['outcomes']]
            self._per_rank.append(dict(rank=r, images=len(mine), seconds=float(data['seconds']),
                                       **{s: sum(o.status == s for o in mine)
                                          for s in ('labelled', 'resumed', 'skipped', 'failed')}))
            outcomes.extend(mine)
        outcomes.sort(key=lambda o: o.index)
        indices = [o.index for o in outcomes]
        if indices != list(range(len(self.source))):
            missing = sorted(set(range(len(self.source))) - set(indices))
            raise RuntimeError(f'shards do not cover the source exactly once (missing {missing[:10]}, '
                               f'{len(indices) - len(set(indices))} duplicates)')
        return outcomes, seconds

    def _merge(self, files: AtomicFiles) -> RunSummary:
        outcomes, seconds = self._read_shards()
        stems = [o.stem for o in outcomes if o.has_labels]
        counts = merge_annotations(self.work_dir, stems, self.classes, osp.join(self.work_dir, 'annotations.json'),
                                   files)
        split_info = self._merge_splits(stems, files)
        skipped = [dict(index=o.index, file=o.file, reason=o.error) for o in outcomes if o.status == 'skipped']
        summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
        summary.read_stats = _merge_read_stats([o.stats for o in outcomes], getattr(self.source, 'name', ''))
        engine_settings = {k: self.engine_cfg.get(k) for k in _FINGERPRINT_ENGINE_KEYS if k in self.engine_cfg}
        files.write_json(osp.join(self.work_dir, 'summary.json'), dict(
            images=summary.images, labelled=summary.labelled, objects=summary.objects,
            empty_masks=summary.empty_masks, skipped=summary.skipped, failed=summary.failed,
            complete=summary.complete, classes=list(self.classes), class_counts=counts['class_counts'],
            coco_annotations=counts['annotations'], splits=split_info, settings=self.fingerprint,
            engine=_plain(engine_settings), writer=_plain(self._summary_writer_settings()),
            source=_plain(self.cfg['source']),
            read_stats=summary.read_stats,
            failures=summary.failures, skipped_images=skipped), indent=2)
        self._write_log(files, summary)
        # Temporary files of every rank (and of killed runs) go; the work dir keeps only results.
        shutil.rmtree(osp.join(self.work_dir, TMP_DIR_NAME), ignore_errors=True)
        return summary

    def _merge_splits(self, stems: List[str], files: AtomicFiles) -> Dict[str, dict]:
        from ..sources.base import read_split_file
        info: Dict[str, dict] = {}
        for name, path in sorted((self.writer_cfg.get('splits') or {}).items()):
            if not osp.isfile(path):
                self.log(f'[samrs_annotate] split list {path} not found: annotations_{name}.json not written')
                info[name] = dict(list=path, found=False)
                continue
            wanted = set(read_split_file(path))
            chosen = [s for s in stems if s in wanted]
            counts = merge_annotations(self.work_dir, chosen, self.classes,
                                       osp.join(self.work_dir, f'annotations_{name}.json'), files)
            info[name] = dict(list=path, found=True, images=counts['images'], listed=len(wanted),
                              not_labelled=len(wanted) - len(chosen))
        return info

    def _summary_writer_settings(self) -> dict:
        """Writer settings for summary.json; ``vector`` only when set, so runs without it
        keep the summary they had before the option existed."""
        return {k: v for k, v in self.writer_cfg.items() if not (k == 'vector' and v is None)}

    def _write_log(self, files: AtomicFiles, summary: RunSummary) -> None:
        stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
        data = asdict(summary)
        data.update(objects_per_second=summary.objects_per_second, world_size=self.world_size,
                    per_rank=getattr(self, '_per_rank', []),
                    device=str(self.engine_cfg.get('device', 'cpu')), finished_at=stamp)
        files.write_json(osp.join(self.work_dir, 'logs', f'annotate_{stamp}.json'), data, indent=2)

    # ---- a run stopped early ----------------------------------------------------------------
    def _stopped_reports(self, outcomes: List[ItemOutcome], stop: dict) -> Dict[int, tuple]:
        """``{rank: (outcomes, stop)}`` of this rank and of the others that wrote their account
        of this run within a few seconds (they were stopped by the same signal, mostly)."""
        reports = {self.rank: (outcomes, stop)}
        deadline = time.monotonic() + (_STOPPED_SHARD_WAIT if self.world_size > 1 else 0.0)
        waiting = set(range(self.world_size)) - {self.rank}
        while waiting:
            for r in sorted(waiting):
                try:
                    with open(self._shard_path(r), encoding='utf-8') as f:
                        data = json.load(f)
                except (OSError, ValueError):
                    continue
                if data.get('run_id') == self.run_id:
                    reports[r] = ([ItemOutcome(**o) for o in data['outcomes']], data.get('stopped'))
                    waiting.discard(r)
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return reports

    def _finish_stopped(self, outcomes: List[ItemOutcome], stop: dict, seconds: float,
                        files: AtomicFiles) -> RunSummary:
        """Summary of a run stopped early; rank 0 writes it to ``summary.json`` (best effort:
        the disk may be full) without rebuilding ``annotations.json``."""
        shutil.rmtree(self._tmp_dir(), ignore_errors=True)  # this process's temporary files
        if self.rank != 0:
            summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
            summary.stopped, summary.not_reached = stop, len(self.shard_indices()) - len(outcomes)
            return summary
        reports = self._stopped_reports(outcomes, stop)
        if stop['reason'] == 'rank_lost':
            # The rank that ended first says why (a signal, a full disk), when it could.
            stop = next((s for r, (_, s) in sorted(reports.items()) if r != self.rank and s), stop)
        everything = sorted((o for mine, _ in reports.values() for o in mine), key=lambda o: o.index)
        summary = RunSummary.of_outcomes(everything, seconds, self.work_dir, images=len(self.source),
                                         not_reached=len(self.source) - len(everything), stopped=stop)
        summary.read_stats = _merge_read_stats([o.stats for o in everything], getattr(self.source, 'name', ''))
        engine_settings = {k: self.engine_cfg.get(k) for k in _FINGERPRINT_ENGINE_KEYS if k in self.engine_cfg}
        data = dict(
            complete=False, stopped=stop, images=summary.images, labelled=summary.labelled,
            objects=summary.objects, empty_masks=summary.empty_masks, skipped=summary.skipped,
            failed=summary.failed, not_reached=summary.not_reached,
            rerun='rerun the same command: finished images are kept and skipped',
            classes=list(self.classes), settings=self.fingerprint, engine=_plain(engine_settings),
            writer=_plain(self._summary_writer_settings()), source=_plain(self.cfg['source']),
            read_stats=summary.read_stats, failures=summary.failures,
            skipped_images=[dict(index=o.index, file=o.file, reason=o.error) for o in everything
                            if o.status == 'skipped'])
        if self.world_size > 1:
            data.update(ranks_reported=sorted(reports),
                        rank_stops={str(r): s for r, (_, s) in sorted(reports.items()) if s})
        path = osp.join(self.work_dir, 'summary.json')
        try:
            files.write_json(path, data, indent=2)
            self._write_log(files, summary)
        except OSError as exc:
            self.log(f'[samrs_annotate] summary.json not written: {as_storage_error(exc, path) or exc}')
            # A summary of an earlier run would claim more than is true now.
            with contextlib.suppress(OSError):
                os.remove(path)
        # One process owns the work dir alone: its accounts go too. (Ranks that report late
        # leave theirs to the next complete run, whose merge clears .tmp.)
        shutil.rmtree(self._tmp_dir() if self.world_size > 1 else osp.join(self.work_dir, TMP_DIR_NAME),
                      ignore_errors=True)
        return summary
