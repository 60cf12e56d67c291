"""The labelling loop of one rank: load its images in DataLoader workers, label, write, account.

Every image of the shard ends as one :class:`~.summary.ItemOutcome`: labelled, resumed,
skipped (a lenient source could not use it) or failed (error naming the file). A failure
never stops the other images unless ``fail_fast``; a stop signal, a full or read-only disk
or ``fail_fast`` end the loop with a stop record (:mod:`samrs_mm.runs`), keeping every
finished image.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch

from ...runs import (
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
from ..outputs import read_instances
from .plan import LoadedItem, ShardDataset, StemGuard, error_text, identity_collate
from .summary import ItemOutcome

__all__ = ['ShardLabeller']


class _FailFast(Exception):
    """``fail_fast``: the first failed image stops the run."""


class ShardLabeller:
    """Labels the images ``indices`` of ``source`` into ``writer``'s work dir.

    Args:
        source: the source reader; indices: this rank's source indices.
        writer: the :class:`~samrs_mm.annotate.outputs.LabelWriter`; fingerprint: the run's settings.
        annotate: ``annotate(requests) -> masks per request`` (the engine, through the
            work dir's prompt batch sizes).
        runner_cfg: the runner settings (workers, fail_fast, progress, stretch, bands).
        image_batch_size: images handed to ``annotate`` at once.
        rank, world_size: for the progress bar (rank 0 shows it); log: one-line messages.
    """

    def __init__(self, source, indices: Sequence[int], writer, fingerprint: str, annotate: Callable,
                 runner_cfg: dict, image_batch_size: int = 1, rank: int = 0, world_size: int = 1,
                 log: Callable = print) -> None:
        self.source, self.indices, self.writer, self.fingerprint = source, list(indices), writer, fingerprint
        self.annotate = annotate
        self.runner_cfg = runner_cfg
        self.image_batch_size = image_batch_size
        self.rank, self.world_size = rank, world_size
        self.log = log
        self.stems = StemGuard()

    def run(self) -> Tuple[List[ItemOutcome], Optional[dict]]:
        """Label the shard; return its outcomes and why the run stopped early (or None)."""
        dataset = ShardDataset(self.source, self.indices, self.writer, self.fingerprint,
                               self.runner_cfg['stretch'], self.runner_cfg['bands'])
        workers = int(self.runner_cfg['num_workers'])
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=self.image_batch_size, shuffle=False, num_workers=workers,
            collate_fn=identity_collate, prefetch_factor=4 if workers > 0 else None,
            # Workers die with this process, whatever ends it (no orphans after kill -9).
            worker_init_fn=functools.partial(init_worker, os.getpid()) if workers > 0 else None)
        outcomes: List[ItemOutcome] = []
        stop: Optional[dict] = None
        bar = self._progress(len(self.indices))
        objects = 0
        batches = None
        try:
            batches = iter(loader)
            for items in batches:
                todo = []
                for item in items:
                    outcome = self.stems.clash(item)
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

    def _outcome_of(self, item: LoadedItem) -> ItemOutcome:
        """The outcome of an image the worker already settled (resumed, skipped, failed)."""
        outcome = ItemOutcome(index=item.index, status=item.status,
                              stem=item.record.stem if item.record is not None else '',
                              file=item.file, error=item.error, stats=item.stats)
        if item.status == 'resumed':
            data = read_instances(self.writer.instances_path(outcome.stem))
            outcome.objects = len(data['objects'])
            outcome.empty_masks = sum(1 for o in data['objects'] if o['area'] == 0)
        return outcome

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

    def _label_items(self, items: List[LoadedItem]) -> Iterator[ItemOutcome]:
        """Label a group of decoded images, yielding each outcome as its files are written;
        a failing group is retried image by image. A full or read-only disk raises
        :class:`~samrs_mm.runs.StorageError` (every later image would fail the same way)."""
        if not items:
            return
        from ..engine.backend import AnnotateRequest
        requests = [AnnotateRequest(image=it.image, instances=it.record.instances, source=it.record.source,
                                    name=it.record.image_path) for it in items]
        try:
            results = self.annotate(requests)
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
                storage = as_storage_error(exc, folder=self.writer.work_dir)
                if storage is not None:
                    raise storage from exc
                yield self._failed(item, exc)
                continue
            yield ItemOutcome(index=item.index, status='labelled', stem=result.stem, objects=result.objects,
                              empty_masks=result.empty_masks, stats=item.stats)

    @staticmethod
    def _failed(item: LoadedItem, exc: BaseException) -> ItemOutcome:
        text = error_text(exc)
        if item.record is not None and item.record.image_path not in text:
            text = f'{item.record.image_path}: {text}'
        if not isinstance(exc, (ValueError, FileNotFoundError)):
            text += '\n' + ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        return ItemOutcome(index=item.index, status='failed', stem=item.record.stem if item.record else '',
                           file=item.record.image_path if item.record else '', error=text, stats=item.stats)
