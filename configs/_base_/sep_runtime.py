# Runtime of a SEP run: iter_runtime.py keeping three checkpoints (and the one with the best
# mean of the per-subset mIoUs, Table 9), with the learning-rate scaling reference.
_base_ = './iter_runtime.py'
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
# The learning rates of the schedules are for the paper's global batch of 96; enable this to
# scale them linearly when running with a different number of GPUs or per-GPU batch.
auto_scale_lr = dict(enable=False, base_batch_size=96)
