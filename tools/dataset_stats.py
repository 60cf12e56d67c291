#!/usr/bin/env python
"""Class and mask-size statistics of SAMRS subsets (the paper's Figures 5 and 6), as PNG and CSV.

    python tools/dataset_stats.py data/samrs/sota data/samrs/sior data/samrs/fast --out-dir stats/

Per subset folder (the work dir of tools/samrs_annotate.py, or any folder with ``semantic/``):

* ``<name>_classes.csv`` and ``<name>_fig5_classes.png``: pixels and instances per class
  (Figure 5). Pixels are counted in ``semantic/*.png`` (255 = unlabeled, counted apart);
  instances in ``instances/*.json`` (or ``annotations.json``), empty masks left out.
* ``<name>_mask_sizes.csv`` and ``<name>_fig6_mask_sizes.png``: the distribution of mask
  sizes (Figure 6), binned by the side of a square of the same area, ``sqrt(area)``, in
  powers of two: ``<8, 8-16, 16-32, ..., >=512`` pixels. The CSV also has COCO's
  small / medium / large split (area < 32^2, < 96^2, larger).

With several subsets, ``fig6_mask_sizes.png`` compares them. Class names come from
``--classes`` (``sota``, ``sior``, ``fast`` or comma-separated names, ``'ship,'`` for one
class), else the folder's ``summary.json``, else the folder name when it is one of those.

Exit status (docs/runs.md): 0 done, 2 a bad option or a class list that does not fit the
labels, or ``--out-dir`` in use by another run, 3 ``--out-dir`` cannot be written, 128 + N
stopped by signal N (the tables of the subsets finished before are complete).
"""
import argparse
import csv
import glob
import io
import json
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.fileio import atomic_open  # noqa: E402
from samrs_mm.runs import (  # noqa: E402
    EXIT_USAGE,
    OptionError,
    ToolArgumentParser,
    print_error,
    run_as_owner,
)
from samrs_mm.structures.classes import class_list_from_text  # noqa: E402

SIZE_EDGES = (0, 8, 16, 32, 64, 128, 256, 512)  # bins of sqrt(area) in pixels
COCO_EDGES = (32 ** 2, 96 ** 2)


