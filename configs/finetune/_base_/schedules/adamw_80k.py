# Fine-tuning schedule: 80k iterations at batch 8 (paper A.6), AdamW (0.9, 0.999) with
# cosine decay. The ResNet setting of the paper's Table 7 (lr 1e-3, wd 5e-2, min lr 1e-4)
# is the default; model bases of other backbone families override it.
max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=5e-2))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-4, by_epoch=False, begin=0,
         end=max_iters)
]
# The rates are for the paper's batch of 8; set enable=True to scale them linearly when
# training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
