#!/usr/bin/env python
"""Forward + backward time and peak memory of the SAMRS backbones at 224 x 224, side by side.

    .venv/bin/python bench/backbones.py [--batch 2] [--repeats 3] [--threads N] [--only NAME ...]
                                        [--write-docs docs/benchmarks.md]

A training step is ``loss = sum(mean of each output level); loss.backward()`` on random
input. Peak memory: each backbone alone in a fresh subprocess, one step, the resident memory
added over the built model (activations, gradients, workspace; from ``ru_maxrss``). Time: all
backbones built in one subprocess, one warm-up step each, then ``--repeats`` rounds timing
one step of every backbone in turn (round-robin, so changes of machine load hit all alike);
the median per backbone and its ratio to ResNet-50 are reported. Absolute numbers depend on
the machine: compare ratios. ``--write-docs`` replaces this script's section of the given
markdown file (between its marker comments).
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

# name -> backbone config (mmseg registry); mmseg's own backbones as the paper configures them
BACKBONES = {
    'ResNet-50': dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),
    'Swin-T': dict(type='SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                   window_size=7, drop_path_rate=0.3),
    'ViT-B': dict(type='VisionTransformer', img_size=224, embed_dims=768, num_layers=12, num_heads=12,
                  out_indices=(2, 5, 8, 11), final_norm=True, drop_path_rate=0.1),
    'ViTAEv2-S': dict(type='ViTAEv2'),
    'InternImage-T (PyTorch DCNv3)': dict(type='InternImage', dcn_impl='pytorch'),
    'ViT-Adapter-B': dict(type='ViTAdapter'),
    'ViT-B + RVSA': dict(type='ViTRVSA'),
}
MARK_START = '<!-- bench/backbones.py: start -->'
MARK_END = '<!-- bench/backbones.py: end -->'


def _rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _build(name: str):
    from mmseg.registry import MODELS

    import samrs_mm  # noqa: F401  (registers the package's backbones)
    model = MODELS.build(dict(BACKBONES[name]))
    model.init_weights()
    model.train()  # (mmseg's backbones return None from train())
    return model


def _step(model, x):
    model.zero_grad(set_to_none=True)
    outs = model(x)
    sum(o.float().mean() for o in outs).backward()
    return [tuple(o.shape) for o in outs]


def measure_memory(name: str, batch: int, threads: int) -> dict:
    """Peak resident memory added by one training step (run alone in a fresh process)."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = _build(name)
    x = torch.randn(batch, 3, 224, 224)
    base = _rss_mib()
    shapes = _step(model, x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    params = sum(p.numel() for p in model.parameters())
    return dict(name=name, params=params, peak_mib=peak - base, shapes=shapes)


def measure_times(names, batch: int, repeats: int, threads: int) -> dict:
    """Median step time per backbone, all built in this process and timed round-robin.

    Round-robin timing spreads any change of machine load evenly over the backbones, so
    their ratios stay meaningful on a shared machine.
    """
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 224, 224)
    models = {name: _build(name) for name in names}
    for model in models.values():
        _step(model, x)  # warm-up (allocator, lazy inits)
    times = {name: [] for name in names}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            _step(model, x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _worker(args) -> list:
    cmd = [sys.executable, __file__] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(args)} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_all(names, batch, repeats, threads):
    """Memory of each backbone in its own process, then all step times in one process."""
    common = ['--batch', str(batch), '--threads', str(threads)]
    rows = []
    for name in names:
        rows.append(_worker(['--memory-worker', name] + common))
        print(f'  memory of {name}: {rows[-1]["peak_mib"]:.0f} MiB', file=sys.stderr)
    step = _worker(['--time-worker', *names, '--repeats', str(repeats)] + common)
    for row in rows:
        row['step_s'] = step[row['name']]
    return rows


def table(rows, batch, threads) -> str:
    """Markdown table with ratios to ResNet-50 (when measured)."""
    ref = next((r for r in rows if r['name'] == 'ResNet-50'), None)
    lines = [
        f'`.venv/bin/python bench/backbones.py --batch {batch} --threads {threads}`: forward + backward of one '
        f'training step, batch {batch} x 3 x 224 x 224, CPU ({platform.processor() or platform.machine()}, '
        f'{threads} threads), median over round-robin repeats. Peak extra memory = resident memory added by one '
        'step over the built model (activations, gradients, workspace), each backbone alone in a fresh process. '
        'InternImage-T uses the pure-PyTorch DCNv3 core (no compiled kernel on CPU); ViT-Adapter-B uses mmcv\'s '
        'PyTorch deformable attention.',
        '',
        '| backbone | parameters | step time (s) | time / ResNet-50 | peak extra memory (MiB) | output shapes |',
        '|---|---:|---:|---:|---:|---|',
    ]
    for r in rows:
        ratio = f'{r["step_s"] / ref["step_s"]:.2f}' if ref else 'n/a'
        shapes = ', '.join('x'.join(map(str, s[1:])) for s in r['shapes'])
        lines.append(f'| {r["name"]} | {r["params"] / 1e6:.2f}M | {r["step_s"]:.2f} | {ratio} | '
                     f'{r["peak_mib"]:.0f} | {shapes} |')
    return '\n'.join(lines)


def write_docs(path: str, text: str) -> None:
    """Replace (or append) this script's marked section of ``path``."""
    title = '## Backbones: forward + backward at 224 x 224 on CPU (`bench/backbones.py`)'
    body = f'{MARK_START}\n{title}\n\n{text}\n{MARK_END}\n'
    old = open(path).read() if osp.exists(path) else '# Benchmarks\n\n'
    if MARK_START in old and MARK_END in old:
        new = old[:old.index(MARK_START)] + body + old[old.index(MARK_END) + len(MARK_END) + 1:]
    else:
        new = old.rstrip('\n') + '\n\n' + body
    with open(path, 'w') as f:
        f.write(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--only', nargs='+', choices=list(BACKBONES), help='measure only these')
    parser.add_argument('--write-docs', metavar='MD', help='write the table into this markdown file')
    parser.add_argument('--memory-worker', help=argparse.SUPPRESS)
    parser.add_argument('--time-worker', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        print(json.dumps(measure_memory(args.memory_worker, args.batch, args.threads)))
        return
    if args.time_worker:
        print(json.dumps(measure_times(args.time_worker, args.batch, args.repeats, args.threads)))
        return
    rows = run_all(args.only or list(BACKBONES), args.batch, args.repeats, args.threads)
    text = table(rows, args.batch, args.threads)
    print(text)
    if args.write_docs:
        write_docs(args.write_docs, text)


if __name__ == '__main__':
    main()
