#!/usr/bin/env python
"""Crop a detection dataset's large images into patches with DOTA-format labels.

Examples::

    # DOTA-v2.0 -> 1024 x 1024 patches, gap 200 (SOTA), 8 processes
    python tools/split_images.py --source dota --ann-dir data/DOTA/train/labelTxt \\
        --img-dir data/DOTA/train/images --out-dir data/DOTA-split/train --preset dota-v2 --nproc 8

    # FAIR1M-2.0 -> 600 x 600 (FAST)
    python tools/split_images.py --source fair1m --ann-dir data/FAIR1M/train/labelXml \\
        --out-dir data/FAIR1M-split/train --preset fair1m

    # Any reader through a config file holding source=dict(type=..., ...) [and split=dict(...)]
    python tools/split_images.py --config my_split.py --out-dir out/

Rerunning the same command resumes: finished images are skipped. Exit status (docs/runs.md):
0 every image split, 1 some image could not be split (listed at the end and in
split_summary.json), 2 the run could not start (bad option, images with one file stem,
output folder in use by another run; nothing written), 3 the output folder cannot be
written (disk full, read-only), 128 + N stopped by signal N (143 SIGTERM, 130 SIGINT).
See docs/patches.md.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.fileio import SettingsMismatch  # noqa: E402
from samrs_mm.patches import CUT_RULES, PRESETS, RATE_MODES, WINDOW_RULES, PatchSettings, crop_dataset  # noqa: E402
from samrs_mm.runs import (  # noqa: E402
    EXIT_USAGE,
    OptionError,
    RunInterrupted,
    ToolArgumentParser,
    print_error,
    run_as_owner,
    stop_on_signals,
)
from samrs_mm.sources import SOURCES, build_source, duplicate_stems, duplicate_stems_message  # noqa: E402
from samrs_mm.structures.classes import class_list_from_text  # noqa: E402


def parse_args(argv=None):
    """Command-line options."""
    parser = ToolArgumentParser(prog=osp.basename(__file__), description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_argument_group('source dataset')
    src.add_argument('--config', help='python/json/yaml config with source=dict(type=..., ...) '
                     'and optionally split=dict(...) (mmengine Config)')
    src.add_argument('--source', choices=sorted(SOURCES), help='reader type')
    src.add_argument('--ann-dir', help='annotation folder (dota, dior, fair1m, hrsc, voc)')
    src.add_argument('--ann-file', help='annotation file (coco)')
    src.add_argument('--img-dir', help='image folder (default: the reader\'s usual place)')
    src.add_argument('--split-file', help='file listing the image stems to split')
    src.add_argument('--class-list', help="'sota', 'sior', 'fast' or comma-separated class names "
                     "('ship,' for the one class ship)")
    src.add_argument('--skip-unknown', action='store_true', help='skip objects of unknown classes')
    src.add_argument('--lenient', action='store_true',
                     help='skip and count bad objects / images instead of failing them')
    src.add_argument('--allow-empty', action='store_true',
                     help='accept annotation files without objects')
    out = parser.add_argument_group('patches')
    out.add_argument('--out-dir', required=True, help='output root (images/, labelTxt/, ...)')
    out.add_argument('--preset', choices=sorted(PRESETS),
                     help='named sizes: ' + ', '.join(f'{k}={v}' for k, v in PRESETS.items()))
    out.add_argument('--patch-size', type=int)
    out.add_argument('--gap', type=int)
    out.add_argument('--rates', type=float, nargs='+', help='scales (default 1.0; see --rate-mode)')
    out.add_argument('--iof-thr', type=float, help='keep objects with at least this fraction of '
                     'their area inside a patch (default 0.7)')
    out.add_argument('--truncated', choices=['drop', 'difficult'],
                     help='objects below --iof-thr: drop (default) or keep them, cut by --cut-rule, as difficult')
    out.add_argument('--padding-value', type=int, nargs='+', metavar='V',
                     help="fill of padded pixels as mmrotate's img_split takes it: 1 value, or 3 in OpenCV's "
                     "B G R order (104 116 124 writes blue 104, green 116, red 124; default 0)")
    out.add_argument('--pad-value', type=int, nargs='+', metavar='V', help='deprecated: the same fill in R G B '
                     'order; use --padding-value')
    out.add_argument('--cut-rule', choices=CUT_RULES,
                     help="objects cut by a patch border: 'fit' (default) the rectangle that best fits the "
                     "visible part inside the patch (the visible part itself when it has 4 corners); "
                     "'original' the whole source quad with difficulty 2 (mmrotate's img_split); 'clip' the "
                     "smallest rectangle around the visible part inside the patch (earlier versions)")
    out.add_argument('--rate-mode', choices=RATE_MODES,
                     help="rates other than 1: 'resize' (default; the DOTA devkit's way) rescales the image and "
                     "cuts --patch-size windows, named P0706__0.5__1024__0___0; 'window' (mmrotate's img_split) "
                     "cuts windows of patch-size / rate from the image as it is, named P0706__2048__0___0")
    out.add_argument('--img-rate-thr', type=float, help="with --rate-mode window: keep windows whose share of "
                     "image exceeds this (mmrotate's --img-rate-thr, default 0.6)")
    out.add_argument('--keep-empty', action='store_true',
                     help='also write patches without objects (with an empty label file, as mmrotate does)')
    out.add_argument('--img-ext', choices=['.png', '.jpg', '.bmp', '.tif'])
    out.add_argument('--window-rule', choices=WINDOW_RULES,
                     help="'shift' (default; the DOTA devkit / BboxToolkit / mmrotate rule): the last "
                     "window ends at the border; 'pad': a fixed grid whose border windows are padded")
    out.add_argument('--label-header', action='store_true',
                     help='write imagesource/gsd as header lines of the label files (mmrotate 1.x '
                     'cannot read those; by default they go to label_meta/<name>.json)')
    run = parser.add_argument_group('run')
    run.add_argument('--nproc', type=int, default=1, help='worker processes (>= 1)')
    run.add_argument('--no-resume', action='store_true',
                     help='re-split images that have a manifest already')
    run.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args(argv)
    if args.pad_value is not None:
        if args.padding_value is not None:
            parser.error('--pad-value: deprecated, and --padding-value is given too; valid: --padding-value only')
        rgb = args.pad_value * 3 if len(args.pad_value) == 1 else args.pad_value
        print(f'{parser.prog}: warning: --pad-value is deprecated (it takes R G B; mmrotate\'s --padding-value takes '
              f'B G R): use --padding-value {" ".join(map(str, rgb[::-1]))}', file=sys.stderr)
    if args.padding_value is not None:
        try:
            rgb_fill(args.padding_value, '--padding-value')
        except OptionError as exc:
            parser.fail(exc)
    if args.nproc < 1:
        parser.error(f'--nproc: got {args.nproc}; valid: an int >= 1')
    if args.class_list is not None:
        try:
            args.class_list = class_list_from_text(args.class_list)
        except ValueError as exc:
            parser.fail(OptionError('--class-list', str(exc)))
    return args


def source_config(args) -> dict:
    """Reader config from --config and the source options (options win)."""
    cfg, split_cfg = {}, {}
    if args.config:
        from mmengine.config import Config
        try:
            loaded = Config.fromfile(args.config)
        except Exception as exc:  # noqa: BLE001 - any parse error of the file is an option error
            raise OptionError('--config', f'cannot load {args.config} ({exc})') from None
        if 'source' not in loaded:
            raise OptionError('--config', f'{args.config} has no "source" dict',
                              "a file with source=dict(type=..., ...)")
        cfg = dict(loaded['source'])
        split_cfg = dict(loaded.get('split', {}))
    if args.source:
        cfg['type'] = args.source
    for key in ('ann_dir', 'ann_file', 'img_dir', 'split_file'):
        if getattr(args, key):
            cfg[key] = getattr(args, key)
    if args.class_list:
        cfg['class_list'] = args.class_list
    for key in ('skip_unknown', 'lenient', 'allow_empty'):
        if getattr(args, key):
            cfg[key] = True
    if 'type' not in cfg:
        raise OptionError('--source', 'not given', f'{", ".join(sorted(SOURCES))}, or a --config with '
                          'source=dict(type=...)')
    return cfg, split_cfg


def rgb_fill(values, option: str) -> list:
    """The RGB fill of mmrotate's ``padding_value`` (1 value, or 3 in OpenCV's B G R order)."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) not in (1, 3) or not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
        raise OptionError(option, f'got {values}', '1 or 3 integers in 0..255 (B G R)')
    return values[::-1] if len(values) == 3 else values * 3


