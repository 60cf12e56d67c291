"""An iteration-based training loop whose resume is exact and takes constant time.

mmengine's ``IterBasedTrainLoop`` resumes by pulling every batch already trained through the
data pipeline again ("Advance dataloader N steps"), builds the sampler from the seed of the
new process before the checkpoint's seed is loaded, and leaves dropout and worker
augmentation to generators whose state is not in the checkpoint. This loop, selected with
``train_cfg = dict(type='ExactResumeIterBasedTrainLoop', ...)``, changes four things:

* **Seed first.** Before the dataloader is built it reads the meta of the checkpoint the
  runner is about to resume (mmengine writes the run's seed there, drawn or configured) and
  reseeds the runner with it, so the sampler and everything else get the original seed.
* **No replay.** The sampler starts at the resumed iteration (``set_start`` of
  ``MultiSourceSampler`` and ``ResumableInfiniteSampler``): constant time whatever the
  iteration. A sampler without ``set_start`` gets mmengine's replay, and the log says so.
* **Per-sample seeds.** The training set is wrapped in ``SeededSampleDataset``: each sample
  is augmented under the seed of its position in the global stream, whichever worker loads
  it and however many it loaded before.
* **Per-iteration seeds.** Before iteration ``i`` the main process's ``random``, NumPy and
  torch (CPU and CUDA) generators are seeded from (seed, rank, ``i``), so dropout and any
  other randomness of a training step is the same in a resumed and an uninterrupted run.
  Deriving these states needs nothing saved per rank (mmengine writes checkpoints on rank 0
  only), and validation or other work between iterations cannot shift them.
"""
from __future__ import annotations

import copy
import logging
import os.path as osp
import random
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.checkpoint import _load_checkpoint, find_latest_checkpoint
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmseg.registry import LOOPS
from torch.utils.data import BatchSampler, DataLoader

from samrs_mm.datasets.sample_seeding import ITERATION_STREAM, SeededSampleDataset, derive_seed


def resume_checkpoint_meta(runner) -> Optional[dict]:
    """The ``meta`` of the checkpoint ``runner.load_or_resume()`` will resume from, or None.

    Same choice as mmengine: ``load_from`` when resuming with one, else the work dir's
    ``last_checkpoint``. Local files are memory-mapped, so only the meta is read.
    """
    if not getattr(runner, '_resume', False):
        return None
    path = runner._load_from
    if path is None:
        if not osp.isfile(osp.join(runner.work_dir, 'last_checkpoint')):
            return None  # a fresh work dir: mmengine says so itself
        path = find_latest_checkpoint(runner.work_dir)
    if osp.isfile(path):
        try:
            checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=False)
        except RuntimeError:  # not the zip format: mmap needs it
            checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    else:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    return dict(checkpoint.get('meta', {}))


def seed_iteration(seed: int, rank: int, iteration: int) -> None:
    """Seed ``random``, NumPy and torch (CPU and every CUDA device) for one training step."""
    step_seed = derive_seed(seed, ITERATION_STREAM, rank, iteration)
    random.seed(step_seed)
    np.random.seed([step_seed & 0xFFFFFFFF, step_seed >> 32])
    torch.manual_seed(step_seed)


def seekable_sampler(loader: DataLoader) -> Optional[Tuple[object, int]]:
    """The sampler of ``loader`` that can start mid-stream and how many of its items one
    iteration takes, or None when the stream can only be replayed."""
    batch_sampler = loader.batch_sampler
    if hasattr(batch_sampler, 'set_start'):
        return batch_sampler, 1
    # torch's own BatchSampler takes exactly batch_size indices per batch; a custom one
    # (e.g. grouping by aspect ratio) may not, so its inner sampler cannot be positioned.
    if type(batch_sampler) is BatchSampler and hasattr(loader.sampler, 'set_start'):
        return loader.sampler, batch_sampler.batch_size
    return None


