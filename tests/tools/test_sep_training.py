"""SEP through the stock tools on a tiny three-subset SAMRS-like set (issue 5 evidence).

The 2-rank DDP sampling check lives in test_exact_resume.py (it shares those runs)."""
import glob
import json
import os.path as osp
from collections import Counter

import torch

from tests.conftest import run_tool
from tests.toy_data import write_samrs_like_dataset, write_tiny_sep_config

COUNTS = {'sota': 6, 'sior': 4, 'fast': 10}


def _scalars(work_dir):
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def test_real_sep_pipeline_gives_exact_per_source_counts(tmp_path, repo_root, monkeypatch):
    """Batches from configs/sep/upernet_r50.py's own dataloader (real augmentations)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import samrs_mm  # noqa: F401
    write_samrs_like_dataset(str(tmp_path), COUNTS)
    monkeypatch.setenv('SAMRS_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'sep', 'upernet_r50.py'))
    loader_cfg = cfg.train_dataloader
    loader_cfg.update(batch_size=6, num_workers=0, persistent_workers=False)
    init_default_scope('mmseg')
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    # 20 samples, batch 6: quotas 1.8 / 1.2 / 3.0 -> 1, 1, 3 + the largest remainder (sota).
    for _, batch in zip(range(4), loader):
        counts = Counter(s.metainfo['subset'] for s in batch['data_samples'])
        assert counts == {'sota': 2, 'sior': 1, 'fast': 3}
        # 64 px toy images, randomly scaled to 300..2048 px, then cropped to 224.
        assert {tuple(img.shape) for img in batch['inputs']} == {(3, 224, 224)}
        assert {tuple(s.gt_sem_seg.shape) for s in batch['data_samples']} == {(224, 224)}
        assert {s.metainfo['subset_index'] for s in batch['data_samples']} == {0, 1, 2}


def test_sep_train_then_test_through_the_stock_tools(tmp_path, repo_root):
    data = str(tmp_path / 'samrs')
    write_samrs_like_dataset(data, COUNTS)
    config = write_tiny_sep_config(str(tmp_path / 'tiny_sep.py'), repo_root, data, max_iters=24)
    work_dir = str(tmp_path / 'work')
    run_tool(['tools/train.py', config, '--work-dir', work_dir])

    records = [r for r in _scalars(work_dir) if 'loss' in r]
    for subset in COUNTS:
        assert all(f'decode.{subset}.loss_ce' in r and f'aux.{subset}.loss_ce' in r for r in records)
    losses = [r['loss'] for r in records]
    assert len(losses) == 24
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.8 * first, f'loss did not go down: {first:.3f} -> {last:.3f}'
    # loss = sum of the per-subset losses (decode and auxiliary, each weighted as configured)
    r = records[-1]
    parts = sum(v for k, v in r.items() if k.endswith('loss_ce'))
    assert abs(parts - r['loss']) < 1e-3 * max(1.0, r['loss'])

    ckpt = torch.load(osp.join(work_dir, 'iter_24.pth'), map_location='cpu', weights_only=False)
    heads = {k.split('.')[2]: v.shape[0] for k, v in ckpt['state_dict'].items()
             if k.startswith('decode_head.subset_heads.') and k.endswith('.weight')}
    assert heads == {'sota': 18, 'sior': 20, 'fast': 37}

    test = run_tool(['tools/test.py', config, osp.join(work_dir, 'iter_24.pth'),
                     '--work-dir', str(tmp_path / 'test')])
    out = test.stdout + test.stderr
    for subset in COUNTS:
        assert f'mIoU.{subset}' in out
    assert 'per subset results (SAMRS Table 9 layout)' in out and 'average' in out