def split_settings(args, split_cfg: dict) -> PatchSettings:
    """Split settings: preset, then config values, then explicit options."""
    values = dict(split_cfg)
    preset = args.preset or values.pop('preset', None)
    if preset:
        values = {**PRESETS[preset], **values}
    if 'padding_value' in values:  # mmrotate's name in a config file: its meaning too
        values['pad_value'] = rgb_fill(values.pop('padding_value'), '--config: split.padding_value')
    for key in ('patch_size', 'gap', 'rates', 'iof_thr', 'truncated', 'img_ext', 'window_rule', 'cut_rule',
                'rate_mode', 'img_rate_thr'):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.padding_value is not None:
        values['pad_value'] = rgb_fill(args.padding_value, '--padding-value')
    elif args.pad_value is not None:
        values['pad_value'] = args.pad_value
    if args.keep_empty:
        values['keep_empty'] = True
    if args.label_header:
        values['label_header'] = True
    return PatchSettings(**values)


def main(argv=None) -> int:
    """Run the split; return the exit status (module docstring)."""
    args = parse_args(argv)
    with stop_on_signals():
        try:
            return _run(args)
        except RunInterrupted as exc:  # while the options and inputs are checked
            print(_interrupted(exc), file=sys.stderr)
            return exc.exit_status


