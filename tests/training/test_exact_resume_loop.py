"""ExactResumeIterBasedTrainLoop in-process on a toy model: seed from the checkpoint, sampler
started at the resumed iteration, mmengine's replay (with a log line) as the fallback."""
import glob
import os.path as osp

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import samrs_mm  # noqa: F401  (registers the loop and the samplers)
from samrs_mm.training.exact_resume_loop import seed_iteration


class _ToyModel(BaseModel):
    """One weight behind dropout: the loss depends on the batch, its augmentation and dropout."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 4)
        self.dropout = nn.Dropout(0.5)
        with torch.no_grad():  # built before the runner seeds anything: fixed start
            self.linear.weight.copy_(torch.linspace(-1, 1, 4)[:, None])
            self.linear.bias.zero_()

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.dropout(self.linear(torch.stack(inputs)))
        return dict(loss=(out ** 2).mean()) if mode == 'loss' else out


class _ToyDataset:
    """Index plus a random 'augmentation' drawn from NumPy's global generator."""

    def __len__(self):
        return 5

    def __getitem__(self, index):
        return dict(inputs=torch.tensor([float(index) + float(np.random.rand())]))


class _Recorder(Hook):
    def __init__(self):
        self.batches = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.batches[runner.iter + 1] = ([float(x) for x in data_batch['inputs']], float(outputs['loss'].detach()))


def _train(work_dir, name, sampler, max_iters, resume=False, seed=None):
    recorder = _Recorder()
    runner = Runner(
        model=_ToyModel(), work_dir=work_dir, experiment_name=name, default_scope='mmseg',
        train_dataloader=dict(dataset=_ToyDataset(), sampler=dict(type=sampler, shuffle=True),
                              batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=100),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[recorder], resume=resume, randomness=dict(seed=seed))
    runner.train()
    log = ''.join(open(path).read() for path in glob.glob(osp.join(work_dir, '*', '*.log')))
    return runner, recorder.batches, log


def test_resume_continues_the_uninterrupted_run_exactly(tmp_path):
    # No seed configured: the first part draws one, the resumed part must reuse it.
    first, _, _ = _train(str(tmp_path / 'cut'), 'cut_first', 'ResumableInfiniteSampler', 4)
    seed = first.seed
    _, straight, _ = _train(str(tmp_path / 'straight'), 'straight', 'ResumableInfiniteSampler', 6,
                            seed=seed)
    resumed, batches, log = _train(str(tmp_path / 'cut'), 'cut_resumed', 'ResumableInfiniteSampler',
                                   6, resume=True)
    assert resumed.seed == seed and resumed.train_dataloader.sampler.seed == seed
    assert 'resumed at iteration 4: ResumableInfiniteSampler starts there, no batch is replayed' in log
    assert 'Advance dataloader' not in log
    assert batches == {i: straight[i] for i in (5, 6)}


def test_a_sampler_that_cannot_seek_is_replayed_with_a_log_line(tmp_path):
    _, straight, _ = _train(str(tmp_path / 'straight'), 'stock_straight', 'InfiniteSampler', 4, seed=3)
    _train(str(tmp_path / 'cut'), 'stock_first', 'InfiniteSampler', 2, seed=3)
    _, batches, log = _train(str(tmp_path / 'cut'), 'stock_resumed', 'InfiniteSampler', 4,
                             resume=True, seed=3)
    assert 'InfiniteSampler cannot start mid-stream: replaying 2 batches' in log
    # The replay reaches the same samples; their augmentation is not reproduced (plain indices).
    assert [[int(x) for x in batches[i][0]] for i in (3, 4)] == \
        [[int(x) for x in straight[i][0]] for i in (3, 4)]


def test_iteration_seeds_depend_on_seed_rank_and_iteration():
    draws = {}
    for key in [(1, 0, 5), (1, 0, 5), (1, 1, 5), (1, 0, 6), (2, 0, 5)]:
        seed_iteration(*key)
        draws.setdefault(key, []).append((float(np.random.rand()), float(torch.rand(1))))
    assert draws[(1, 0, 5)][0] == draws[(1, 0, 5)][1]
    assert len({d[0] for d in draws.values()}) == 4
