"""Resume bookkeeping: each rank's account of its images, and one prompt batch size per work dir.

* :class:`ShardAccounts`: every rank writes the outcomes of its shard to
  ``.tmp/shards/rank<r>.json``; rank 0 reads them all to merge (a finished run) or to say how
  far a stopped run got.
* :class:`PromptBatchSizes`: with ``prompt_batch_size='auto'`` the size is measured once per
  work dir on a throw-away pass and kept in ``prompt_batch_size/``
  (:class:`~samrs_mm.annotate.engine.batch_size.BatchSizeStore`); every rank and every resume
  reads it, so the files never depend on timing, on the number of ranks or on where a run
  resumed.
"""
from __future__ import annotations

import json
import os.path as osp
import time
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Tuple

from ...runs import as_storage_error
from ..engine.batch_size import BatchSizeStore
from ..outputs import TMP_DIR_NAME, AtomicFiles
from .config import BATCH_SIZE_DIR
from .summary import ItemOutcome

__all__ = ['ShardAccounts', 'PromptBatchSizes']

# Seconds rank 0 of a stopped multi-rank run waits for the other ranks' accounts.
STOPPED_SHARD_WAIT = 5.0


class ShardAccounts:
    """The per-rank outcome files of one run (``run_id``) in a work dir."""

    def __init__(self, work_dir: str, run_id: str, world_size: int) -> None:
        self.work_dir, self.run_id, self.world_size = work_dir, run_id, world_size

    def path(self, rank: int) -> str:
        """The account file of ``rank``."""
        return osp.join(self.work_dir, TMP_DIR_NAME, 'shards', f'rank{rank}.json')

    def write(self, files: AtomicFiles, rank: int, outcomes: List[ItemOutcome], seconds: float,
              stopped: Optional[dict]) -> None:
        """Record ``rank``'s outcomes (and why it stopped, if it did)."""
        files.write_json(self.path(rank), dict(
            run_id=self.run_id, world_size=self.world_size, seconds=seconds, stopped=stopped,
            outcomes=[asdict(o) for o in outcomes]))

    def read_all(self, num_images: int) -> Tuple[List[ItemOutcome], float, List[dict]]:
        """Every rank's outcomes in source order, the slowest rank's seconds and per-rank counts;
        ``RuntimeError`` when the shards do not cover the ``num_images`` images exactly once."""
        outcomes: List[ItemOutcome] = []
        seconds = 0.0
        per_rank = []
        for r in range(self.world_size):
            with open(self.path(r), encoding='utf-8') as f:
                data = json.load(f)
            seconds = max(seconds, float(data['seconds']))
            mine = [ItemOutcome(**o) for o in data['outcomes']]
            per_rank.append(dict(rank=r, images=len(mine), seconds=float(data['seconds']),
                                 **{s: sum(o.status == s for o in mine)
                                    for s in ('labelled', 'resumed', 'skipped', 'failed')}))
            outcomes.extend(mine)
        outcomes.sort(key=lambda o: o.index)
        indices = [o.index for o in outcomes]
        if indices != list(range(num_images)):
            missing = sorted(set(range(num_images)) - set(indices))
            raise RuntimeError(f'shards do not cover the source exactly once (missing {missing[:10]}, '
                               f'{len(indices) - len(set(indices))} duplicates)')
        return outcomes, seconds, per_rank

    def stopped_reports(self, rank: int, outcomes: List[ItemOutcome], stop: dict,
                        wait: float = STOPPED_SHARD_WAIT) -> Dict[int, tuple]:
        """``{rank: (outcomes, stop)}`` of this rank and of the others that wrote their account
        of this run within ``wait`` seconds (they were stopped by the same signal, mostly)."""
        reports = {rank: (outcomes, stop)}
        deadline = time.monotonic() + (wait if self.world_size > 1 else 0.0)
        waiting = set(range(self.world_size)) - {rank}
        while waiting:
            for r in sorted(waiting):
                try:
                    with open(self.path(r), encoding='utf-8') as f:
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


class PromptBatchSizes:
    """Runs the engine with every prompt batch of a size decided once for the work dir.

    Args:
        engine: callable returning the engine (built on first use).
        work_dir, fingerprint: where sizes are kept, and for which settings.
        engine_cfg: the config's engine settings (device when the engine does not say).
        rank: this process's rank (recorded with a measured size); log: one-line messages.
    """

    def __init__(self, engine: Callable, work_dir: str, fingerprint: str, engine_cfg: dict, rank: int = 0,
                 log: Callable = print) -> None:
        self._engine = engine
        self.work_dir, self.fingerprint, self.engine_cfg, self.rank = work_dir, fingerprint, engine_cfg, rank
        self.log = log
        self._sizes_read = False              # prompt batch sizes of the work dir adopted
        self._published: set = set()          # prompt kinds whose size the work dir records

    def _auto_sizer(self):
        """The backend's shared prompt batch sizer when it measures (``'auto'``), else None."""
        sizer = getattr(getattr(self._engine(), 'backend', None), 'sizer', None)
        return sizer if getattr(sizer, 'measuring', False) else None

    @property
    def store(self) -> BatchSizeStore:
        """Where this work dir keeps the prompt batch sizes (per settings and device type)."""
        device = str(getattr(self._engine(), 'cfg', {}).get('device') or self.engine_cfg.get('device') or 'cpu')
        return BatchSizeStore(osp.join(self.work_dir, BATCH_SIZE_DIR), f'{self.fingerprint}-{device.split(":")[0]}')

    def annotate(self, requests: list) -> List[list]:
        """The engine's masks of ``requests``, every prompt batch of a size decided for this work dir.

        With ``prompt_batch_size='auto'`` a size measured on the real work would make these
        masks depend on timing; so the size is decided first on a throw-away pass
        (:meth:`_calibrate`) or read from the work dir, and a pass that still met an
        undecided prompt kind is decided and done again.
        """
        engine = self._engine()
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
        for key, size in self.store.load_all().items():
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
        from ..engine.backend import AnnotateRequest
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
            list(self._engine().annotate_many([calibration]))  # only the timings count
            if not sizer.undecided():
                break
        sizer.decide_all()
        store = self.store
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
