# Runtime of multi-task pre-training: the 80k-iteration runtime (iter_runtime.py) keeping three
# checkpoints (MTP keeps periodic ones, no "best": there is no single metric over its tasks),
# with the learning-rate scaling reference of MTP's global batch (32 GPUs x 3).
_base_ = './iter_runtime.py'
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3, save_best=None))
auto_scale_lr = dict(enable=False, base_batch_size=96)
