#!/usr/bin/env python
"""Label a whole scene (GeoTIFF of any size) from its boxes with SAM: semantic COG, instances.gpkg, COCO json.

Examples::

    # SAM ViT-H, boxes in a GeoPackage (any CRS), class names in the field 'type'
    python tools/annotate_scene.py configs/annotate/scene_sota_hbox.py --image city.tif \\
        --boxes objects.gpkg --class-field type --out-dir out/city \\
        --cfg-options engine.checkpoint=checkpoints/sam_vit_h_4b8939.pth

    # Without SAM weights: each box filled (the 'box' baseline); a DOTA label file in pixels
    python tools/annotate_scene.py configs/annotate/scene_sota_hbox.py --image P0706.tif \\
        --boxes P0706.txt --out-dir out/p0706 --cfg-options engine.backend=box

    # 4 processes (GPUs), or Slurm with --launcher slurm
    torchrun --nproc_per_node 4 tools/annotate_scene.py CONFIG --image ... --launcher pytorch

Any annotate config works (configs/annotate/: engine, writer.overlap, runner.stretch / bands,
source.class_list); its optional ``scene`` section sets windows and box reading
(docs/scenes.md). Rerunning the same command resumes (finished windows are skipped). Exit
status (docs/runs.md): 0 complete, 1 some window failed (named; rerun to redo it), 2 the run
could not start (bad option, config key, input file; nothing written), 3 the output folder
cannot be written (finished windows kept), 128 + N stopped by signal N.
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
    parser.add_argument('config', help='annotate config (configs/annotate/*.py)')
    parser.add_argument('--image', required=True, help='the scene raster (GeoTIFF; any size, 1-N bands)')
    parser.add_argument('--boxes', required=True,
                        help='boxes: GeoPackage / GeoJSON / Shapefile / GeoParquet (any CRS), or a DOTA .txt in pixels')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--class-field', help='field of the vector boxes holding the class (default: "class")')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='how the processes were started')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction,
                        help='override config keys, e.g. engine.backend=box scene.window_size=512')
    return parser.parse_args(argv)


def summary_line(summary: dict) -> str:
    """The closing line of a complete run."""
    windows, objects, boxes = summary['windows'], summary['objects'], summary['boxes']
    return (f"windows {windows['total']} (labelled {windows['labelled']}, nodata {windows['nodata']}, failed "
            f"{windows['failed']}) | boxes {boxes['boxes']}: labelled {objects['labelled']}, empty masks "
            f"{objects['empty_masks']}, outside the raster {boxes['outside']}, skipped "
            f"{sum(boxes['skipped'].values())}")


def main(argv=None) -> int:
    """Label the scene; return the exit status (module docstring)."""
    args = parse_args(argv)
    from samrs_mm.scenes.raster import SceneInputError
    from samrs_mm.scenes.tool import load_tool_config, run_scene_tool

    def build(rank, world_size, barrier):
        cfg = load_tool_config(args.config, args.cfg_options)
        import samrs_mm  # noqa: F401  (runtime fixes)
        from samrs_mm.annotate.runner import sam_weights_problem
        from samrs_mm.scenes.labelling import SceneLabeller
        problem = sam_weights_problem(dict(cfg.get('engine') or {}))
        if problem:
            raise SceneInputError(problem)
        plain = {k: cfg[k] for k in ('source', 'engine', 'writer', 'runner', 'scene') if k in cfg}
        plain = {k: v.to_dict() if hasattr(v, 'to_dict') else v for k, v in plain.items()}
        if args.no_progress:
            plain['runner'] = dict(plain.get('runner') or {}, progress=False)
        return SceneLabeller(plain, args.image, args.boxes, args.out_dir, class_field=args.class_field,
                             rank=rank, world_size=world_size, barrier=barrier)

    return run_scene_tool('annotate_scene', args.out_dir, args.launcher, build, summary_line)


if __name__ == '__main__':
    sys.exit(main())
