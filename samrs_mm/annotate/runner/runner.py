"""The labelling of a whole dataset: :class:`AnnotateRunner` puts the parts of this package together.

config (:mod:`.config`) -> this rank's shard (:mod:`.plan`) -> labelling loop (:mod:`.loop`,
through the work dir's prompt batch sizes, :mod:`.resume`) -> this rank's account ->
barrier -> merge and summary on rank 0 (:mod:`.summary`).
"""
from __future__ import annotations

import os
import os.path as osp
import shutil
import time
import uuid
from typing import List, Optional

from ...runs import (
    RunInterrupted,
    as_storage_error,
    interrupted_stop,
    storage_stop,
    wait_for_ranks,
)
from ..outputs import TMP_DIR_NAME, AtomicFiles, LabelWriter
from .config import (
    RUNNER_DEFAULTS,
    WRITER_DEFAULTS,
    AnnotateConfigError,
    check_runner_values,
    check_top_level,
    plain,
    rank_engine_config,
    settings_fingerprint,
    with_defaults,
)
from .loop import ShardLabeller
from .plan import build_source, default_image_root, shard_indices
from .resume import PromptBatchSizes, ShardAccounts
from .summary import ItemOutcome, RunReport, RunSummary

__all__ = ['AnnotateRunner']


class AnnotateRunner:
    """Labels the images of one source into a work dir (guarantees: :mod:`samrs_mm.annotate.runner`).

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
        cfg = plain(dict(cfg))
        check_top_level(cfg)
        self.cfg = cfg
        self.work_dir = cfg['work_dir']
        self.runner_cfg = with_defaults(cfg, 'runner', RUNNER_DEFAULTS)
        check_runner_values(self.runner_cfg)
        self.writer_cfg = with_defaults(cfg, 'writer', WRITER_DEFAULTS)
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
        self.source = build_source(cfg['source'])
        self.classes = tuple(self.source.classes)
        self.writer = self._build_writer()
        self._check_engine()
        from ..engine import ENGINE_DEFAULTS
        full_engine = dict(ENGINE_DEFAULTS)
        full_engine.update({k: v for k, v in self.engine_cfg.items() if k != 'type'})
        self.fingerprint = settings_fingerprint(full_engine, self.writer_cfg, self.classes)
        self.accounts = ShardAccounts(self.work_dir, self.run_id, self.world_size)
        self.batch_sizes = PromptBatchSizes(lambda: self.engine, self.work_dir, self.fingerprint, self.engine_cfg,
                                            self.rank, log)
        self.report = RunReport(self.work_dir, cfg, self.engine_cfg, self.writer_cfg, self.classes, self.fingerprint,
                                getattr(self.source, 'name', ''), self.world_size, log)

    # ---- construction ---------------------------------------------------------------------
    def _build_writer(self) -> LabelWriter:
        writer_kwargs = {k: v for k, v in self.writer_cfg.items() if k != 'splits'}
        if writer_kwargs.get('image_root') is None and not writer_kwargs.get('copy_images'):
            writer_kwargs['image_root'] = default_image_root(self.source)
        self.writer_cfg['image_root'] = writer_kwargs['image_root']
        try:
            return LabelWriter(self.work_dir, self.classes, **writer_kwargs)
        except (TypeError, ValueError) as exc:
            raise AnnotateConfigError(f'writer config: {exc}') from None

    def _check_engine(self) -> None:
        """Unknown keys and bad prompts fail here, before any image is read; SAM itself is
        loaded only when an image needs it (the box backend is built at once)."""
        from ..engine import EngineConfigError, check_engine_config
        try:
            check_engine_config(self.engine_cfg)
            if self.engine_cfg.get('backend') == 'box' and self._engine is None:
                self._engine = self._build_engine()
        except (EngineConfigError, ValueError) as exc:
            raise AnnotateConfigError(f'engine config: {exc}') from None

    def _build_engine(self):
        from ..engine import EngineConfigError, build_engine
        try:
            return build_engine(rank_engine_config(self.engine_cfg, self.world_size))
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
        return shard_indices(len(self.source), self.rank, self.world_size)

    def _tmp_dir(self) -> str:
        return osp.join(self.work_dir, TMP_DIR_NAME, f'pid{os.getpid()}')

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
        labeller = ShardLabeller(self.source, self.shard_indices(), self.writer, self.fingerprint,
                                 self.batch_sizes.annotate, self.runner_cfg,
                                 int(self.engine_cfg.get('image_batch_size', 1) or 1), self.rank, self.world_size,
                                 self.log)
        outcomes, stop = labeller.run()
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
            self.accounts.write(files, self.rank, outcomes, seconds, stop)
        except OSError as exc:
            storage = as_storage_error(exc, self.accounts.path(self.rank), self.work_dir)
            if storage is None:
                raise
            stop = stop or storage_stop(storage)
        if stop is None:
            stop = wait_for_ranks(self.barrier)
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
        wait_for_ranks(self.barrier)
        if stop is not None:
            return self._finish_stopped(outcomes, stop, seconds, files)
        if self.rank != 0:
            summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
        return summary


    def _merge(self, files: AtomicFiles) -> RunSummary:
        outcomes, seconds, per_rank = self.accounts.read_all(len(self.source))
        summary = self.report.complete(outcomes, seconds, files, per_rank)
        # Temporary files of every rank (and of killed runs) go; the work dir keeps only results.
        shutil.rmtree(osp.join(self.work_dir, TMP_DIR_NAME), ignore_errors=True)
        return summary

    def _finish_stopped(self, outcomes: List[ItemOutcome], stop: dict, seconds: float,
                        files: AtomicFiles) -> RunSummary:
        """Summary of a run stopped early; rank 0 writes it to ``summary.json`` without
        rebuilding ``annotations.json``."""
        shutil.rmtree(self._tmp_dir(), ignore_errors=True)  # this process's temporary files
        if self.rank != 0:
            summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
            summary.stopped, summary.not_reached = stop, len(self.shard_indices()) - len(outcomes)
            return summary
        reports = self.accounts.stopped_reports(self.rank, outcomes, stop)
        if stop['reason'] == 'rank_lost':
            # The rank that ended first says why (a signal, a full disk), when it could.
            stop = next((s for r, (_, s) in sorted(reports.items()) if r != self.rank and s), stop)
        summary = self.report.stopped(reports, stop, seconds, len(self.source), files)
        # One process owns the work dir alone: its accounts go too. (Ranks that report late
        # leave theirs to the next complete run, whose merge clears .tmp.)
        shutil.rmtree(self._tmp_dir() if self.world_size > 1 else osp.join(self.work_dir, TMP_DIR_NAME),
                      ignore_errors=True)
        return summary