def _sampler_name(loader: DataLoader) -> str:
    inner = loader.batch_sampler if type(loader.batch_sampler) is not BatchSampler else loader.sampler
    return type(inner).__name__


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` (same arguments) with an exact, constant-time resume.

    See the module docstring for what it does; docs/sep.md states the guarantees.
    """

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals=None) -> None:
        meta = resume_checkpoint_meta(runner)
        start = 0
        if meta is not None:
            self._reuse_seed(runner, meta.get('seed'))
            start = int(meta.get('iter', 0))
        if isinstance(dataloader, dict):
            dataloader = self._build_dataloader(runner, dataloader)
        # The iteration the data stream starts at; the iterator made below begins there.
        self._stream_at = 0
        if start and (seekable := seekable_sampler(dataloader)) is not None:
            sampler, items_per_iter = seekable
            sampler.set_start(start * items_per_iter)
            self._stream_at = start
        super().__init__(runner, dataloader, max_iters, val_begin=val_begin,
                         val_interval=val_interval, dynamic_intervals=dynamic_intervals)

    @staticmethod
    def _reuse_seed(runner, seed: Optional[int]) -> None:
        """Reseed ``runner`` with the seed of the run being resumed, before anything random."""
        configured = runner._randomness_cfg.get('seed')
        if seed is None or seed == configured:
            return
        origin = f'the config\'s {configured}' if configured is not None else f'{runner.seed}, drawn'
        print_log(f'resuming with the checkpoint\'s seed {seed} (instead of {origin})',
                  logger='current', level=logging.WARNING if configured is not None else logging.INFO)
        runner._randomness_cfg.update(seed=seed)
        runner.set_randomness(**runner._randomness_cfg)

    @staticmethod
    def _build_dataloader(runner, cfg: dict) -> DataLoader:
        """Build the training loader as mmengine does, its dataset in ``SeededSampleDataset``."""
        cfg = copy.deepcopy(cfg)
        dataset = cfg['dataset']
        already = isinstance(dataset, SeededSampleDataset) or (
            isinstance(dataset, dict) and dataset.get('type') in ('SeededSampleDataset', SeededSampleDataset))
        if not already:
            cfg['dataset'] = dict(type=SeededSampleDataset, dataset=dataset)
        return runner.build_dataloader(
            cfg, seed=runner.seed, diff_rank_seed=runner._randomness_cfg.get('diff_rank_seed', False))

    def _align_stream(self) -> None:
        """Make the data stream continue at ``self._iter``: seek, or replay as mmengine does."""
        if self._iter == self._stream_at:
            if self._iter:
                print_log(f'resumed at iteration {self._iter}: {_sampler_name(self.dataloader)} '
                          'starts there, no batch is replayed', logger='current')
            return
        seekable = seekable_sampler(self.dataloader)
        if seekable is not None:
            sampler, items_per_iter = seekable
            sampler.set_start(self._iter * items_per_iter)
            self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
            self._stream_at = self._iter
            print_log(f'resumed at iteration {self._iter}: {_sampler_name(self.dataloader)} '
                      'restarted there, no batch is replayed', logger='current')
            return
        print_log(f'{_sampler_name(self.dataloader)} cannot start mid-stream: replaying '
                  f'{self._iter - self._stream_at} batches through the data pipeline (mmengine\'s '
                  'resume; use MultiSourceSampler or ResumableInfiniteSampler to skip it)',
                  logger='current', level=logging.WARNING)
        for _ in range(self._iter - self._stream_at):
            next(self.dataloader_iterator)
        self._stream_at = self._iter

    def run(self) -> torch.nn.Module:
        """Train to ``max_iters`` (mmengine's loop, with the stream aligned instead of replayed)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        self._align_stream()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_iter(self, data_batch) -> None:
        """One training step, its random state a function of (seed, rank, iteration)."""
        seed_iteration(self.runner.seed, get_rank(), self._iter)
        super().run_iter(data_batch)
