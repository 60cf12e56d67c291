#!/usr/bin/env python
"""Forward + backward time and peak memory of the SAMRS backbones at 224 x 224, side by side.

    .venv/bin/python bench/backbones.py [--batch 2] [--repeats 3] [--threads N] [--only NAME ...]
                                        [--write-docs docs/benchmarks.md]

Each backbone runs in its own subprocess (so peak-memory readings do not mix): build, one
warm-up step, then ``--repeats`` timed steps of ``loss = sum(mean of each output level);
loss.backward()`` on random input. Reported: parameters, median step time, its ratio to
ResNet-50 measured in the same run, and the peak resident memory added by the steps over the
built model (activations, gradients, workspace; from ``ru_maxrss``). Numbers depend on the
machine: compare ratios, and rerun before quoting absolute times. ``--write-docs`` replaces
this script's section of the given markdown file (between its marker comments).
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


def measure(name: str, batch: int, repeats: int, threads: int) -> dict:
    """Build one backbone and time its training step (runs inside the worker subprocess)."""
    import torch

    import samrs_mm  # noqa: F401  (registers the package's backbones)
    from mmseg.registry import MODELS
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MODELS.build(dict(BACKBONES[name]))
    model.init_weights()
    model.train()
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, 3, 224, 224)
    base = _rss_mib()

    def step():
        model.zero_grad(set_to_none=True)
        outs = model(x)
        loss = sum(o.float().mean() for o in outs)
        loss.backward()
        return [tuple(o.shape) for o in outs]

    shapes = step()  # warm-up (allocator, lazy inits)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return dict(name=name, params=params, step_s=statistics.median(times), peak_mib=peak - base, shapes=shapes)


def run_all(names, batch, repeats, threads):
    """Measure every backbone in a fresh interpreter; return the result rows."""
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, '--worker', name, '--batch', str(batch), '--repeats', str(repeats),
               '--threads', str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            print(f'{name}: FAILED\n{proc.stderr[-2000:]}', file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f'  measured {name}: {rows[-1]["step_s"]:.2f} s', file=sys.stderr)
    return rows


def table(rows, batch, threads) -> str:
    """Markdown table with ratios to ResNet-50 (when measured)."""
    ref = next((r for r in rows if r['name'] == 'ResNet-50'), None)
    lines = [
        f'Forward + backward of one training step, batch {batch} x 3 x 224 x 224, CPU '
        f'({platform.processor() or platform.machine()}, {threads} threads), median of repeats.',
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
    body = f'{MARK_START}\n## Backbones: forward + backward at 224 x 224 on CPU (`bench/backbones.py`)\n\n{text}\n{MARK_END}\n'
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
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.batch, args.repeats, args.threads)))
        return
    rows = run_all(args.only or list(BACKBONES), args.batch, args.repeats, args.threads)
    text = table(rows, args.batch, args.threads)
    print(text)
    if args.write_docs:
        write_docs(args.write_docs, text)


if __name__ == '__main__':
    main()
