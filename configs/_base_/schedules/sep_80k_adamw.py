# SEP schedule (paper Sec. 4.1, Table 7): 80k iterations, AdamW (0.9, 0.999), cosine decay.
# The ResNet setting (lr 1e-3, wd 5e-2, min lr 1e-4) is the default; other backbone
# families override lr / weight_decay / eta_min in their leaf configs.
max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=5e-2))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-4, by_epoch=False, begin=0,
         end=max_iters)
]
# The learning rates above are for the paper's global batch of 96; enable this to scale
# them linearly when running with a different number of GPUs or per-GPU batch.
auto_scale_lr = dict(enable=False, base_batch_size=96)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=3,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
