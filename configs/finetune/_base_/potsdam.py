# Everything of a Potsdam fine-tuning run except the model: data (configs/_base_/datasets/
# potsdam_512x512.py), runtime, hooks keeping the checkpoint with the best mF1.
_base_ = ['../../_base_/datasets/potsdam_512x512.py', '../../_base_/default_runtime.py']
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=2,
                    save_best='mF1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
