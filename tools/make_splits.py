"""Write the paper's 95% / 5% train / val split lists of SAMRS subsets.

    python tools/make_splits.py data/samrs/sota data/samrs/sior data/samrs/fast [--seed 0]

For every subset folder: names come from ``semantic/*.png`` (or ``--annotations
annotations.json``, the annotate tool's merged COCO file); ``--include FILE`` keeps only the
names listed there (e.g. DIOR's trainval list: the paper pre-trains on the 11,725 DIOR
trainval images only). Writes ``train.txt`` and ``val.txt`` into the folder (or --out-dir).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from samrs_mm.datasets.splits import DEFAULT_VAL_RATIO, list_label_names, split_names, write_name_list  # noqa: E402


def parse_args():
    """Command line of the split tool."""
    parser = argparse.ArgumentParser(description='Make SAMRS train/val split lists')
    parser.add_argument('subsets', nargs='+', help='subset folders (e.g. data/samrs/sota)')
    parser.add_argument('--val-ratio', type=float, default=DEFAULT_VAL_RATIO)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--label-dir', default='semantic', help='label folder inside a subset')
    parser.add_argument('--annotations', help='COCO json (relative to the subset) to read names from')
    parser.add_argument('--include', help='text file of names to keep (one per line)')
    parser.add_argument('--out-dir', help='write the lists here instead of into each subset')
    return parser.parse_args()


def main():
    """Split every subset and print the counts."""
    args = parse_args()
    include = None
    if args.include:
        if not osp.isfile(args.include):
            sys.exit(f'error: include list {args.include} not found')
        with open(args.include) as f:
            include = {osp.splitext(line.strip())[0] for line in f if line.strip()}
    total_train = total_val = 0
    for subset in args.subsets:
        try:
            names = list_label_names(subset, args.label_dir, args.annotations)
        except (OSError, ValueError) as error:
            sys.exit(f'error: {error}')
        if include is not None:
            names = [n for n in names if n in include]
        if not names:
            sys.exit(f'error: no images found for {subset}')
        train, val = split_names(names, args.val_ratio, args.seed)
        out = args.out_dir or subset
        if args.out_dir and len(args.subsets) > 1:
            out = osp.join(args.out_dir, osp.basename(osp.normpath(subset)))
        os.makedirs(out, exist_ok=True)
        write_name_list(osp.join(out, 'train.txt'), train)
        write_name_list(osp.join(out, 'val.txt'), val)
        total_train += len(train)
        total_val += len(val)
        print(f'{subset}: {len(train)} train, {len(val)} val -> {out}')
    print(f'total: {total_train} train, {total_val} val (seed {args.seed})')


if __name__ == '__main__':
    main()
