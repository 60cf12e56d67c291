"""What both scene tools share: a resumable, sharded, stoppable run over the units of one scene.

A *unit* is a window (annotate, detectors) or a strip of rows (segmentors). :class:`SceneRun`
gives the tools

* **records**: a unit is finished when its json record exists with the run's settings
  (``settings`` fingerprint and whatever else ``match`` names); records are written
  atomically, after the unit's other files, so a run killed at any moment resumes by
  skipping finished units and redoing the rest (:mod:`samrs_mm.fileio`);
* **shards**: with ``world_size`` ranks, rank ``r`` takes units ``r, r + N, ...`` (or a
  contiguous block, :meth:`SceneRun.my_block`); each rank writes an account of its run, and
  after a barrier rank 0 reads them all and writes the outputs and ``summary.json``;
* **stops**: SIGTERM / SIGINT / SIGHUP (:class:`~samrs_mm.runs.RunInterrupted`) and a full or
  read-only disk (:class:`~samrs_mm.runs.StorageError`) end the work at once, keep what is
  finished and write a ``summary.json`` that says why (``"complete": false``, ``"stopped"``,
  ``"not_reached"``); the exit statuses are those of docs/runs.md;
* a progress bar (rank 0), and the run's timings in ``logs/`` (``summary.json`` holds only what
  the finished outputs determine, so it is the same after a resume).

Subclasses implement :meth:`~SceneRun.work` (this rank's units, one :class:`UnitOutcome` each)
and :meth:`~SceneRun.finalise` (rank 0, after every rank finished: the outputs and the
summary's content).
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import os.path as osp
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterator, List, Optional

from ..fileio import atomic_write, load_record, record_is_current
from ..runs import (
    EXIT_FAILED,
    RunInterrupted,
    StorageError,
    as_storage_error,
    interrupted_stop,
    storage_stop,
    wait_for_ranks,
)

__all__ = ['UnitOutcome', 'SceneRun', 'TMP_DIR_NAME']

TMP_DIR_NAME = '.tmp'
# Seconds rank 0 of a stopped run waits for the other ranks' accounts.
_STOPPED_WAIT = 5.0


@dataclass
class UnitOutcome:
    """What happened to one unit: ``status`` is ``'done'``, ``'resumed'``, ``'nodata'`` or ``'failed'``."""

    index: int
    status: str
    error: str = ''
    objects: int = 0


class SceneRun:
    """A run of a scene tool in ``out_dir`` (see the module docstring)."""

    tool = 'scene'

    def __init__(self, out_dir: str, rank: int = 0, world_size: int = 1, barrier=None, run_id: Optional[str] = None,
                 progress: bool = True, log=print) -> None:
        if world_size > 1 and barrier is None:
            raise ValueError('a run of several ranks needs a barrier')
        self.out_dir = out_dir
        self.rank, self.world_size = int(rank), int(world_size)
        self.barrier = barrier or (lambda: None)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.show_progress = bool(progress)
        self.log = log
        self.tmp_dir = osp.join(out_dir, TMP_DIR_NAME, f'pid{os.getpid()}')
        self.seconds = 0.0
        self.stopped: Optional[dict] = None

    # ---- to implement ---------------------------------------------------------------------
    def num_units(self) -> int:
        """How many units the scene has."""
        raise NotImplementedError

    def work(self) -> Iterator[UnitOutcome]:
        """Do this rank's units, yielding each outcome as its record is written."""
        raise NotImplementedError

    def finalise(self, outcomes: List[UnitOutcome]) -> Dict[str, Any]:
        """Rank 0, every unit accounted for: write the outputs; return the summary's content."""
        raise NotImplementedError

    def summary_head(self) -> Dict[str, Any]:
        """What every summary starts with (inputs, settings); also for a stopped run."""
        return {}

    # ---- files ----------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """A path inside the output folder."""
        return osp.join(self.out_dir, *parts)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Atomic write; a full or read-only disk becomes :class:`~samrs_mm.runs.StorageError` naming ``path``."""
        try:
            atomic_write(path, data, self.tmp_dir)
        except OSError as exc:
            raise (as_storage_error(exc, path, self.out_dir) or exc) from None

    def write_json(self, path: str, data: Any, indent: Optional[int] = None) -> None:
        """Deterministic json, written atomically."""
        seps = (',', ':') if indent is None else (',', ': ')
        text = json.dumps(data, indent=indent, separators=seps, ensure_ascii=False, sort_keys=indent is not None)
        self.write_bytes(path, (text + '\n').encode('utf-8'))

    @staticmethod
    def current_record(path: str, match: Dict[str, Any]) -> Optional[dict]:
        """The record at ``path`` when it exists and holds every ``match`` value, else None."""
        record = load_record(path)
        return record if record_is_current(record, json.loads(json.dumps(match))) else None

    # ---- shards ---------------------------------------------------------------------------
    def my_units(self) -> List[int]:
        """Units of this rank: ``rank, rank + N, ...``."""
        return list(range(self.rank, self.num_units(), self.world_size))

    def my_block(self) -> List[int]:
        """Units of this rank as one contiguous block (for units that share work with their neighbours)."""
        n = self.num_units()
        return list(range(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size))

    def progress_bar(self, total: int, unit: str, desc: Optional[str] = None):
        """A tqdm bar on rank 0 (None elsewhere or with progress off)."""
        if not self.show_progress or self.rank != 0:
            return None
        from tqdm import tqdm
        desc = desc or self.tool
        if self.world_size > 1:
            desc += f' (rank 0 of {self.world_size})'
        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, mininterval=1.0, file=sys.stderr)

    def _account_path(self, rank: int) -> str:
        return self.path(TMP_DIR_NAME, 'ranks', f'rank{rank}.json')

    # ---- the run --------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        """Work, wait for the other ranks, finalise on rank 0; return the summary (rank 0's has the totals)."""
        start = time.perf_counter()
        outcomes: List[UnitOutcome] = []
        stop = None
        try:
            for outcome in self.work():
                outcomes.append(outcome)
        except (RunInterrupted, KeyboardInterrupt) as exc:
            stop = interrupted_stop(exc)
        except StorageError as exc:
            stop = storage_stop(exc)
        self.seconds = time.perf_counter() - start
        try:
            return self._after_work(outcomes, stop)
        except (RunInterrupted, KeyboardInterrupt) as exc:
            return self._finish_stopped(outcomes, interrupted_stop(exc))

    def _after_work(self, outcomes: List[UnitOutcome], stop: Optional[dict]) -> Dict[str, Any]:
        try:
            self.write_json(self._account_path(self.rank), dict(
                run_id=self.run_id, seconds=self.seconds, stopped=stop, outcomes=[asdict(o) for o in outcomes]))
        except StorageError as exc:
            stop = stop or storage_stop(exc)
        if stop is None:
            stop = wait_for_ranks(self.barrier)
        if stop is not None:
            return self._finish_stopped(outcomes, stop)
        summary: Dict[str, Any] = {}
        if self.rank == 0:
            try:
                everything = self._gather()
                summary = self._complete_summary(everything)
            except StorageError as exc:
                stop = storage_stop(exc)
        wait_for_ranks(self.barrier)
        if stop is not None:
            return self._finish_stopped(outcomes, stop)
        return summary if self.rank == 0 else self._counts(outcomes)


    def _gather(self) -> List[UnitOutcome]:
        outcomes: List[UnitOutcome] = []
        for r in range(self.world_size):
            with open(self._account_path(r), encoding='utf-8') as f:
                data = json.load(f)
            outcomes.extend(UnitOutcome(**o) for o in data['outcomes'])
        outcomes.sort(key=lambda o: o.index)
        if [o.index for o in outcomes] != list(range(self.num_units())):
            raise RuntimeError(f'the ranks did not cover the {self.num_units()} units exactly once')
        return outcomes

    @staticmethod
    def _counts(outcomes: List[UnitOutcome]) -> Dict[str, int]:
        return {status: sum(o.status == status for o in outcomes) for status in ('done', 'resumed', 'nodata', 'failed')}

    def _failures(self, outcomes: List[UnitOutcome]) -> List[dict]:
        return [dict(unit=o.index, error=o.error) for o in outcomes if o.status == 'failed']

    def _complete_summary(self, outcomes: List[UnitOutcome]) -> Dict[str, Any]:
        content = self.finalise(outcomes)
        failures = self._failures(outcomes)
        summary = dict(self.summary_head())
        summary.update(complete=not failures, units=self.num_units(), failed=len(failures), failures=failures)
        summary.update(content)
        summary['exit_status'] = EXIT_FAILED if failures else 0
        self.write_json(self.path('summary.json'), summary, indent=2)
        self._write_log(summary, outcomes)
        shutil.rmtree(self.path(TMP_DIR_NAME), ignore_errors=True)
        return summary

    def _write_log(self, summary: Dict[str, Any], outcomes: List[UnitOutcome]) -> None:
        stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
        data = dict(tool=self.tool, seconds=round(self.seconds, 3), world_size=self.world_size,
                    this_run=self._counts(outcomes), exit_status=summary.get('exit_status'), finished_at=stamp)
        data.update(self.timings())
        self.write_json(self.path('logs', f'{self.tool}_{stamp}.json'), data, indent=2)

    def timings(self) -> Dict[str, Any]:
        """Extra numbers of this run for ``logs/`` (speed, memory)."""
        return {}

    def _stopped_outcomes(self, outcomes: List[UnitOutcome]) -> List[UnitOutcome]:
        """This rank's outcomes and those the other ranks of this run wrote within a few seconds."""
        reports = {self.rank: outcomes}
        deadline = time.monotonic() + (_STOPPED_WAIT if self.world_size > 1 else 0.0)
        waiting = set(range(self.world_size)) - {self.rank}
        while waiting:
            for r in sorted(waiting):
                data = load_record(self._account_path(r))
                if data is not None and data.get('run_id') == self.run_id:
                    reports[r] = [UnitOutcome(**o) for o in data['outcomes']]
                    waiting.discard(r)
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return sorted((o for mine in reports.values() for o in mine), key=lambda o: o.index)

    def _finish_stopped(self, outcomes: List[UnitOutcome], stop: dict) -> Dict[str, Any]:
        """A run stopped early: rank 0 writes a summary saying why (best effort: the disk may be full)."""
        self.stopped = stop
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if self.rank != 0:
            return dict(self._counts(outcomes), exit_status=stop['exit_status'])
        everything = self._stopped_outcomes(outcomes)
        failures = self._failures(everything)
        summary = dict(self.summary_head())
        summary.update(complete=False, stopped=stop, units=self.num_units(), reached=len(everything),
                       not_reached=self.num_units() - len(everything), failed=len(failures), failures=failures,
                       rerun='rerun the same command: finished units are kept and skipped',
                       exit_status=stop['exit_status'],
                       **{k: v for k, v in self._counts(everything).items() if k != 'failed'})
        path = self.path('summary.json')
        try:
            self.write_json(path, summary, indent=2)
        except StorageError as exc:
            self.log(f'[{self.tool}] summary.json not written: {exc}')
            with contextlib.suppress(OSError):
                os.remove(path)  # an earlier run's summary would claim more than is true now
        if self.world_size == 1:
            shutil.rmtree(self.path(TMP_DIR_NAME), ignore_errors=True)
        return summary