def parse_args(argv=None):
    """Command-line options."""
    parser = ToolArgumentParser(prog=osp.basename(__file__), description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('subsets', nargs='+', help='subset folders (annotate work dirs)')
    parser.add_argument('--out-dir', required=True, help='where the CSV and PNG files go')
    parser.add_argument('--classes', help="class list of every subset: 'sota', 'sior', 'fast' or comma-separated "
                                          "names ('ship,' for the one class ship)")
    parser.add_argument('--label-dir', default='semantic', help='label folder inside a subset')
    parser.add_argument('--no-plots', action='store_true', help='CSV only')
    args = parser.parse_args(argv)
    if args.classes is not None:
        try:
            args.classes = class_list_from_text(args.classes)
        except ValueError as exc:
            parser.fail(OptionError('--classes', str(exc)))
    for folder in args.subsets:
        if not osp.isdir(folder):
            parser.error(f'subset folder not found: {folder}')
    return args


def subset_classes(folder: str, override=None):
    """Class names of a subset folder (see the module docstring); ``override`` is a SAMRS
    list name or a list of names (:func:`~samrs_mm.structures.classes.class_list_from_text`)."""
    from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
    if override:
        return list(SAMRS_CLASS_LISTS[override] if isinstance(override, str) else override)
    summary = osp.join(folder, 'summary.json')
    if osp.isfile(summary):
        with open(summary, encoding='utf-8') as f:
            classes = json.load(f).get('classes')
        if classes:
            return list(classes)
    name = osp.basename(osp.normpath(folder)).lower()
    if name in SAMRS_CLASS_LISTS:
        return list(SAMRS_CLASS_LISTS[name])
    raise OptionError('--classes', f'{folder} has no summary.json with classes and is not named after a '
                      'SAMRS subset: give its class list', 'sota, sior, fast or comma-separated names')


def count_pixels(folder: str, label_dir: str, num_classes: int):
    """``(per-class pixel counts, unlabeled pixels, images)`` over ``<folder>/<label_dir>/*.png``."""
    from PIL import Image
    from tqdm import tqdm
    paths = sorted(glob.glob(osp.join(folder, label_dir, '*.png')))
    counts = np.zeros(256, dtype=np.int64)
    for path in tqdm(paths, desc=f'pixels {osp.basename(osp.normpath(folder))}', unit='img', file=sys.stderr,
                     mininterval=1.0, disable=len(paths) < 100):
        with Image.open(path) as img:
            if img.mode not in ('L', 'P'):
                raise OptionError('--label-dir', f'{path}: label PNGs must be 8-bit single channel, got mode '
                                  f'{img.mode}')
            counts += np.bincount(np.asarray(img).reshape(-1), minlength=256)
    unknown = int(counts[num_classes:255].sum())
    if unknown:
        raise OptionError('--classes', f'{folder}/{label_dir}: {unknown} pixels hold values >= {num_classes} '
                          f'(the class list has {num_classes} classes); wrong --classes?')
    return counts[:num_classes], int(counts[255]), len(paths)


def instance_areas(folder: str, classes):
    """``(class index array, area array)`` of the non-empty masks of a subset."""
    labels, areas = [], []
    files = sorted(glob.glob(osp.join(folder, 'instances', '*.json')))
    index = {name: i for i, name in enumerate(classes)}
    if files:
        from tqdm import tqdm
        for path in tqdm(files, desc=f'instances {osp.basename(osp.normpath(folder))}', unit='img',
                         file=sys.stderr, mininterval=1.0, disable=len(files) < 100):
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
            for obj in data['objects']:
                if obj['area'] > 0:
                    if obj['class_name'] not in index:
                        raise OptionError('--classes', f'{path}: class {obj["class_name"]!r} is not in the '
                                          f'{len(classes)}-class list; wrong --classes?')
                    labels.append(index[obj['class_name']])
                    areas.append(obj['area'])
    elif osp.isfile(osp.join(folder, 'annotations.json')):
        with open(osp.join(folder, 'annotations.json'), encoding='utf-8') as f:
            coco = json.load(f)
        cat_to_index = {c['id']: index[c['name']] for c in coco['categories']}
        for ann in coco['annotations']:
            if ann['area'] > 0:
                labels.append(cat_to_index[ann['category_id']])
                areas.append(ann['area'])
    else:
        return None, None
    return np.asarray(labels, dtype=np.int64), np.asarray(areas, dtype=np.int64)


def size_histogram(areas: np.ndarray):
    """Rows ``(label, lo, hi, count, share)`` of the sqrt(area) bins, then the COCO split."""
    side = np.sqrt(areas.astype(np.float64))
    rows = []
    total = max(len(areas), 1)
    edges = list(SIZE_EDGES) + [np.inf]
    for lo, hi in zip(edges[:-1], edges[1:]):
        n = int(np.count_nonzero((side >= lo) & (side < hi)))
        label = f'<{hi}' if lo == 0 else (f'>={lo}' if np.isinf(hi) else f'{lo}-{hi}')
        rows.append((label, lo, hi, n, n / total))
    small = int(np.count_nonzero(areas < COCO_EDGES[0]))
    medium = int(np.count_nonzero((areas >= COCO_EDGES[0]) & (areas < COCO_EDGES[1])))
    large = int(np.count_nonzero(areas >= COCO_EDGES[1]))
    for label, n in (('coco-small', small), ('coco-medium', medium), ('coco-large', large)):
        rows.append((label, '', '', n, n / total))
    return rows


def write_csv(path: str, header, rows) -> None:
    """Write rows to a CSV file (atomically: a kill never leaves half a table)."""
    with atomic_open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)


