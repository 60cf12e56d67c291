#!/usr/bin/env python
"""Apply a trained segmentor or detector of the package to a whole scene (GeoTIFF of any size), streamed.

Examples::

    # a fine-tuned segmentor: its slide windows, a class COG in the scene's grid and CRS
    python tools/infer_scene.py configs/finetune/potsdam/upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py \\
        work_dirs/potsdam/iter_80000.pth city.tif --out-dir out/city

    # SEP (one head per SAMRS subset): choose the head
    python tools/infer_scene.py configs/sep/upernet_r50.py sep.pth city.tif --subset sota --out-dir out/sep

    # a detector: 1024 / 200 patches, detections merged across seams -> instances.gpkg / rotated.gpkg
    python tools/infer_scene.py configs/rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py rot.pth city.tif \\
        --out-dir out/rot --cfg-options scene.batch_size=2

Scene settings are the ``scene`` section (docs/scenes.md), e.g. ``--cfg-options
scene.crop_size=512 scene.stride=341 scene.patch_size=1024 scene.gap=200``. Rerunning the same
command resumes. Exit status (docs/runs.md): 0 complete, 1 some window failed (named), 2 the run
could not start (nothing written), 3 the output folder cannot be written (finished parts kept),
128 + N stopped by signal N.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.runs import LAUNCHERS, ConfigOptionsAction, ToolArgumentParser  # noqa: E402


def parse_args(argv=None):
    """Command-line options."""
    parser = ToolArgumentParser(prog=osp.basename(__file__), description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the model config (the one it was trained with)')
    parser.add_argument('checkpoint', help='the trained weights')
    parser.add_argument('image', help='the scene raster (GeoTIFF; any size, 1-N bands)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--subset', help='head of a model with one head per SAMRS subset (SEP, MTP): sota, sior, fast')
    parser.add_argument('--device', help="'cpu', 'cuda', 'cuda:1' (default: scene.device, 'auto')")
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='how the processes were started')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction,
                        help='override config keys, e.g. scene.batch_size=8 model.test_cfg.crop_size="(512,512)"')
    return parser.parse_args(argv)


def summary_line(summary: dict) -> str:
    """The closing line of a complete run."""
    parts = [f"tasks {', '.join(summary['tasks'])}"]
    windows = summary['windows']
    if 'semantic' in summary:
        parts.append(f"slide windows {windows['slide']} in {windows['strips']} strips "
                     f"(missing {summary['semantic']['strips_missing']})")
    for task in ('instance', 'rotated'):
        if task in summary:
            parts.append(f"{task}: {summary[task]['kept']} of {summary[task]['detections']} detections kept "
                         f"after merging {windows['detection']} windows")
    return ' | '.join(parts)


def main(argv=None) -> int:
    """Run the inference; return the exit status (module docstring)."""
    args = parse_args(argv)
    from samrs_mm.scenes.tool import load_tool_config, run_scene_tool

    def build(rank, world_size, barrier):
        import torch

        from samrs_mm.scenes.inference import SceneInference
        from samrs_mm.scenes.models import SceneModel
        cfg = load_tool_config(args.config, args.cfg_options)
        scene = dict(cfg.get('scene') or {})
        device = args.device or scene.get('device', 'auto')
        if world_size > 1 and device in ('auto', 'cuda') and torch.cuda.is_available():
            import os
            device = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'  # one GPU per rank
        model = SceneModel(cfg, args.checkpoint, subset=args.subset, device=device)
        return SceneInference(model, args.image, args.out_dir, scene, config_name=osp.basename(args.config),
                              checkpoint_name=osp.basename(args.checkpoint), rank=rank, world_size=world_size,
                              barrier=barrier, progress=not args.no_progress)

    return run_scene_tool('infer_scene', args.out_dir, args.launcher, build, summary_line)


if __name__ == '__main__':
    sys.exit(main())
