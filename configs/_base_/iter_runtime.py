# Runtime of the 80k-iteration SEP and fine-tuning runs: the package runtime plus mmseg's
# iteration-based hooks, logging every 50 iterations and keeping, besides the last two
# checkpoints (every 8k iterations), the one with the best mIoU. sep_runtime.py and
# configs/finetune/_base_/{potsdam,isaid}.py adapt the checkpoint hook and add the batch
# the learning rates are meant for (auto_scale_lr).
_base_ = './default_runtime.py'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
