"""Exact resume through the stock tools, on 1 and 2 CPU ranks (issue 14 evidence).

Two configs, each shrunk to a ResNet-18 of 16 base channels at 48-64 px and loading with DataLoader workers:
``configs/sep/upernet_r50.py`` (MultiSourceSampler; UperNet and FCN heads with their
dropout 0.1 on) and ``configs/finetune/potsdam/upernet_r50-imp_...`` (ResumableInfiniteSampler;
random resize, crop, flips, rot90). Both run ``ExactResumeIterBasedTrainLoop`` from the
shared schedule. Per config and world size:

* **killed**: 8 iterations, no seed in the config, checkpoint every 2, validation every 3,
  SIGKILLed by a test hook right after iteration 5 (``tests/resume_probe.py``: deterministic,
  not timed), then ``--resume``d;
* **straight**: the same 8 iterations uninterrupted, with the seed the killed run drew
  written in its config;
* **seeded** (1 rank): a copy of the killed run's work dir (checkpoints, logs) ``--resume``d
  with that seed written in the config. (A killed run with the seed in its config would
  write the same checkpoints as the killed run that drew it: mmengine seeds both alike.)

Both configs also run on two ranks (``tools/dist_train.sh``, gloo), killed and resumed the
same way; the rank slicing of the positioned streams is also checked in-process in
tests/datasets/test_resumable_sampling.py.

Every interrupted run must equal the straight one iteration by iteration: the same samples
(image names and digests of the augmented inputs and labels), the same losses (recorded in
full precision and as logged), the same final weights (``torch.equal``). The killed runs go
first, then all the others, two processes at a time.
"""
import glob
import json
import os.path as osp
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.conftest import REPO_ROOT, free_port, run_tool
from tests.resume_probe import KILL_AFTER_ENV
from tests.toy_data import (
    write_image_folder_dataset,
    write_samrs_like_dataset,
    write_tiny_finetune_config,
    write_tiny_sep_config,
)

MAX_ITERS, KILL_AFTER = 8, 5
PROBE = """
custom_hooks = [dict(type='StreamRecorderHook'), dict(type='KillAfterIterHook')]
"""
# The 2-rank SEP set is the one of the former DDP sampler test: global batch 10 of
# 12 SOTA / 8 SIOR / 20 FAST = 3 + 2 + 5, so 4 iterations are exactly one pass of all 40.
SEP_COUNTS = {1: {'sota': 3, 'sior': 2, 'fast': 4}, 2: {'sota': 12, 'sior': 8, 'fast': 20}}
SEP_BATCH = {1: 4, 2: 5}
# The 2-rank chains first: they are the longest, and they overlap the 1-rank chains.
CHAINS = [('sep', 2), ('finetune', 2), ('sep', 1), ('finetune', 1)]


def _config(root, kind, world_size):
    path = osp.join(root, f'{kind}_{world_size}.py')
    common = dict(max_iters=MAX_ITERS, val_interval=3, extra_imports=['tests.resume_probe'], extra=PROBE,
                  num_workers=2 if world_size == 1 else 1, ckpt_interval=2, width=16)
    if kind == 'sep':
        data = osp.join(root, f'samrs_{world_size}')
        write_samrs_like_dataset(data, SEP_COUNTS[world_size], size=48, num_val=1)
        return write_tiny_sep_config(path, REPO_ROOT, data, batch_size=SEP_BATCH[world_size], **common)
    data = write_image_folder_dataset(osp.join(root, f'potsdam_{world_size}'), num_train=4, num_val=1,
                                      size=64, num_classes=6)
    return write_tiny_finetune_config(path, REPO_ROOT, data, batch_size=2, **common)


def _train(config, world_size, work_dir, seed, resume=False, kill=False):
    """One stock-tool run; returns its combined output and exit status."""
    if world_size == 1:
        cmd = ['tools/train.py', config]
    else:
        cmd = ['tools/dist_train.sh', config, str(world_size)]
    cmd += ['--work-dir', work_dir] + (['--resume'] if resume else [])
    cmd += ['--cfg-options', f'randomness.seed={seed}']
    env = {'OMP_NUM_THREADS': '1'}
    if world_size > 1:
        env['PORT'] = free_port()
    if kill:
        env[KILL_AFTER_ENV] = str(KILL_AFTER)
    proc = run_tool(cmd, env=env, check=not kill)
    return dict(log=proc.stdout + proc.stderr, returncode=proc.returncode)


def _killed_run(root, kind, world_size):
    """Write the config, train until the kill, copy the work dir for the seeded resume."""
    config = _config(root, kind, world_size)
    work = {name: osp.join(root, f'{kind}_{world_size}_{name}') for name in ('killed', 'straight', 'seeded')}
    killed = _train(config, world_size, work['killed'], None, kill=True)
    assert osp.isfile(osp.join(work['killed'], 'iter_4.pth')), killed['log'][-3000:]
    seed = torch.load(osp.join(work['killed'], 'iter_4.pth'), map_location='cpu', weights_only=False,
                      mmap=True)['meta']['seed']
    if world_size == 1:
        shutil.copytree(work['killed'], work['seeded'])
        with open(osp.join(work['seeded'], 'last_checkpoint'), 'w') as f:
            f.write(osp.join(work['seeded'], 'iter_4.pth'))
    return dict(config=config, work=work, killed=killed, seed=seed)