def _interrupted(exc: RunInterrupted) -> str:
    return f'{exc}; finished images are kept, rerun the same command'


def _run(args) -> int:
    try:
        cfg, split_cfg = source_config(args)
        settings = split_settings(args, split_cfg)
        source = build_source(cfg)
        source.classes  # noqa: B018  (a bad class list fails here, before any work)
        clashes = duplicate_stems(source)
        if clashes:
            raise ValueError(duplicate_stems_message(clashes))
    except (ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        print_error(str(exc))
        return EXIT_USAGE

    def crop() -> int:
        print(f'{cfg["type"]}: {len(source)} images -> {args.out_dir} '
              f'({settings.patch_size}x{settings.patch_size}, gap {settings.gap}, {settings.window_rule} windows, '
              f'rates {list(settings.rates)} ({settings.rate_mode}), iof >= {settings.iof_thr}, '
              f'cut objects: {settings.cut_rule}, {args.nproc} processes)')
        summary = crop_dataset(source, args.out_dir, settings, nproc=args.nproc,
                               resume=not args.no_resume, progress=not args.no_progress)
        print(summary.report())
        if summary.stopped is not None and summary.stopped['reason'] == 'storage':
            print_error(summary.stopped['detail'])
        print(f'summary written to {osp.join(args.out_dir, "split_summary.json")}')
        return summary.exit_status

    # SettingsMismatch: the folder was cut with other settings. crop_dataset handles the stops
    # that arrive while it works; run_as_owner those around it.
    return run_as_owner(args.out_dir, crop, usage_errors=(SettingsMismatch,), interrupted=_interrupted)


if __name__ == '__main__':
    sys.exit(main())
