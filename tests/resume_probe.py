"""Test-only hooks for the resume evidence: record what every iteration trained on, and
kill the process at a fixed point (deterministic, unlike a timed kill)."""
import hashlib
import json
import os
import os.path as osp
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

KILL_AFTER_ENV = 'SAMRS_TEST_KILL_AFTER_ITER'


@HOOKS.register_module()
class StreamRecorderHook(Hook):
    """Append one json line per iteration to ``<work_dir>/stream_rank<r>.jsonl``: the
    1-based iteration, each sample's image path with a digest of its augmented input and
    label, and the iteration's loss (full float precision)."""

    priority = 'LOW'  # after the logger, before the checkpoint hook

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        samples = []
        for image, sample in zip(data_batch['inputs'], data_batch['data_samples']):
            digest = hashlib.sha1(image.numpy().tobytes())
            digest.update(sample.gt_sem_seg.data.numpy().tobytes())
            samples.append([osp.basename(sample.img_path), digest.hexdigest()[:16]])
        record = dict(iter=runner.iter + 1, samples=samples, loss=float(outputs['loss'].detach()))
        with open(osp.join(runner.work_dir, f'stream_rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')


@HOOKS.register_module()
class KillAfterIterHook(Hook):
    """SIGKILL this process after the iteration named by ``$SAMRS_TEST_KILL_AFTER_ITER``
    (1-based), once every other hook, the checkpoint hook included, has run."""

    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if os.environ.get(KILL_AFTER_ENV) == str(runner.iter + 1):
            os.kill(os.getpid(), signal.SIGKILL)