def save_figure(fig, path: str) -> None:
    """Save a matplotlib figure as PNG, atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=120)
    with atomic_open(path, 'wb') as handle:
        handle.write(buffer.getvalue())


def plot_classes(path: str, name: str, classes, pixels, instances) -> None:
    """Figure 5: pixels and instances per class, horizontal bars, log scale."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from samrs_mm.datasets.samrs import make_palette
    colours = np.asarray(make_palette(len(classes))) / 255.0
    panels = [('pixels', pixels)] + ([('instances', instances)] if instances is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 0.28 * len(classes) + 1.5), squeeze=False)
    ys = np.arange(len(classes))
    for ax, (label, values) in zip(axes[0], panels):
        ax.barh(ys, np.maximum(values, 0), color=colours)
        ax.set_yticks(ys, classes, fontsize=8)
        ax.invert_yaxis()
        if np.any(values > 0):
            ax.set_xscale('log')
        ax.set_xlabel(f'{label} (log)')
        ax.set_title(f'{name}: {label} per class')
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_sizes(path: str, histograms) -> None:
    """Figure 6: share of masks per sqrt(area) bin, one bar group per subset."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = [row[0] for row in next(iter(histograms.values())) if not str(row[0]).startswith('coco')]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(histograms)
    for k, (name, rows) in enumerate(histograms.items()):
        shares = [100.0 * row[4] for row in rows if not str(row[0]).startswith('coco')]
        ax.bar(np.arange(len(labels)) + k * width, shares, width, label=name)
    ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels)
    ax.set_xlabel('mask size: sqrt(area) in pixels')
    ax.set_ylabel('share of masks (%)')
    ax.legend()
    ax.set_title('Mask size distribution')
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    """Compute and write the statistics of every subset; return the exit status (module docstring)."""
    args = parse_args(argv)
    try:
        classes = {folder: subset_classes(folder, args.classes) for folder in args.subsets}
    except OptionError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    done = []

    def interrupted(exc):
        finished = ', '.join(done) or 'none'
        return (f'[dataset_stats] {exc} after {len(done)} of {len(args.subsets)} subsets ({finished} complete); '
                'rerun the same command')

    return run_as_owner(args.out_dir, lambda: _run(args, classes, done), usage_errors=(OptionError,),
                        interrupted=interrupted)


def _run(args, classes_of, done) -> int:
    histograms = {}
    for folder in args.subsets:
        name = osp.basename(osp.normpath(folder))
        classes = classes_of[folder]
        pixels, unlabeled, n_images = count_pixels(folder, args.label_dir, len(classes))
        labels, areas = instance_areas(folder, classes)
        instances = None if labels is None else np.bincount(labels, minlength=len(classes))
        total_pixels = pixels.sum() + unlabeled
        rows = []
        for i, cls in enumerate(classes):
            rows.append((i, cls, '' if instances is None else int(instances[i]), int(pixels[i]),
                         float(pixels[i] / total_pixels) if total_pixels else 0.0))
        rows.append(('', 'unlabeled', '', unlabeled, float(unlabeled / total_pixels) if total_pixels else 0.0))
        write_csv(osp.join(args.out_dir, f'{name}_classes.csv'),
                  ('index', 'class', 'instances', 'pixels', 'pixel_share'), rows)
        if not args.no_plots:
            plot_classes(osp.join(args.out_dir, f'{name}_fig5_classes.png'), name, classes, pixels, instances)
        if areas is not None:
            histogram = size_histogram(areas)
            histograms[name] = histogram
            write_csv(osp.join(args.out_dir, f'{name}_mask_sizes.csv'),
                      ('bin', 'sqrt_area_from', 'sqrt_area_to', 'masks', 'share'), histogram)
            if not args.no_plots:
                plot_sizes(osp.join(args.out_dir, f'{name}_fig6_mask_sizes.png'), {name: histogram})
        done.append(name)
        print(f'[dataset_stats] {name}: {n_images} label images, {int(pixels.sum())} labelled pixels '
              f'({unlabeled} unlabeled), '
              f'{"no instance files" if labels is None else f"{len(labels)} instances"} -> {args.out_dir}')
    if len(histograms) > 1 and not args.no_plots:
        plot_sizes(osp.join(args.out_dir, 'fig6_mask_sizes.png'), histograms)
    return 0


if __name__ == '__main__':
    sys.exit(main())
