#!/usr/bin/env python
"""Label quality control of SAM labels: per-object signals, flags, a report, a filtered copy.

    python tools/label_qc.py WORK_DIR [--out-dir DIR] [--config THRESHOLDS.py|json]
                             [--apply [--apply-dir DIR] [--apply-mode drop|ignore]] [--overlap RULE ...]

WORK_DIR is the output of tools/samrs_annotate.py (``instances/<stem>.json``, ``semantic/``)
or a subset folder of the official SAMRS release (``ins/<name>.pkl``). Writes, under
``--out-dir`` (default ``WORK_DIR/qc``): ``objects.csv`` (one row per object: image, id,
class, every signal, flagged, reasons), ``summary.json`` (flag rates per class and reason,
overlap-rule pixel counts), ``hist_*.png`` (signal histograms per class), ``gallery_*.png``
(the worst objects as overlays) and ``index.html``. ``--apply`` also writes the filtered
dataset to ``--apply-dir`` (default ``WORK_DIR_qc``): flagged objects dropped or ignored, the
semantic labels recomposed without them. Thresholds and their reasoning: docs/label_qc.md.

Exit status (docs/runs.md): 0 done, 2 a bad option, work dir or thresholds file, or
``--out-dir`` in use by another run, 3 ``--out-dir`` cannot be written, 128 + N stopped by
signal N (rerun: the pass is read-only on WORK_DIR and rewrites its outputs).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.runs import EXIT_USAGE, OptionError, ToolArgumentParser, print_error, run_as_owner  # noqa: E402


def parse_args(argv=None):
    """Command-line options."""
    from samrs_mm.annotate.outputs import OVERLAP_RULES
    from samrs_mm.qc.apply import APPLY_MODES
    parser = ToolArgumentParser(prog=osp.basename(__file__), description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dir', help='annotate work dir or official release subset folder')
    parser.add_argument('--out-dir', help='report folder (default WORK_DIR/qc)')
    parser.add_argument('--config', help='thresholds (.json object or .py assignments) over the defaults')
    parser.add_argument('--classes', help="class list: 'sota', 'sior', 'fast' or comma-separated names "
                                          '(default: the run\'s summary.json or the folder name)')
    parser.add_argument('--apply', action='store_true', help='write the filtered dataset')
    parser.add_argument('--apply-dir', help='where --apply writes (default WORK_DIR_qc)')
    parser.add_argument('--apply-mode', default='drop', choices=APPLY_MODES,
                        help='drop flagged objects, or keep them marked ignore / iscrowd')
    parser.add_argument('--overlap', nargs='+', choices=OVERLAP_RULES, metavar='RULE',
                        help=f'overlap rules compared with the run\'s ({", ".join(OVERLAP_RULES)}; default all)')
    parser.add_argument('--worst', type=int, default=48, help='objects in the gallery (default 48)')
    parser.add_argument('--no-pages', action='store_true', help='CSV and summary only')
    args = parser.parse_args(argv)
    if args.worst < 0:
        parser.error('--worst must be >= 0')
    if args.classes is not None:
        from samrs_mm.structures.classes import class_list_from_text
        try:
            args.classes = list(class_list_from_text(args.classes))
        except ValueError as exc:
            parser.fail(OptionError('--classes', str(exc)))
    return args


def summary_line(summary: dict) -> str:
    """The one line a run ends with (``make demo`` shows it)."""
    reasons = ', '.join(f'{r} {v["flagged"]}' for r, v in summary['per_reason'].items() if v['flagged'])
    line = (f'[label_qc] {summary["images"]} images, {summary["objects"]} objects, {summary["flagged"]} flagged '
            f'({100 * summary["flag_rate"]:.1f}%{": " + reasons if reasons else ""})')
    applied = summary.get('apply')
    if applied:
        line += f'; filtered dataset ({applied["mode"]}, {applied["removed_total"]} removed) -> {applied["out_dir"]}'
    index = (summary.get('pages') or {}).get('index')
    return line + (f'; report: {index}' if index else f'; table: {summary["objects_csv"]}')


def main(argv=None) -> int:
    """Run the QC pass; return the exit status (module docstring)."""
    args = parse_args(argv)
    from samrs_mm.qc import ThresholdError, WorkDirError, load_thresholds, open_label_folder, run_label_qc
    try:
        thresholds = load_thresholds(args.config)
        open_label_folder(args.work_dir, args.classes)  # refuse a bad folder before taking --out-dir
    except ThresholdError as exc:
        print_error(f'--config: {exc}')
        return EXIT_USAGE
    except WorkDirError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    out_dir = args.out_dir or osp.join(args.work_dir, 'qc')

    def work() -> int:
        summary = run_label_qc(args.work_dir, out_dir, thresholds, classes=args.classes, apply=args.apply,
                               apply_mode=args.apply_mode, apply_dir=args.apply_dir, overlap_rules=args.overlap,
                               worst=args.worst, pages=not args.no_pages)
        print(summary_line(summary))
        return 0

    return run_as_owner(out_dir, work, usage_errors=(WorkDirError,))


if __name__ == '__main__':
    sys.exit(main())
