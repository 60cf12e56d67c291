"""Tiny synthetic segmentation data for tests: random-colour images with painted shapes."""
import os
import os.path as osp

import cv2
import numpy as np


def write_image_folder_dataset(root, num_train=4, num_val=2, size=64, num_classes=2, seed=0):
    """Write ``img_dir/{train,val}`` and ``ann_dir/{train,val}`` PNGs under ``root``.

    Each image has a noisy background (class 0) and rectangles of classes 1..num_classes-1
    whose colour depends on the class, so a model can learn them; a border strip is 255
    (ignored). Returns ``root``.
    """
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, size=(num_classes, 3))
    for split, count in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(root, 'img_dir', split)
        ann_dir = osp.join(root, 'ann_dir', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for index in range(count):
            label = np.zeros((size, size), np.uint8)
            for _ in range(3):
                cls = int(rng.integers(1, num_classes)) if num_classes > 1 else 0
                x1, y1 = rng.integers(0, size // 2, size=2)
                w, h = rng.integers(size // 8, size // 2, size=2)
                label[y1:y1 + h, x1:x1 + w] = cls
            image = colours[label].astype(np.float64) + rng.normal(0, 12, (size, size, 3))
            image = np.clip(image, 0, 255).astype(np.uint8)
            label[:, :2] = 255
            name = f'{split}_{index:03d}.png'
            cv2.imwrite(osp.join(img_dir, name), image)
            cv2.imwrite(osp.join(ann_dir, name), label)
    return root


TINY_QUICKSTART_OVERRIDES = """
_base_ = [{base!r}]
crop_size = (64, 64)
data_root = {data_root!r}
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(channels=16),
    auxiliary_head=dict(channels=16))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}))
randomness = dict(seed=0)
"""


def write_tiny_quickstart_config(path, repo_root, data_root, max_iters=4, ckpt_interval=2):
    """Write a config inheriting the quickstart UperNet-R18 config, shrunk for CPU tests."""
    base = osp.join(repo_root, 'configs', 'quickstart',
                    'upernet_r18_4xb4-20k_image-folder-512x512.py')
    with open(path, 'w') as f:
        f.write(TINY_QUICKSTART_OVERRIDES.format(base=base, data_root=data_root,
                                                 max_iters=max_iters, ckpt_interval=ckpt_interval))
    return path


def write_samrs_like_dataset(root, counts=None, size=64, seed=0, num_val=2):
    """Write a tiny SOTA/SIOR/FAST-like tree under ``root`` (the SEP base config's layout).

    ``<root>/<subset>/images`` (SIOR as .jpg like DIOR), ``semantic`` label PNGs with the
    subset's class indices (255 border), ``train.txt`` / ``val.txt``. Object colours are a
    function of (subset, class) so a tiny model can learn them. Returns the counts used.
    """
    from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
    counts = dict(counts or {'sota': 6, 'sior': 4, 'fast': 10})
    rng = np.random.default_rng(seed)
    for subset, count in counts.items():
        num_classes = len(SAMRS_CLASS_LISTS[subset])
        suffix = '.jpg' if subset == 'sior' else '.png'
        img_dir = osp.join(root, subset, 'images')
        ann_dir = osp.join(root, subset, 'semantic')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        colours = rng.integers(0, 256, size=(num_classes, 3))
        names = []
        for index in range(count + num_val):
            label = np.full((size, size), 255, np.uint8)
            image = np.full((size, size, 3), 90, np.float64)
            for _ in range(3):
                cls = int(rng.integers(0, min(num_classes, 4)))
                x1, y1 = rng.integers(0, size // 2, size=2)
                w, h = rng.integers(size // 6, size // 2, size=2)
                label[y1:y1 + h, x1:x1 + w] = cls
                image[y1:y1 + h, x1:x1 + w] = colours[cls]
            image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
            name = f'{subset}_{index:03d}'
            cv2.imwrite(osp.join(img_dir, name + suffix), image)
            cv2.imwrite(osp.join(ann_dir, name + '.png'), label)
            names.append(name)
        with open(osp.join(root, subset, 'train.txt'), 'w') as f:
            f.write('\n'.join(names[:count]) + '\n')
        with open(osp.join(root, subset, 'val.txt'), 'w') as f:
            f.write('\n'.join(names[count:]) + '\n')
    return counts


def _tiny_pipeline(subset, index, train):
    steps = ["dict(type='LoadImageFromFile')", "dict(type='LoadAnnotations')",
             f"dict(type='TagSubset', subset={subset!r}, subset_index={index})"]
    if train:
        steps += ["dict(type='RandomFlip', prob=0.5, direction='horizontal')",
                  "dict(type='RandomRot90', prob=0.5)"]
    steps.append('dict(type="PackSegInputs", meta_keys=meta_keys)')
    return '[' + ', '.join(steps) + ']'


def write_tiny_sep_config(path, repo_root, data_root, max_iters=20, batch_size=6,
                          extra_imports=(), extra='', num_workers=0, ckpt_interval=None, width=64):
    """Write a config inheriting configs/sep/upernet_r50.py, shrunk to ResNet-18 at 64 px
    (checkpoint at the end unless ``ckpt_interval`` says otherwise; ``width`` = the ResNet's
    base channels, 64 as in ResNet-18)."""
    base = osp.join(repo_root, 'configs', 'sep', 'upernet_r50.py')
    datasets = {'sota': 'SOTADataset', 'sior': 'SIORDataset', 'fast': 'FASTDataset'}
    train_sets, val_sets = [], []
    for index, (subset, dataset_type) in enumerate(datasets.items()):
        common = (f"type={dataset_type!r}, data_root={osp.join(data_root, subset)!r}, "
                  "data_prefix=dict(img_path='images', seg_map_path='semantic')")
        train_sets.append(f"dict({common}, ann_file='train.txt', "
                          f"pipeline={_tiny_pipeline(subset, index, True)})")
        val_sets.append(f"dict({common}, ann_file='val.txt', "
                        f"pipeline={_tiny_pipeline(subset, index, False)})")
    text = f"""
_base_ = [{base!r}]
custom_imports = dict(imports=['samrs_mm'] + {list(extra_imports)!r}, allow_failed_imports=False)
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
             'flip', 'flip_direction', 'reduce_zero_label', 'subset', 'subset_index')
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(depth=18, stem_channels={width}, base_channels={width}),
    decode_head=dict(in_channels={[width, 2 * width, 4 * width, 8 * width]}, channels=16),
    auxiliary_head=dict(in_channels={4 * width}, channels=16))
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers}, persistent_workers=False,
    dataset=dict(type='ConcatDataset', ignore_keys=['classes', 'palette', 'label_map', 'reduce_zero_label'],
                 datasets=[{', '.join(train_sets)}]))
val_dataloader = dict(num_workers=0, persistent_workers=False,
    dataset=dict(type='ConcatDataset', ignore_keys=['classes', 'palette', 'label_map', 'reduce_zero_label'],
                 datasets=[{', '.join(val_sets)}]))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end={max_iters})]
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval or max_iters}, save_best=None))
randomness = dict(seed=0)
{extra}
"""
    with open(path, 'w') as f:
        f.write(text)
    return path


def write_samrs_object_subsets(root, subsets=('sota', 'sior', 'fast'), num_train=2, num_val=1, size=128,
                               seed=0):
    """Make tiny SAMRS subsets with ``tools/samrs_annotate.py``'s runner (box backend).

    Per subset: ``num_train + num_val`` DOTA-format scenes of ``size`` px with three rotated
    rectangles of the subset's first three classes (one colour per class), labelled with
    the ``'rbox'`` region (each mask is its object's filled rotated box), images linked into
    ``<root>/<subset>/images``, ``instances/``, ``annotations.json``, ``train.txt``,
    ``val.txt``. SIOR images are .jpg as DIOR's. Returns ``{subset: [image names]}``.
    """
    from samrs_mm.annotate.runner import AnnotateRunner
    from samrs_mm.structures.boxes import rbox_to_quad
    from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 256, size=(3, 3))
    names = {}
    for subset in subsets:
        classes = SAMRS_CLASS_LISTS[subset]
        src = osp.join(root, '_source', subset)
        os.makedirs(osp.join(src, 'images'), exist_ok=True)
        os.makedirs(osp.join(src, 'labelTxt'), exist_ok=True)
        suffix = '.jpg' if subset == 'sior' else '.png'
        stems = [f'{subset}_{k:02d}' for k in range(num_train + num_val)]
        for stem in stems:
            image = np.clip(rng.normal(90, 10, (size, size, 3)), 0, 255).astype(np.uint8)
            lines = []
            for cls in range(3):
                w, h = rng.uniform(0.2, 0.35) * size, rng.uniform(0.1, 0.2) * size
                cx = (cls + 0.5) * size / 3
                cy = rng.uniform(0.3, 0.7) * size
                quad = rbox_to_quad([cx, cy, w, h, rng.uniform(-1.2, 1.2)])
                cv2.fillConvexPoly(image, np.round(quad).astype(np.int32), colours[cls].tolist())
                lines.append(' '.join(f'{v:.1f}' for v in quad.reshape(-1)) + f' {classes[cls]} {cls % 2}')
            cv2.imwrite(osp.join(src, 'images', stem + suffix), image)
            with open(osp.join(src, 'labelTxt', stem + '.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
        work = osp.join(root, subset)
        cfg = dict(work_dir=work,
                   source=dict(type='dota', ann_dir=osp.join(src, 'labelTxt'), img_dir=osp.join(src, 'images'),
                               class_list=subset),
                   engine=dict(backend='box', prompt='rbox'),
                   writer=dict(copy_images='link', color=False), runner=dict(num_workers=0, progress=False))
        summary = AnnotateRunner(cfg, log=lambda *a: None).run()
        assert summary.failed == 0, summary.failures
        with open(osp.join(work, 'train.txt'), 'w') as f:
            f.write(''.join(s + '\n' for s in stems[:num_train]))
        with open(osp.join(work, 'val.txt'), 'w') as f:
            f.write(''.join(s + '\n' for s in stems[num_train:]))
        names[subset] = stems
    return names


TINY_FINETUNE_OVERRIDES = """
_base_ = [{base!r}]
custom_imports = dict(imports=['samrs_mm'] + {extra_imports!r}, allow_failed_imports=False)
crop_size = (64, 64)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels={width}, base_channels={width}),
    decode_head=dict(in_channels={in_channels}, channels=16),
    auxiliary_head=dict(in_channels={aux_channels}, channels=16),
    test_cfg=dict(mode='whole'))
# The fine-tuning augmentations of configs/_base_/datasets/potsdam_512x512.py at 64 px.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90', prob=0.75),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size={batch_size}, num_workers={num_workers}, persistent_workers=False,
                        dataset=dict(data_root={data_root!r}, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={data_root!r}))
test_dataloader = val_dataloader
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end={max_iters})]
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}, save_best=None))
randomness = dict(seed=0)
{extra}
"""


def write_tiny_finetune_config(path, repo_root, data_root, max_iters=4, batch_size=2,
                               extra_imports=(), extra='', num_workers=0, ckpt_interval=None,
                               width=64):
    """Write a config inheriting the Potsdam UperNet-R50 fine-tuning config, shrunk to
    ResNet-18 (``width`` base channels) at 64 px (the same augmentations); ``data_root`` in
    the Potsdam layout (``write_image_folder_dataset(..., num_classes=6)`` writes one)."""
    base = osp.join(repo_root, 'configs', 'finetune', 'potsdam',
                    'upernet_r50-imp_8xb1-80k_potsdam-512x512.py')
    with open(path, 'w') as f:
        f.write(TINY_FINETUNE_OVERRIDES.format(
            base=base, data_root=data_root, max_iters=max_iters, batch_size=batch_size,
            extra_imports=list(extra_imports), extra=extra, num_workers=num_workers,
            ckpt_interval=ckpt_interval or max_iters, width=width,
            in_channels=[width, 2 * width, 4 * width, 8 * width], aux_channels=4 * width))
    return path


TINY_MTP_OVERRIDES = """
_base_ = [{base!r}]
custom_imports = dict(imports=['samrs_mm'] + {extra_imports!r}, allow_failed_imports=False)
# MTP's pipelines (configs/_base_/datasets/samrs_mtp.py) at a 64 px crop.
crop_size = (64, 64)
meta_keys = ('img_id', 'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'subset', 'subset_index')
load = [dict(type='LoadImageFromFile'),
        dict(type='mmdet.LoadAnnotations', with_bbox=True, with_mask=True, with_seg=True),
        dict(type='LoadRotatedBoxes')]
augment = [
    dict(type='mmdet.RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True,
         resize_type='mmdet.Resize'),
    dict(type='mmdet.RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomRot90', prob=0.5),
    dict(type='mmdet.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs', meta_keys=meta_keys)]
val_tail = [dict(type='mmdet.Resize', scale=crop_size, keep_ratio=True),
            dict(type='mmdet.LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
            dict(type='LoadRotatedBoxes'),
            dict(type='PackMultiTaskInputs', meta_keys=meta_keys + ('instances',))]
kinds = [('sota', 'SOTAMultiTaskDataset'), ('sior', 'SIORMultiTaskDataset'), ('fast', 'FASTMultiTaskDataset')]
train_sets = [dict(type=kind, data_root={data_root!r} + '/' + name, ann_file='train.txt', serialize_data=False,
                   pipeline=load + [dict(type='TagSubset', subset=name, subset_index=i)] + augment)
              for i, (name, kind) in enumerate(kinds)]
val_sets = [dict(type=kind, data_root={data_root!r} + '/' + name, ann_file='val.txt', test_mode=True,
                 serialize_data=False,
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='TagSubset', subset=name, subset_index=i)]
                 + val_tail)
            for i, (name, kind) in enumerate(kinds)]
c = 16
channels = [{width}, {width2}, {width4}, {width8}]
detector = dict(neck=dict(in_channels=channels, out_channels=c), rpn_head=dict(in_channels=c, feat_channels=c),
                train_cfg=dict(rpn=dict(sampler=dict(num=32)), rpn_proposal=dict(nms_pre=100, max_per_img=50),
                               rcnn=dict(sampler=dict(num=16))),
                # a random model scores ~1 / classes: a low threshold keeps a few predictions to evaluate
                test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=20), rcnn=dict(max_per_img=10, score_thr=0.01)))
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels={width}, base_channels={width}),
    decode_head=dict(in_channels=channels, channels=c),
    instance=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c),
                                          bbox_head=dict(in_channels=c, fc_out_channels=32),
                                          mask_roi_extractor=dict(out_channels=c),
                                          mask_head=dict(num_convs=1, in_channels=c, conv_out_channels=c))),
    rotated=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c),
                                         bbox_head=dict(in_channels=c, fc_out_channels=32))))
train_dataloader = dict(batch_size={batch_size}, num_workers=0, persistent_workers=False,
                        batch_sampler=dict(mode={mode!r}, subset_weights={subset_weights!r}),
                        dataset=dict(datasets=train_sets))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(datasets=val_sets))
test_dataloader = val_dataloader
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end={max_iters})]
train_cfg = dict(max_iters={max_iters}, val_interval={val_interval})
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={max_iters}))
randomness = dict(seed=0)
{extra}
"""


def write_tiny_mtp_config(path, repo_root, data_root, max_iters=2, batch_size=3, mode='avg',
                          subset_weights=None, val_interval=None, width=16, extra_imports=(), extra='',
                          base='mtp/mtp_r50.py'):
    """Write a config inheriting configs/mtp/mtp_r50.py (or ``base`` under configs/), shrunk to
    ResNet-18 with ``width`` base channels, 16-channel detection branches and a 64 px crop;
    ``data_root`` in the SAMRS layout with instance files (``write_samrs_object_subsets``
    writes one). ``extra`` is appended (it may redefine ``model``)."""
    base = osp.join(repo_root, 'configs', base)
    with open(path, 'w') as f:
        f.write(TINY_MTP_OVERRIDES.format(
            base=base, data_root=data_root, max_iters=max_iters, batch_size=batch_size, mode=mode,
            subset_weights=subset_weights, val_interval=val_interval or max_iters, width=width,
            width2=2 * width, width4=4 * width, width8=8 * width, extra_imports=list(extra_imports),
            extra=extra))
    return path
