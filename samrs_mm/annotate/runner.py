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
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import os.path as osp
import shutil
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

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

    @property
    def objects_per_second(self) -> float:
        """Objects labelled by this run per wall-clock second."""
        return self.objects_now / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True when no image failed."""
        return self.failed == 0

    def line(self) -> str:
        """One-line human summary."""
        return (f'images {self.images} | labelled {self.labelled} (this run {self.labelled_now}, '
                f'resumed {self.resumed}) | objects {self.objects} | empty masks {self.empty_masks} | '
                f'skipped {self.skipped} | failed {self.failed} | {self.objects_per_second:.1f} objects/s')


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


class AnnotateRunner:
    """Labels the images of one source into a work dir (see the module docstring).

    Args:
        cfg: dict with ``source``, ``engine``, ``work_dir`` and optional ``writer`` / ``runner``.
        rank, world_size: this process's shard (rank 0 merges).
        engine: an already built engine (tests, notebooks); else built from ``cfg['engine']``
            when the first image needs labelling.
        barrier: callable that waits for every rank (required when ``world_size > 1``).
    """

    def __init__(self, cfg: dict, rank: int = 0, world_size: int = 1, engine=None, barrier=None,
                 log=print) -> None:
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
        self._engine = engine
        self.source = self._build_source()
        self.classes = tuple(self.source.classes)
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

    # ---- construction ---------------------------------------------------------------------
    def _with_defaults(self, key: str, defaults: Dict[str, Any]) -> Dict[str, Any]:
        given = dict(self.cfg.get(key) or {})
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise AnnotateConfigError(f'unknown {key} config key(s) {unknown}; valid keys: {", ".join(defaults)}')
        merged = dict(defaults)
        merged.update(given)
        return merged

    def _build_source(self):
        from ..sources import build_source
        try:
            return build_source(dict(self.cfg['source']))
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

    def run(self) -> RunSummary:
        """Label this rank's shard, wait for all ranks, merge on rank 0; return the summary."""
        start = time.perf_counter()
        os.makedirs(self.work_dir, exist_ok=True)
        outcomes = self._label_shard()
        seconds = time.perf_counter() - start
        files = AtomicFiles(osp.join(self.work_dir, TMP_DIR_NAME, f'pid{os.getpid()}'))
        shard_path = osp.join(self.work_dir, TMP_DIR_NAME, 'shards', f'rank{self.rank}.json')
        files.write_json(shard_path, dict(world_size=self.world_size, seconds=seconds,
                                          outcomes=[asdict(o) for o in outcomes]))
        self.barrier()
        summary = RunSummary(work_dir=self.work_dir)
        if self.rank == 0:
            summary = self._merge(files)
        self.barrier()
        if self.rank != 0:
            summary = self._local_summary(outcomes, seconds)
        return summary

    def _label_shard(self) -> List[ItemOutcome]:
        indices = self.shard_indices()
        dataset = _ShardDataset(self.source, indices, self.writer, self.fingerprint,
                                self.runner_cfg['stretch'], self.runner_cfg['bands'])
        batch = int(self.engine_cfg.get('image_batch_size', 1) or 1)
        workers = int(self.runner_cfg['num_workers'])
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=workers,
                                             collate_fn=_identity_collate,
                                             prefetch_factor=4 if workers > 0 else None)
        outcomes: List[ItemOutcome] = []
        bar = self._progress(len(indices))
        objects = 0
        try:
            for items in loader:
                todo = []
                for item in items:
                    if item.status == 'todo':
                        todo.append(item)
                        continue
                    outcome = ItemOutcome(index=item.index, status=item.status,
                                          stem=item.record.stem if item.record is not None else '',
                                          file=item.file, error=item.error, stats=item.stats)
                    if item.status == 'resumed':
                        data = read_instances(self.writer.instances_path(outcome.stem))
                        outcome.objects = len(data['objects'])
                        outcome.empty_masks = sum(1 for o in data['objects'] if o['area'] == 0)
                    outcomes.append(outcome)
                    self._check_fail_fast(outcome)
                for outcome in self._label_items(todo):
                    outcomes.append(outcome)
                    objects += outcome.objects if outcome.status == 'labelled' else 0
                    self._check_fail_fast(outcome)
                if bar is not None:
                    bar.update(len(items))
                    bar.set_postfix(objects=objects, refresh=False)
        finally:
            if bar is not None:
                bar.close()
        return outcomes

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
                raise RuntimeError(f'image #{outcome.index} failed (fail_fast): {outcome.error}')

    def _label_items(self, items: List[_LoadedItem]) -> List[ItemOutcome]:
        """Label a group of decoded images; a failing group is retried image by image."""
        if not items:
            return []
        from .backend import AnnotateRequest
        requests = [AnnotateRequest(image=it.image, instances=it.record.instances, source=it.record.source,
                                    name=it.record.image_path) for it in items]
        engine = self.engine
        try:
            results = list(engine.annotate_many(requests))
        except Exception as exc:  # noqa: BLE001
            if len(items) == 1:
                return [self._failed(items[0], exc)]
            # One bad image must not fail its batch neighbours.
            out: List[ItemOutcome] = []
            for it in items:
                out.extend(self._label_items([it]))
            return out
        out = []
        for item, masks in zip(items, results):
            try:
                result = self.writer.write(item.record, masks, self.fingerprint, image=item.image)
            except Exception as exc:  # noqa: BLE001
                out.append(self._failed(item, exc))
                continue
            out.append(ItemOutcome(index=item.index, status='labelled', stem=result.stem,
                                   objects=result.objects, empty_masks=result.empty_masks, stats=item.stats))
        return out

    @staticmethod
    def _failed(item: _LoadedItem, exc: BaseException) -> ItemOutcome:
        text = _error_text(exc)
        if item.record is not None and item.record.image_path not in text:
            text = f'{item.record.image_path}: {text}'
        if not isinstance(exc, (ValueError, FileNotFoundError)):
            text += '\n' + ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        return ItemOutcome(index=item.index, status='failed', stem=item.record.stem if item.record else '',
                           file=item.record.image_path if item.record else '', error=text, stats=item.stats)

    # ---- merging --------------------------------------------------------------------------
    def _read_shards(self) -> tuple:
        outcomes: List[ItemOutcome] = []
        seconds = 0.0
        self._per_rank = []
        for r in range(self.world_size):
            path = osp.join(self.work_dir, TMP_DIR_NAME, 'shards', f'rank{r}.json')
            with open(path, encoding='utf-8') as f:
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
        failures = [dict(index=o.index, file=o.file, error=o.error) for o in outcomes if o.status == 'failed']
        skipped = [dict(index=o.index, file=o.file, reason=o.error) for o in outcomes if o.status == 'skipped']
        summary = RunSummary(
            images=len(outcomes), labelled=len(stems), resumed=sum(o.status == 'resumed' for o in outcomes),
            labelled_now=sum(o.status == 'labelled' for o in outcomes),
            objects=sum(o.objects for o in outcomes if o.has_labels),
            objects_now=sum(o.objects for o in outcomes if o.status == 'labelled'),
            empty_masks=sum(o.empty_masks for o in outcomes if o.has_labels),
            skipped=len(skipped), failed=len(failures), seconds=seconds, failures=failures,
            work_dir=self.work_dir)
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
            failures=failures, skipped_images=skipped), indent=2)
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

    def _local_summary(self, outcomes: List[ItemOutcome], seconds: float) -> RunSummary:
        return RunSummary(
            images=len(outcomes), labelled=sum(o.has_labels for o in outcomes),
            labelled_now=sum(o.status == 'labelled' for o in outcomes),
            resumed=sum(o.status == 'resumed' for o in outcomes),
            objects=sum(o.objects for o in outcomes if o.has_labels),
            objects_now=sum(o.objects for o in outcomes if o.status == 'labelled'),
            empty_masks=sum(o.empty_masks for o in outcomes if o.has_labels),
            skipped=sum(o.status == 'skipped' for o in outcomes),
            failed=sum(o.status == 'failed' for o in outcomes), seconds=seconds,
            failures=[dict(index=o.index, file=o.file, error=o.error) for o in outcomes if o.status == 'failed'],
            work_dir=self.work_dir)
