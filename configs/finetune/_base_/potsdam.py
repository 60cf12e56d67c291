# Everything of a Potsdam fine-tuning run except the model and its schedule: data
# (configs/_base_/datasets/potsdam_512x512.py), runtime, hooks keeping the checkpoint with
# the best mF1.
_base_ = ['../../_base_/datasets/potsdam_512x512.py', '../../_base_/iter_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='mF1'))
# The rates are for the paper's batch of 8; set enable=True to scale them linearly when
# training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=8)
