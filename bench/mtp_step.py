"""Cost of one multi-task (MTP) training step against one SEP step: same backbone, same batch.

Both models come from configs/mtp/mtp_r50.py with the backbone shrunk to ResNet-18 (CPU):

* SEP: mmseg's EncoderDecoder with that backbone and the MultiHeadDecodeHead (UperNet, one
  classifier per subset), as configs/sep/ builds it (no auxiliary head, like MTP);
* MTP: MultiTaskEncoderDecoder, the same backbone and semantic branch plus the Mask R-CNN and
  Oriented R-CNN branches at their configured size (FPN 256, RoI heads 1024).

One batch of synthetic 224 x 224 multi-task samples (2 per subset, MTP's 'avg' mix; 4 rotated
rectangles each, with masks, semantic map and rotated boxes); the SEP model reads the same
images and semantic maps. One step = forward, summed loss, backward, AdamW step. Steps
alternate between the two models and the median of each is reported, so machine noise hits
both alike.

    python bench/mtp_step.py [--steps 6] [--threads 2] [--size 224]
"""
import argparse
import copy
import os.path as osp
import statistics
import sys

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet.structures.bbox import HorizontalBoxes  # noqa: E402
from mmdet.structures.mask import BitmapMasks  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import MODELS, init_default_scope  # noqa: E402
from mmengine.structures import InstanceData, PixelData  # noqa: E402

import samrs_mm  # noqa: E402,F401
from samrs_mm.compat import import_mmrotate  # noqa: E402
from samrs_mm.datasets.multitask_sample import MultiTaskDataSample  # noqa: E402
from samrs_mm.launch import adapt_config_to_device  # noqa: E402
from samrs_mm.structures.boxes import rbox_to_quad  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import sep_step  # noqa: E402  (the same timed step for both benches)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = {'sota': 18, 'sior': 20, 'fast': 37}


def build_models():
    """The MTP model of configs/mtp/mtp_r50.py with a ResNet-18, and the SEP model inside it."""
    cfg = adapt_config_to_device(Config.fromfile(osp.join(REPO, 'configs', 'mtp', 'mtp_r50.py')))
    model = cfg.model
    model.pretrained = None
    model.background = False  # SEP has no background class: same semantic heads in both
    model.backbone.depth = 18
    channels = [64, 128, 256, 512]
    model.decode_head.in_channels = channels
    for branch in ('instance', 'rotated'):
        model[branch].neck.in_channels = channels
    init_default_scope('mmseg')
    torch.manual_seed(0)
    mtp = MODELS.build(copy.deepcopy(model))
    sep_cfg = dict(type='EncoderDecoder', backbone=model.backbone, decode_head=model.decode_head,
                   data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                          std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=32),
                   train_cfg=dict(), test_cfg=dict(mode='whole'))
    torch.manual_seed(0)
    sep = MODELS.build(sep_cfg)
    return mtp, sep


def make_batch(size: int):
    """Two samples per subset with 4 rotated rectangles each: image, semantic map, instances, rboxes."""
    import_mmrotate()
    from mmrotate.structures.bbox import RotatedBoxes
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    for subset in ('sota', 'sior', 'fast'):
        for _ in range(2):
            image = rng.integers(0, 256, (3, size, size), dtype=np.uint8)
            seg = np.full((size, size), 255, np.int64)
            rboxes, masks, labels = [], [], []
            for k in range(4):
                cx, cy = rng.uniform(0.2, 0.8, 2) * size
                w, h, t = rng.uniform(0.1, 0.25) * size, rng.uniform(0.05, 0.12) * size, rng.uniform(-1.5, 1.5)
                u = (xs - cx) * np.cos(t) + (ys - cy) * np.sin(t)
                v = -(xs - cx) * np.sin(t) + (ys - cy) * np.cos(t)
                mask = (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)
                label = int(rng.integers(0, CLASSES[subset]))
                seg[mask] = label
                rboxes.append((cx, cy, w, h, t))
                masks.append(mask)
                labels.append(label)
            quads = rbox_to_quad(np.asarray(rboxes))
            hboxes = np.concatenate([quads.min(1), quads.max(1)], axis=1).clip(0, size)
            sample = MultiTaskDataSample(metainfo=dict(subset=subset, img_shape=(size, size), ori_shape=(size, size),
                                                       pad_shape=(size, size), scale_factor=(1.0, 1.0)))
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg)[None])
            sample.gt_instances = InstanceData(bboxes=HorizontalBoxes(torch.tensor(hboxes, dtype=torch.float32)),
                                               labels=torch.tensor(labels),
                                               masks=BitmapMasks(np.stack(masks).astype(np.uint8), size, size))
            sample.ignored_instances = InstanceData(bboxes=HorizontalBoxes(torch.zeros(0, 4)),
                                                    labels=torch.zeros(0, dtype=torch.long))
            sample.gt_rotated_instances = InstanceData(
                bboxes=RotatedBoxes(torch.tensor(np.asarray(rboxes), dtype=torch.float32)), labels=torch.tensor(labels))
            sample.ignored_rotated_instances = InstanceData(bboxes=RotatedBoxes(torch.zeros(0, 5)),
                                                            labels=torch.zeros(0, dtype=torch.long))
            inputs.append(torch.from_numpy(image))
            samples.append(sample)
    return inputs, samples


def step(model, optimizer, inputs, samples):
    """One training step on a copy of the batch, timed as ``sep_step.step`` times SEP's; returns seconds."""
    return sep_step.step(model, optimizer, dict(inputs=list(inputs), data_samples=copy.deepcopy(samples)))


def main():
    """Time both models side by side and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--size', type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mtp, sep = build_models()
    inputs, samples = make_batch(args.size)
    models = {'SEP (backbone + semantic branch)': sep, 'MTP (+ Mask R-CNN + Oriented R-CNN)': mtp}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    for name, model in models.items():  # warm-up
        model.train()
        step(model, optimizers[name], inputs, samples)
    times = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            times[name].append(step(model, optimizers[name], inputs, samples))
    sep_time, mtp_time = (statistics.median(times[n]) for n in models)
    params = {name: sum(p.numel() for p in m.parameters()) / 1e6 for name, m in models.items()}
    print(f'Training step, ResNet-18, batch 6 (2 per subset), {args.size} x {args.size}, CPU, '
          f'{args.threads} threads, median of {args.steps} alternating steps')
    print('| model | parameters (M) | step (s) |')
    print('|---|---|---|')
    for name in models:
        print(f'| {name} | {params[name]:.1f} | {statistics.median(times[name]):.3f} |')
    print(f'| **ratio MTP / SEP** | | **{mtp_time / sep_time:.2f}** |')


if __name__ == '__main__':
    main()