@pytest.fixture(scope='module')
def chains(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('exact_resume'))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(CHAINS, pool.map(lambda chain: _killed_run(root, *chain), CHAINS)))
        jobs = {}
        for (kind, world_size), run in runs.items():
            common = (run['config'], world_size)
            jobs[(kind, world_size, 'resumed')] = pool.submit(
                _train, *common, run['work']['killed'], None, resume=True)
            jobs[(kind, world_size, 'straight')] = pool.submit(
                _train, *common, run['work']['straight'], run['seed'])
            if world_size == 1:
                jobs[(kind, world_size, 'seeded_resumed')] = pool.submit(
                    _train, *common, run['work']['seeded'], run['seed'], resume=True)
        for (kind, world_size, name), job in jobs.items():
            runs[(kind, world_size)][name] = job.result()
    return runs


def _stream(work_dir, rank):
    """{iteration: [record, ...]} of one rank; iteration 5 twice in a killed-and-resumed run."""
    records = {}
    with open(osp.join(work_dir, f'stream_rank{rank}.jsonl')) as f:
        for line in f:
            record = json.loads(line)
            records.setdefault(record['iter'], []).append(record)
    return records


def _logged_losses(work_dir):
    """{iteration: [loss, ...]} from mmengine's scalars.json files (all runs in work_dir)."""
    losses = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for record in map(json.loads, filter(str.strip, f)):
                if 'loss' in record:
                    losses.setdefault(record['iter'], []).append(record['loss'])
    return losses


def _assert_continues_exactly(interrupted, straight, world_size):
    for rank in range(world_size):
        got, want = _stream(interrupted, rank), _stream(straight, rank)
        assert sorted(got) == sorted(want) == list(range(1, MAX_ITERS + 1))
        assert len(got[KILL_AFTER]) == 2  # trained before the kill, and again after the resume
        for iteration in want:
            for record in got[iteration]:
                assert record['samples'] == want[iteration][0]['samples'], (rank, iteration)
                assert record['loss'] == want[iteration][0]['loss'], (rank, iteration)
    logged, reference = _logged_losses(interrupted), _logged_losses(straight)
    assert sorted(logged) == sorted(reference) == list(range(1, MAX_ITERS + 1))
    for iteration, losses in logged.items():
        assert set(losses) == set(reference[iteration]) and len(reference[iteration]) == 1
    final = torch.load(osp.join(interrupted, f'iter_{MAX_ITERS}.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    expected = torch.load(osp.join(straight, f'iter_{MAX_ITERS}.pth'), map_location='cpu',
                          weights_only=False)['state_dict']
    assert final.keys() == expected.keys()
    differing = [key for key in expected if not torch.equal(final[key], expected[key])]
    assert not differing, f'{len(differing)} of {len(expected)} tensors differ: {differing[:5]}'


def _assert_killed_after_iteration_5(run, work_dir, world_size):
    if world_size == 1:
        assert run['returncode'] == -9, run['log'][-3000:]
    else:
        assert run['returncode'] != 0 and 'SIGKILL' in run['log'], run['log'][-3000:]
    assert 'Saving checkpoint at 4 iterations' in run['log']
    assert 'Saving checkpoint at 6 iterations' not in run['log']
    assert [r['iter'] for r in (json.loads(line) for line in open(osp.join(work_dir, 'stream_rank0.jsonl')))][:6] \
        == [1, 2, 3, 4, 5, 5]


@pytest.mark.parametrize('chain', CHAINS, ids=[f'{kind}-{n}rank' for kind, n in CHAINS])
def test_resume_without_seed_continues_exactly(chains, chain):
    runs = chains[chain]
    world_size = chain[1]
    _assert_killed_after_iteration_5(runs['killed'], runs['work']['killed'], world_size)
    log = runs['resumed']['log']
    # The resumed process drew a seed of its own and replaced it by the checkpoint's.
    assert f"resuming with the checkpoint's seed {runs['seed']} (instead of" in log
    assert 'starts there, no batch is replayed' in log and 'Advance dataloader' not in log
    _assert_continues_exactly(runs['work']['killed'], runs['work']['straight'], world_size)


@pytest.mark.parametrize('kind', ['sep', 'finetune'])
def test_resume_with_seed_in_config_continues_exactly(chains, kind):
    runs = chains[(kind, 1)]
    log = runs['seeded_resumed']['log']
    assert f'seed: {runs["seed"]}' in log  # the config's seed, used from the start
    assert 'resuming with the checkpoint' not in log  # nothing to replace
    assert 'starts there, no batch is replayed' in log
    _assert_continues_exactly(runs['work']['seeded'], runs['work']['straight'], 1)


def test_dist_sep_ranks_see_disjoint_samples_in_proportion(chains):
    """MultiSourceSampler under 2-rank DDP (the straight run): exact global proportions,
    equal per-rank batches, and every sample once per pass (4 iterations = one pass)."""
    work = chains[('sep', 2)]['work']['straight']
    per_rank = {rank: _stream(work, rank) for rank in (0, 1)}
    for first in (1, 5):
        seen = {0: [], 1: []}
        for iteration in range(first, first + 4):
            batches = {rank: per_rank[rank][iteration][0]['samples'] for rank in (0, 1)}
            assert len(batches[0]) == len(batches[1]) == 5
            merged = [name.split('_')[0] for rank in (0, 1) for name, _ in batches[rank]]
            assert Counter(merged) == {'sota': 3, 'sior': 2, 'fast': 5}
            for rank in (0, 1):
                seen[rank] += [name for name, _ in batches[rank]]
        assert not set(seen[0]) & set(seen[1]), 'the two ranks trained on the same sample'
        assert len(seen[0] + seen[1]) == len(set(seen[0] + seen[1])) == 40  # one pass, nothing twice
