"""Tiny synthetic data for tests (random-colour images with painted shapes, SAMRS-like trees), and
the tests' configs: the shipped smoke configs (configs/smoke/) with the data roots and sizes of a test."""
import os
import os.path as osp
import re
from unittest import mock

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


def write_smoke_config(path, name, repo_root, env=None, options=None, extra_imports=(), extra='', base=None):
    """Write ``path``: ``configs/smoke/<name>.py`` resolved (its data roots from ``env``, as the
    tools read them), with ``options`` merged as ``--cfg-options`` would, ``extra_imports`` added to
    its custom imports and the config text ``extra`` appended to its text (it may redefine a key or
    use the smoke config's variables; ``options`` are merged after it). ``base`` (under configs/)
    replaces the config it inherits."""
    from mmengine.config import Config
    smoke = osp.join(repo_root, 'configs', 'smoke', name + '.py')
    with open(smoke) as f:
        text = f.read()
    match = re.search(r"^_base_ = \['([^']+)'\]$", text, re.M)
    parent = osp.join(repo_root, 'configs', base) if base else osp.normpath(osp.join(osp.dirname(smoke), match[1]))
    source = path[:-len('.py')] + '_smoke.py'
    with open(source, 'w') as f:
        f.write(text[:match.start()] + f'_base_ = [{parent!r}]' + text[match.end():] + '\n' + extra)
    saved = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    try:
        cfg = Config.fromfile(source)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    cfg.merge_from_dict(dict(options or {}))
    if extra_imports:
        cfg.custom_imports.imports = list(cfg.custom_imports.imports) + list(extra_imports)
    # The text unformatted: yapf's passes would cost ~2 s a config (tests/tool_env does the same).
    with mock.patch('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, False)):
        cfg.dump(path)
    return path


def _schedule(max_iters, val_interval=None, ckpt_interval=None):
    """The smoke configs' iteration overrides: constant rate, validation and a checkpoint at the end."""
    return {'train_cfg.max_iters': max_iters, 'train_cfg.val_interval': val_interval or max_iters,
            'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)],
            'default_hooks.checkpoint.interval': ckpt_interval or max_iters}


def _resnet_width(width, aux=True):
    """Overrides of a UperNet ResNet-18's base channels (``width``) and its heads' inputs."""
    options = {'model.backbone.stem_channels': width, 'model.backbone.base_channels': width,
               'model.decode_head.in_channels': [width, 2 * width, 4 * width, 8 * width]}
    if aux:
        options['model.auxiliary_head.in_channels'] = 4 * width
    return options


def write_tiny_quickstart_config(path, repo_root, data_root, max_iters=4, ckpt_interval=2):
    """configs/smoke/quickstart.py on the image folder ``data_root``."""
    options = {f'{split}_dataloader.dataset.data_root': data_root for split in ('train', 'val', 'test')}
    options.update({'train_cfg.max_iters': max_iters, 'train_cfg.val_interval': max_iters,
                    'default_hooks.checkpoint.interval': ckpt_interval})
    return write_smoke_config(path, 'quickstart', repo_root, options=options)


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


def write_tiny_sep_config(path, repo_root, data_root, max_iters=20, batch_size=6,
                          extra_imports=(), extra='', num_workers=0, ckpt_interval=None, width=64,
                          val_interval=None):
    """configs/smoke/sep.py on the SAMRS-like tree ``data_root`` (``width`` = the ResNet-18's base
    channels; checkpoint at the end unless ``ckpt_interval`` says otherwise)."""
    options = dict(_schedule(max_iters, val_interval, ckpt_interval), **_resnet_width(width))
    options.update({'train_dataloader.batch_size': batch_size, 'train_dataloader.num_workers': num_workers})
    return write_smoke_config(path, 'sep', repo_root, env={'SAMRS_DATA_ROOT': data_root}, options=options,
                              extra_imports=extra_imports, extra=extra)


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


def write_tiny_finetune_config(path, repo_root, data_root, max_iters=4, batch_size=2,
                               extra_imports=(), extra='', num_workers=0, ckpt_interval=None,
                               width=64, val_interval=None, base=None, options=None):
    """configs/smoke/finetune_potsdam.py on ``data_root`` in the Potsdam layout
    (``write_image_folder_dataset(..., num_classes=6)`` writes one); ``width`` as for SEP; ``base``
    (under configs/) another Potsdam row (e.g. its ``-sep`` one), ``options`` more overrides."""
    options = dict(_schedule(max_iters, val_interval, ckpt_interval), **_resnet_width(width), **(options or {}))
    options.update({'train_dataloader.batch_size': batch_size, 'train_dataloader.num_workers': num_workers})
    return write_smoke_config(path, 'finetune_potsdam', repo_root, env={'POTSDAM_ROOT': data_root},
                              options=options, extra_imports=extra_imports, extra=extra, base=base)


def write_tiny_mtp_config(path, repo_root, data_root, max_iters=2, batch_size=3, mode='avg',
                          subset_weights=None, val_interval=None, extra_imports=(), extra='', base=None):
    """configs/smoke/mtp.py on ``data_root`` in the SAMRS layout with instance files
    (``write_samrs_object_subsets`` writes one); ``base`` (under configs/) replaces
    configs/mtp/mtp_r50.py, ``extra`` is appended (it may redefine ``model``)."""
    options = dict(_schedule(max_iters, val_interval))
    options.update({'train_dataloader.batch_size': batch_size, 'train_dataloader.batch_sampler.mode': mode,
                    'train_dataloader.batch_sampler.subset_weights': subset_weights})
    return write_smoke_config(path, 'mtp', repo_root, env={'SAMRS_DATA_ROOT': data_root}, options=options,
                              extra_imports=extra_imports, extra=extra, base=base)
