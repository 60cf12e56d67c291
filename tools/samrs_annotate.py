#!/usr/bin/env python
"""Label a detection dataset with SAM: semantic / colour PNGs, instance json, COCO json.

Examples::

    # SOTA: DOTA-v2.0 1024 x 1024 patches (tools/split_images.py), H-Box prompts, SAM ViT-H
    python tools/samrs_annotate.py configs/annotate/sota_dotav2-1024_hbox.py \\
        --cfg-options engine.checkpoint=checkpoints/sam_vit_h_4b8939.pth

    # Without SAM weights: fill the boxes instead (the 'box' baseline)
    python tools/samrs_annotate.py configs/annotate/sior_dior_hbox.py --cfg-options engine.backend=box

    # A path with spaces (quote it; the value keeps its spaces)
    python tools/samrs_annotate.py configs/annotate/sior_dior_hbox.py \\
        --cfg-options "source.ann_dir=data/DIOR/Annotations/Horizontal Bounding Boxes"

    # 8 GPUs / CPU processes, or Slurm
    tools/dist_annotate.sh configs/annotate/fast_fair1m2-600_rhbox.py 8
    GPUS=16 tools/slurm_annotate.sh PARTITION samrs configs/annotate/sota_dotav2-1024_hbox.py

Rerunning the same command resumes (finished images are skipped). Exit status: 0 every
image labelled (or skipped by a lenient source), 1 some failed (listed at the end and in
summary.json) or --fail-fast stopped the run, 2 the run could not start (bad option or
config key, images with one file stem, work dir in use by another run; nothing written),
3 the work dir cannot be written (disk full, read-only), 128 + N stopped by signal N (143
SIGTERM, 130 SIGINT). See docs/annotate.md and docs/runs.md.
"""
import argparse
import os
import os.path as osp
import signal
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.runs import (  # noqa: E402
    EXIT_STORAGE,
    EXIT_USAGE,
    ConfigOptionsAction,
    RunInterrupted,
    StorageError,
    ToolArgumentParser,
    as_storage_error,
    die_with_parent,
    print_error,
    setup_ranks,
    stop_on_signals,
    take_folder,
)


def parse_args(argv=None):
    """Command-line options."""
    parser = ToolArgumentParser(prog=osp.basename(__file__), description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='annotate config (configs/annotate/*.py)')
    parser.add_argument('--work-dir', help='output folder (default: work_dir of the config)')
    parser.add_argument('--num-workers', type=int, help='DataLoader processes decoding images')
    parser.add_argument('--fail-fast', action='store_true', help='stop at the first failed image')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='how the processes were started (dist_annotate.sh: pytorch)')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction,
                        help='override config keys, e.g. engine.backend=box work_dir=out/sota '
                             '"source.ann_dir=data/DIOR/Annotations/Horizontal Bounding Boxes" (a '
                             'quoted value keeps its spaces)')
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


def _config_problem(cfg, config_path: str):
    """A reason the config cannot run before anything is built, or None."""
    plain = {k: cfg[k] for k in ('source', 'engine', 'writer', 'runner', 'work_dir') if k in cfg}
    # Helper variables (data_root = ...) are fine; an unknown dict is most likely a misspelt
    # section ('wirter=dict(...)') whose settings would be silently ignored.
    unknown = sorted(k for k in cfg.keys() if k not in plain and k != 'ablation'  # read by prompt_ablation.py
                     and isinstance(cfg[k], dict))
    if unknown:
        return plain, (f'{config_path}: unknown top-level sections {unknown} '
                       '(expected source, engine, writer, runner, work_dir)')
    return plain, None


def main(argv=None) -> int:
    """Run the labelling; return the exit status (module docstring, docs/runs.md)."""
    args = parse_args(argv)
    with stop_on_signals():
        try:
            return _run(args)
        except RunInterrupted as exc:  # outside the runner, which handles its own stops
            print(f'[samrs_annotate] {exc}; finished images are kept, rerun the same command', file=sys.stderr)
            return exc.exit_status


