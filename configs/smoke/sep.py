# SEP smoke run (a minute on 2 CPU cores): configs/sep/upernet_r50.py with a ResNet-18, 16-channel
# heads, 64 px inputs (each image resized to fit 64 px, no random scale / crop / colour jitter:
# h-flip and rot90 only), 20 iterations of 6 images, one checkpoint and one validation at the end.
# Data: the SAMRS layout under $SAMRS_DATA_ROOT, as the real config (`make demo` writes one):
#   SAMRS_DATA_ROOT=work_dirs/demo/samrs python tools/train.py configs/smoke/sep.py --work-dir work_dirs/smoke/sep
# Iterations, batch, width: --cfg-options (docs/smoke_configs.md). The tests train this config.
_base_ = ['../sep/upernet_r50.py']
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
crop_size = (64, 64)
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'subset', 'subset_index')
# A 64 px image is left as it is (the resize is the identity there).
fit = dict(type='Resize', scale=crop_size, keep_ratio=True)
kinds = [('sota', 'SOTADataset'), ('sior', 'SIORDataset'), ('fast', 'FASTDataset')]
train_sets = [
    dict(type=kind, data_root=data_root + '/' + name, ann_file='train.txt',
         data_prefix=dict(img_path='images', seg_map_path='semantic'),
         pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), fit,
                   dict(type='TagSubset', subset=name, subset_index=index),
                   dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='RandomRot90', prob=0.5),
                   dict(type='PackSegInputs', meta_keys=meta_keys)])
    for index, (name, kind) in enumerate(kinds)]
# Ground truth loaded after the resize: the metric compares it with predictions at that size.
val_sets = [
    dict(type=kind, data_root=data_root + '/' + name, ann_file='val.txt',
         data_prefix=dict(img_path='images', seg_map_path='semantic'),
         pipeline=[dict(type='LoadImageFromFile'), fit, dict(type='LoadAnnotations'),
                   dict(type='TagSubset', subset=name, subset_index=index),
                   dict(type='PackSegInputs', meta_keys=meta_keys)])
    for index, (name, kind) in enumerate(kinds)]
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=64, base_channels=64),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=16),
    auxiliary_head=dict(in_channels=256, channels=16))
train_dataloader = dict(batch_size=6, num_workers=0, persistent_workers=False, pin_memory=False,
                        dataset=dict(datasets=train_sets))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(datasets=val_sets))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_iters = 20
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=max_iters, save_best=None))
randomness = dict(seed=0)
