"""A test-only hook that records which samples each rank trained on (for DDP checks)."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class SampleRecorderHook(Hook):
    """Append ``{"rank", "iter", "samples": [[img_path, subset], ...]}`` per iteration."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        samples = [[s.metainfo['img_path'], s.metainfo['subset']] for s in data_batch['data_samples']]
        path = osp.join(runner.work_dir, f'samples_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(dict(rank=get_rank(), iter=runner.iter, samples=samples)) + '\n')