def _run(args) -> int:
    try:
        cfg = load_config(args)
    except Exception as exc:  # noqa: BLE001 - any parse error is a config error here
        print_error(f'cannot load config {args.config}: {exc}')
        return EXIT_USAGE
    import samrs_mm  # noqa: F401  (runtime fixes and registries)
    from samrs_mm.annotate.runner import RUNNER_DEFAULTS, AnnotateConfigError, AnnotateRunner, sam_weights_problem
    problem = sam_weights_problem(dict(cfg.get('engine') or {}))
    if problem:
        print_error(problem)
        return EXIT_USAGE
    if args.launcher == 'pytorch':
        # A rank whose torchrun agent is killed stops like one the agent stops (SIGTERM).
        die_with_parent(signal.SIGTERM)
    timeout = float(cfg.runner.get('dist_timeout', RUNNER_DEFAULTS['dist_timeout']))
    rank, world_size, barrier, share = setup_ranks(args.launcher, timeout)
    plain, problem = _config_problem(cfg, args.config)
    if problem:
        print_error(problem)
        return EXIT_USAGE
    try:
        runner = AnnotateRunner(plain, rank=rank, world_size=world_size, barrier=barrier)
    except AnnotateConfigError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    lock, run_id, problem = take_folder(cfg.work_dir, rank, share)
    if problem:
        if rank == 0:
            print_error(problem[1])
        return problem[0]
    runner.run_id = run_id
    try:
        if rank == 0:
            try:
                os.makedirs(osp.join(cfg.work_dir, 'logs'), exist_ok=True)
                cfg.dump(osp.join(cfg.work_dir, 'logs', osp.basename(args.config)))
            except OSError as exc:
                storage = as_storage_error(exc, osp.join(cfg.work_dir, 'logs'))
                if storage is None:
                    raise
                print_error(str(storage))
                return EXIT_STORAGE
            print(f'[samrs_annotate] {len(runner.source)} images from {cfg.source.get("type")} -> '
                  f'{cfg.work_dir} ({world_size} process{"es" if world_size > 1 else ""})')
        try:
            summary = runner.run()
        except AnnotateConfigError as exc:
            print_error(str(exc))
            return EXIT_USAGE
        except StorageError as exc:
            print_error(str(exc))
            return EXIT_STORAGE
    finally:
        if lock is not None:
            lock.release()
    if rank != 0:
        return summary.exit_status  # rank 0 reports the totals
    return report(summary)


def report(summary) -> int:
    """Print the end-of-run lines of rank 0; return the exit status."""
    print(f'[samrs_annotate] {summary.line()}')
    stats = summary.read_stats or {}
    if stats.get('skipped_instances') or stats.get('skipped_images'):
        print(f'[samrs_annotate] the source skipped objects {stats.get("skipped_instances", {})} and images '
              f'{stats.get("skipped_images", {})}; unknown classes {stats.get("unknown_classes", {})} '
              '(examples in summary.json: read_stats)')
    if summary.stopped is not None:
        if summary.stopped['reason'] == 'storage':
            print_error(summary.stopped['detail'])
        print(f'[samrs_annotate] stopped early ({summary.stopped["detail"]}): {summary.labelled} of '
              f'{summary.images} images have their labels (kept), {summary.not_reached} not reached; '
              'rerun the same command to finish', file=sys.stderr)
        print(f'[samrs_annotate] summary in {summary.work_dir}/summary.json (annotations.json not rebuilt)')
    else:
        print(f'[samrs_annotate] outputs in {summary.work_dir} (summary.json, annotations.json)')
    if summary.failed:
        print(f'[samrs_annotate] {summary.failed} image(s) failed; output is incomplete. First failures:',
              file=sys.stderr)
        for failure in summary.failures[:10]:
            print(f'  #{failure["index"]}: {failure["error"]}', file=sys.stderr)
        print('  fix them and rerun the same command: finished images are kept.', file=sys.stderr)
    return summary.exit_status


if __name__ == '__main__':
    sys.exit(main())
