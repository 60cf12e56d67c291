"""Time from process start to the first new iteration of a resumed run: at iteration 0 and at
iteration N (default 2,000), with mmengine's IterBasedTrainLoop and with samrs_mm's
ExactResumeIterBasedTrainLoop, side by side.

The config is configs/sep/upernet_r50.py shrunk as the tests shrink it (ResNet-18, 64 px
SAMRS-like images, batch 4, 2 loader workers; MultiSourceSampler). One short run writes a
checkpoint; copies of it claim iteration 0 and iteration N, and each measurement resumes one
of them through the stock tools/train.py for one new iteration. The clock runs from starting
the process to the log line of that iteration; the process is then stopped. The four cases
run interleaved, ``--repeat`` times, and the median is reported, so machine noise hits all
alike.

    python bench/resume_time.py [--iters 2000] [--repeat 3]
"""
import argparse
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.toy_data import write_samrs_like_dataset, write_tiny_sep_config  # noqa: E402

LOOPS = {'mmengine IterBasedTrainLoop': 'IterBasedTrainLoop',
         'samrs_mm ExactResumeIterBasedTrainLoop': 'ExactResumeIterBasedTrainLoop'}


def _env():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1', PYTHONHASHSEED='0')
    return env


def make_checkpoints(root, iters):
    """Train one iteration, then write work dirs whose last checkpoint claims 0 / ``iters``."""
    data = osp.join(root, 'samrs')
    write_samrs_like_dataset(data, {'sota': 6, 'sior': 4, 'fast': 10}, size=64, num_val=1)
    config = write_tiny_sep_config(osp.join(root, 'tiny_sep.py'), REPO, data, max_iters=1,
                                   batch_size=4, num_workers=2)
    seed_dir = osp.join(root, 'seed_run')
    subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir',
                    seed_dir, '--cfg-options', 'val_cfg=None', 'val_dataloader=None',
                    'val_evaluator=None'], env=_env(), check=True, capture_output=True)
    checkpoint = torch.load(osp.join(seed_dir, 'iter_1.pth'), map_location='cpu', weights_only=False)
    work_dirs = {}
    for at in (0, iters):
        work = osp.join(root, f'at_{at}')
        os.makedirs(work)
        checkpoint['meta']['iter'] = at
        path = osp.join(work, f'iter_{at}.pth')
        torch.save(checkpoint, path)
        with open(osp.join(work, 'last_checkpoint'), 'w') as f:
            f.write(path)
        work_dirs[at] = work
    return config, work_dirs


def time_to_first_new_iteration(config, work_dir, at, loop):
    """Seconds from starting tools/train.py --resume to the log line of iteration at + 1."""
    scratch = work_dir + '_run'
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(work_dir, scratch)
    with open(osp.join(scratch, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(scratch, f'iter_{at}.pth'))
    marker = f'Iter(train) [{at + 1}/{at + 2}]'
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', scratch,
           '--resume', '--cfg-options', f'train_cfg.type={loop}', f'train_cfg.max_iters={at + 2}',
           'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds, tail = None, []
    for line in proc.stdout:
        tail = (tail + [line])[-30:]
        if marker in line:
            seconds = time.perf_counter() - start
            break
    proc.kill()
    proc.wait()
    shutil.rmtree(scratch, ignore_errors=True)
    if seconds is None:
        raise RuntimeError(f'{loop} at {at}: no "{marker}" line; last output:\n{"".join(tail)}')
    return seconds


def main():
    """Measure the four cases interleaved and print the table with the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=2000, help='iteration to resume at')
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='resume_bench_')
    try:
        config, work_dirs = make_checkpoints(root, args.iters)
        times = {(name, at): [] for name in LOOPS for at in work_dirs}
        for _ in range(args.repeat):
            for name, loop in LOOPS.items():
                for at, work in work_dirs.items():
                    times[(name, at)].append(time_to_first_new_iteration(config, work, at, loop))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f'Resume: process start -> first new iteration logged, tiny SEP config (ResNet-18, '
          f'64 px, batch 4, 2 workers), CPU, median of {args.repeat} interleaved runs')
    print(f'| loop | resume at 0 (s) | resume at {args.iters} (s) | ratio |')
    print('|---|---:|---:|---:|')
    for name in LOOPS:
        zero, late = (statistics.median(times[(name, at)]) for at in work_dirs)
        print(f'| {name} | {zero:.1f} | {late:.1f} | **{late / zero:.2f}** |')
    runs = '; '.join(f'{name.split()[1]} at {at}: ' + ', '.join(f'{t:.1f}' for t in values)
                     for (name, at), values in times.items())
    print(f'runs (s): {runs}')


if __name__ == '__main__':
    main()
