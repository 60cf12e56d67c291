"""Samples per second that one DataLoader worker delivers with the training pipelines of the
SEP and fine-tuning configs (decode + augment + pack), on generated images of the real sizes.

Each pipeline is read from its config (configs/_base_/datasets/samrs_sep.py: SOTA 1024 px
PNG, SIOR 800 px JPEG, FAST 600 px PNG, each randomly scaled 0.5-2x, cropped to 224, flipped,
rotated, colour-jittered; potsdam_512x512.py: 512 px PNG crops; isaid_896x896.py: 896 px PNG
crops, both scaled 0.5-2x and cropped to the crop size), built as a training run builds it
(the dataset wrapped in SeededSampleDataset, each index carrying its seed) and run in this one
process, OpenCV single-threaded as mmengine sets it in workers: that is one worker's work.
Rates come from the CPU time of this process (what one worker on a core of its own
delivers; other load on the machine barely changes it); the wall time is printed too.
Images: smooth random texture with objects and mild noise (PNG and JPEG compress them about as
much as aerial imagery); labels: PNG class maps. The pipelines are measured round-robin, one
sample each in turn, ``--samples`` per pipeline, so machine noise hits all alike.

    python bench/loader_throughput.py [--samples 60]
"""
import argparse
import math
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

import samrs_mm  # noqa: E402,F401
from samrs_mm.datasets.sample_seeding import SeededIndex, SeededSampleDataset, sample_seed  # noqa: E402

# name: (config file, size, image suffix, how the config's train set is found)
PIPELINES = {
    'SEP / SOTA 1024 PNG': ('configs/_base_/datasets/samrs_sep.py', 1024, '.png', 'sota_train'),
    'SEP / SIOR 800 JPEG': ('configs/_base_/datasets/samrs_sep.py', 800, '.jpg', 'sior_train'),
    'SEP / FAST 600 PNG': ('configs/_base_/datasets/samrs_sep.py', 600, '.png', 'fast_train'),
    'fine-tune / Potsdam 512 PNG': ('configs/_base_/datasets/potsdam_512x512.py', 512, '.png', None),
    'fine-tune / iSAID 896 PNG': ('configs/_base_/datasets/isaid_896x896.py', 896, '.png', None),
}
# The paper's global SEP batch of 96: 18 SOTA + 12 SIOR + 66 FAST (MultiSourceSampler).
SEP_MIX = {'SEP / SOTA 1024 PNG': 18, 'SEP / SIOR 800 JPEG': 12, 'SEP / FAST 600 PNG': 66}
IMAGES_PER_SET = 4


def aerial_like(rng, size):
    """A smooth colour texture with a few flat objects and sensor-like noise, and its labels."""
    coarse = rng.integers(40, 200, (size // 32 + 1, size // 32 + 1, 3)).astype(np.uint8)
    image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    label = np.full((size, size), 255, np.uint8)
    for _ in range(30):
        x, y = rng.integers(0, size - 8, 2)
        w, h = rng.integers(8, size // 8, 2)
        cls = int(rng.integers(0, 6))
        image[y:y + h, x:x + w] = rng.integers(0, 256, 3)
        label[y:y + h, x:x + w] = cls
    image += rng.integers(-6, 7, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8), label


def write_set(root, size, suffix, layout, rng):
    """``IMAGES_PER_SET`` images of one pipeline in the layout its dataset reads."""
    names = [f'img_{i}' for i in range(IMAGES_PER_SET)]
    for name in names:
        image, label = aerial_like(rng, size)
        if layout == 'samrs':
            paths = (osp.join(root, 'images', name + suffix), osp.join(root, 'semantic', name + '.png'))
        elif layout == 'isaid':
            paths = (osp.join(root, 'img_dir', 'train', name + '.png'),
                     osp.join(root, 'ann_dir', 'train', name + '_instance_color_RGB.png'))
        else:
            paths = (osp.join(root, 'img_dir', 'train', name + '.png'),
                     osp.join(root, 'ann_dir', 'train', name + '.png'))
        for path, array in zip(paths, (image, label)):
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, array)
    if layout == 'samrs':
        with open(osp.join(root, 'train.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')


def build_datasets(root):
    """Each pipeline's training set over generated images, as a training run wraps it."""
    rng = np.random.default_rng(0)
    datasets = {}
    for name, (config, size, suffix, key) in PIPELINES.items():
        data_root = osp.join(root, name.replace(' ', '_').replace('/', ''))
        cfg = Config.fromfile(osp.join(REPO, config))
        if key is not None:
            dataset_cfg = dict(cfg[key], data_root=data_root)
            write_set(data_root, size, suffix, 'samrs', rng)
        else:
            dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=data_root)
            write_set(data_root, size, suffix, 'isaid' if 'isaid' in config else 'potsdam', rng)
        datasets[name] = SeededSampleDataset(DATASETS.build(dataset_cfg))
        assert len(datasets[name]) == IMAGES_PER_SET, name
    return datasets


def main():
    """Time every pipeline round-robin and print samples / s per worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=60, help='samples per pipeline')
    args = parser.parse_args()
    cv2.setNumThreads(0)  # what mmengine's default env_cfg sets for worker processes
    init_default_scope('mmseg')
    root = tempfile.mkdtemp(prefix='loader_bench_')
    try:
        datasets = build_datasets(root)
        for dataset in datasets.values():  # warm-up: first decode, lazy imports
            dataset[SeededIndex(0, 0)]
        cpu = {name: 0.0 for name in datasets}
        wall = {name: 0.0 for name in datasets}
        for position in range(args.samples):
            for name, dataset in datasets.items():
                index = SeededIndex(position % len(dataset), sample_seed(0, position))
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                dataset[index]
                cpu[name] += time.process_time() - start_cpu
                wall[name] += time.perf_counter() - start_wall
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rate = {name: args.samples / cpu[name] for name in datasets}
    wall_ms = {name: 1000 * wall[name] / args.samples for name in datasets}
    mix = sum(SEP_MIX.values())
    rate['SEP mix 18 / 12 / 66'] = mix / sum(count / rate[name] for name, count in SEP_MIX.items())
    wall_ms['SEP mix 18 / 12 / 66'] = sum(count * wall_ms[name] for name, count in SEP_MIX.items()) / mix
    print(f'One loader worker: decode + augment + pack, CPU, OpenCV single-threaded, '
          f'{args.samples} samples per pipeline, round-robin')
    print('| pipeline | CPU ms / sample | samples / s per worker | wall ms / sample |')
    print('|---|---:|---:|---:|')
    for name, value in rate.items():
        print(f'| {name} | {1000 / value:.1f} | {value:.1f} | {wall_ms[name]:.1f} |')
    print()
    print('Workers one GPU needs = per-GPU batch / (GPU step time x samples/s per worker):')
    steps = (0.025, 0.05, 0.1, 0.2, 0.4)
    print('| per-GPU batch, pipeline | ' + ' | '.join(f'step {step} s' for step in steps) + ' |')
    print('|---|' + '---:|' * len(steps))
    for label, batch, name in (('12, SEP mix', 12, 'SEP mix 18 / 12 / 66'),
                               ('1, Potsdam', 1, 'fine-tune / Potsdam 512 PNG'),
                               ('1, iSAID', 1, 'fine-tune / iSAID 896 PNG')):
        cells = ' | '.join(str(math.ceil(batch / (step * rate[name]))) for step in steps)
        print(f'| {label} | {cells} |')


if __name__ == '__main__':
    main()
