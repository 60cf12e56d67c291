# The 80k-iteration AdamW schedule shared by SEP (paper Sec. 4.1) and fine-tuning (A.6):
# AdamW (0.9, 0.999), cosine decay, validation every 8k iterations. The values are the
# ResNet row of the paper's Table 7 (lr 1e-3, wd 5e-2, min lr 1e-4); the other backbone
# families have their own file beside this one (adamw_80k_<family>.py), which SEP and
# fine-tuning configs both use. What depends on the batch or the metric (auto_scale_lr,
# the best-checkpoint hook) is in the SEP / fine-tuning runtime bases.
max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=5e-2))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-4, by_epoch=False, begin=0,
         end=max_iters)
]
# mmengine's IterBasedTrainLoop with an exact, constant-time resume (samrs_mm.training;
# docs/sep.md, "Resuming").
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
