"""Cost of the multi-head SEP model against the same model with one head, on one batch.

Both models: ResNet-18 + UperNet (+ FCN auxiliary head) at 224 x 224 on CPU. The single-head
model has a stock UPerHead/FCNHead with 37 classes; the SEP model wraps the same heads in
MultiHeadDecodeHead with the three SAMRS classifiers (18 / 20 / 37 classes) and a batch
mixed like MultiSourceSampler mixes it. One "step" = forward, loss, backward, AdamW step.
Steps alternate between the two models and the median of each is reported, so machine
noise hits both alike.

    python bench/sep_step.py [--batch 8] [--steps 12] [--threads 2]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import samrs_mm  # noqa: E402,F401
from samrs_mm.datasets.multi_source_sampler import proportional_batch_sizes  # noqa: E402

NORM = dict(type='BN', requires_grad=True)


def build(multi_head: bool):
    """ResNet-18 UperNet, with stock heads or their multi-head wrappers."""
    decode = dict(type='UPerHead', in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3],
                  pool_scales=(1, 2, 3, 6), channels=128, dropout_ratio=0.1, num_classes=37,
                  norm_cfg=NORM, align_corners=False,
                  loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    aux = dict(type='FCNHead', in_channels=256, in_index=2, channels=64, num_convs=1,
               concat_input=False, dropout_ratio=0.1, num_classes=37, norm_cfg=NORM,
               align_corners=False, loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))
    if multi_head:
        decode = dict(type='MultiHeadDecodeHead', decoder=decode)
        aux = dict(type='MultiHeadDecodeHead', decoder=aux)
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=(224, 224)),
        backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                      norm_cfg=NORM, style='pytorch', contract_dilation=True),
        decode_head=decode, auxiliary_head=aux, train_cfg=dict(), test_cfg=dict(mode='whole'))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def make_batch(batch_size: int):
    """A mixed batch in the proportions the sampler gives for the paper's subset sizes."""
    counts = proportional_batch_sizes((17480, 11725, 64147), batch_size)
    subsets = [s for s, c in zip(('sota', 'sior', 'fast'), counts) for _ in range(c)]
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for subset in subsets:
        classes = {'sota': 18, 'sior': 20, 'fast': 37}[subset]
        inputs.append(torch.randint(0, 256, (3, 224, 224), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(subset=subset, img_shape=(224, 224),
                                             ori_shape=(224, 224), pad_shape=(224, 224)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, classes, (1, 224, 224), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples), counts


def step(model, optimizer, batch):
    """One training step; returns seconds."""
    start = time.perf_counter()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)  # mmengine's sum of the 'loss' terms (lists too)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main():
    """Time both models side by side and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--steps', type=int, default=12)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    batch, counts = make_batch(args.batch)
    models = {'single head (37 classes)': build(False), 'multi-head (18/20/37)': build(True)}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    for name, model in models.items():  # warm-up
        model.train()
        step(model, optimizers[name], batch)
    times = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            times[name].append(step(model, optimizers[name], batch))
    single, multi = (statistics.median(times[n]) for n in models)
    print(f'SEP training step, ResNet-18 UperNet + FCN aux, batch {args.batch} '
          f'(sota/sior/fast = {counts[0]}/{counts[1]}/{counts[2]}), 224 x 224, CPU, '
          f'{args.threads} threads, median of {args.steps} steps')
    print('| model | step (s) |')
    print('|---|---|')
    for name in models:
        print(f'| {name} | {statistics.median(times[name]):.3f} |')
    print(f'| **ratio multi / single** | **{multi / single:.3f}** |')


if __name__ == '__main__':
    main()
