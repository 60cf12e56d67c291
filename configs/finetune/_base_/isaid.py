# Everything of an iSAID fine-tuning run except the model and its schedule: data
# (configs/_base_/datasets/isaid_896x896.py), runtime, hooks keeping the checkpoint with
# the best foreground mIoU.
_base_ = ['../../_base_/datasets/isaid_896x896.py', '../../_base_/iter_runtime.py']
# The rates are for the paper's batch of 8; set enable=True to scale them linearly when
# training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=8)
