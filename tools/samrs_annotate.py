#!/usr/bin/env python
"""Label a detection dataset with SAM: semantic / colour PNGs, instance json, COCO json.

Examples::

    # SOTA: DOTA-v2.0 1024 x 1024 patches (tools/split_images.py), H-Box prompts, SAM ViT-H
    python tools/samrs_annotate.py configs/annotate/sota_dotav2-1024_hbox.py \\
        --cfg-options engine.checkpoint=checkpoints/sam_vit_h_4b8939.pth

    # Without SAM weights: fill the boxes instead (the 'box' baseline)
    python tools/samrs_annotate.py configs/annotate/sior_dior_hbox.py --cfg-options engine.backend=box

    # 8 GPUs / CPU processes, or Slurm
    tools/dist_annotate.sh configs/annotate/fast_fair1m2-600_rhbox.py 8
    GPUS=16 tools/slurm_annotate.sh PARTITION samrs configs/annotate/sota_dotav2-1024_hbox.py

Rerunning the same command resumes (finished images are skipped). Exit status: 0 when
every image was labelled or skipped by a lenient source, 1 when some failed (listed at the
end and in summary.json), 2 when the config cannot run. See docs/annotate.md.
"""
import argparse
import datetime
import os
import os.path as osp
import subprocess
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

def parse_args(argv=None):
    """Command-line options."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='annotate config (configs/annotate/*.py)')
    parser.add_argument('--work-dir', help='output folder (default: work_dir of the config)')
    parser.add_argument('--num-workers', type=int, help='DataLoader processes decoding images')
    parser.add_argument('--fail-fast', action='store_true', help='stop at the first failed image')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='how the processes were started (dist_annotate.sh: pytorch)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. engine.backend=box work_dir=out/sota '
                             'source.ann_dir=data/x/labelTxt')
    return parser.parse_args(argv)


def load_config(args):
    """The mmengine Config with command-line overrides applied."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    if not cfg.get('work_dir'):
        cfg.work_dir = osp.join('work_dirs', 'annotate', osp.splitext(osp.basename(args.config))[0])
    runner = dict(cfg.get('runner') or {})
    if args.num_workers is not None:
        runner['num_workers'] = args.num_workers
    if args.fail_fast:
        runner['fail_fast'] = True
    if args.no_progress:
        runner['progress'] = False
    cfg.runner = runner
    return cfg


def setup_distributed(launcher: str, timeout_s: float):
    """``(rank, world_size, barrier)`` for the launcher; a gloo group is enough for the barrier."""
    if launcher == 'none':
        return 0, 1, None
    if launcher == 'slurm':
        # Same mapping as mmengine's Slurm launcher, without its CUDA-only device setup.
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            nodes = subprocess.getoutput(f'scontrol show hostname {os.environ["SLURM_NODELIST"]} | head -n1')
            os.environ['MASTER_ADDR'] = nodes.strip()
        os.environ.setdefault('MASTER_PORT', '29500')
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if world_size == 1:
        return 0, 1, None
    import torch.distributed as dist
    # gloo for the rendezvous and barrier only: labelling needs no collective on the GPU, and
    # gloo works on CPU-only machines too.
    dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=timeout_s))
    return rank, world_size, dist.barrier


def main(argv=None) -> int:
    """Run the labelling; return the exit status."""
    args = parse_args(argv)
    try:
        cfg = load_config(args)
    except Exception as exc:  # noqa: BLE001 - any parse error is a config error here
        print(f'error: cannot load config {args.config}: {exc}', file=sys.stderr)
        return 2
    import samrs_mm  # noqa: F401  (runtime fixes and registries)
    from samrs_mm.annotate.runner import RUNNER_DEFAULTS, AnnotateConfigError, AnnotateRunner, sam_weights_problem
    problem = sam_weights_problem(dict(cfg.get('engine') or {}))
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    timeout = float(cfg.runner.get('dist_timeout', RUNNER_DEFAULTS['dist_timeout']))
    rank, world_size, barrier = setup_distributed(args.launcher, timeout)
    plain = {k: cfg[k] for k in ('source', 'engine', 'writer', 'runner', 'work_dir') if k in cfg}
    # Helper variables (data_root = ...) are fine; an unknown dict is most likely a misspelt
    # section ('wirter=dict(...)') whose settings would be silently ignored.
    unknown = sorted(k for k in cfg.keys() if k not in plain and k != 'ablation'  # read by prompt_ablation.py
                     and isinstance(cfg[k], dict))
    if unknown:
        print(f'error: {args.config}: unknown top-level sections {unknown} '
              '(expected source, engine, writer, runner, work_dir)', file=sys.stderr)
        return 2
    try:
        runner = AnnotateRunner(plain, rank=rank, world_size=world_size, barrier=barrier)
        if rank == 0:
            os.makedirs(osp.join(cfg.work_dir, 'logs'), exist_ok=True)
            cfg.dump(osp.join(cfg.work_dir, 'logs', osp.basename(args.config)))
            print(f'[samrs_annotate] {len(runner.source)} images from {cfg.source.get("type")} -> '
                  f'{cfg.work_dir} ({world_size} process{"es" if world_size > 1 else ""})')
        summary = runner.run()
    except AnnotateConfigError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if rank != 0:
        return 0  # rank 0 reports the totals and carries the exit status
    print(f'[samrs_annotate] {summary.line()}')
    stats = summary.read_stats or {}
    if stats.get('skipped_instances') or stats.get('skipped_images'):
        print(f'[samrs_annotate] the source skipped objects {stats.get("skipped_instances", {})} and images '
              f'{stats.get("skipped_images", {})}; unknown classes {stats.get("unknown_classes", {})} '
              '(examples in summary.json: read_stats)')
    print(f'[samrs_annotate] outputs in {summary.work_dir} (summary.json, annotations.json)')
    if summary.failed:
        print(f'[samrs_annotate] {summary.failed} image(s) failed; output is incomplete. First failures:',
              file=sys.stderr)
        for failure in summary.failures[:10]:
            print(f'  #{failure["index"]}: {failure["error"]}', file=sys.stderr)
        print('  fix them and rerun the same command: finished images are kept.', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
