"""Convert the official ISPRS Potsdam release into 512 x 512 crops for fine-tuning.

Input: the folder holding the archives as downloaded from ISPRS (or their extracted
contents; both are found recursively)::

    SRC/2_Ortho_RGB.zip                  top_potsdam_2_10_RGB.tif, ...  (6000 x 6000 RGB)
    SRC/5_Labels_all_noBoundary.zip      top_potsdam_2_10_label_noBoundary.tif, ...
    SRC/5_Labels_all.zip                 top_potsdam_2_10_label.tif, ... (with --labels all)

Output (mmsegmentation's Potsdam layout, so mmseg's own ``PotsdamDataset`` reads it too)::

    OUT/img_dir/{train,val}/2_10_<x0>_<y0>_<x1>_<y1>.png   RGB crops
    OUT/ann_dir/{train,val}/2_10_<x0>_<y0>_<x1>_<y1>.png   0 = ignore (boundary / unknown
        colour), 1 impervious surface, 2 building, 3 low vegetation, 4 tree, 5 car, 6 clutter

``train`` holds the 24 official training tiles, ``val`` the 14 official test tiles (the
SAMRS paper evaluates on them). With the paper's 512 x 512 crops at stride 320 a
6000 x 6000 tile gives 19 x 19 = 361 crops: 8,664 train and 5,054 test crops. Clutter is
kept as a label value; the fine-tuning dataset (``Potsdam5Dataset``) ignores it, as the
paper does, while a 6-class protocol can still use it.

Parallel (``--nproc``), resumable (rerun the same command: finished tiles are skipped,
files are written atomically), with a progress bar and a summary; exits non-zero when a
tile failed.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from converter_common import (  # noqa: E402
    ConversionError,
    CropJob,
    FileRef,
    TileResult,
    add_crop_arguments,
    add_unique,
    check_positive,
    check_settings,
    converter_parser,
    decode_image,
    label_values,
    run_converter,
    run_jobs,
    scan_inputs,
    summarise,
    write_crops,
)

# The standard ISPRS split (24 training / 14 test tiles), as "<row>_<column>" tile ids.
TRAIN_TILES = ('2_10', '2_11', '2_12', '3_10', '3_11', '3_12', '4_10', '4_11', '4_12', '5_10',
               '5_11', '5_12', '6_7', '6_8', '6_9', '6_10', '6_11', '6_12', '7_7', '7_8',
               '7_9', '7_10', '7_11', '7_12')
TEST_TILES = ('2_13', '2_14', '3_13', '3_14', '4_13', '4_14', '4_15', '5_13', '5_14', '5_15',
              '6_13', '6_14', '6_15', '7_13')
SPLITS = {'train': TRAIN_TILES, 'val': TEST_TILES}

# ISPRS legend (RGB) -> label value written; 0 is reserved for "ignore".
IGNORE_VALUE = 0
LEGEND: Dict[Tuple[int, int, int], int] = {
    (0, 0, 0): IGNORE_VALUE,    # eroded boundary in the *_noBoundary labels
    (255, 255, 255): 1,         # impervious surfaces
    (0, 0, 255): 2,             # building
    (0, 255, 255): 3,           # low vegetation
    (0, 255, 0): 4,             # tree
    (255, 255, 0): 5,           # car
    (255, 0, 0): 6,             # clutter / background
}

IMAGE_NAME = re.compile(r'top_potsdam_(\d+)_(\d+)_RGB\.tif', re.IGNORECASE)
LABEL_NAMES = {
    'noBoundary': re.compile(r'top_potsdam_(\d+)_(\d+)_label_noBoundary\.tif', re.IGNORECASE),
    'all': re.compile(r'top_potsdam_(\d+)_(\d+)_label\.tif', re.IGNORECASE),
}


def find_tiles(src: str, labels: str) -> Tuple[Dict[str, FileRef], Dict[str, FileRef]]:
    """Map tile ids to their RGB image and label files (plain or in zip archives)."""
    images: Dict[str, FileRef] = {}
    label_refs: Dict[str, FileRef] = {}
    for pattern, found in ((IMAGE_NAME, images), (LABEL_NAMES[labels], label_refs)):
        for ref in scan_inputs(src, pattern):
            row, column = pattern.fullmatch(ref.name).groups()
            key = f'{int(row)}_{int(column)}'
            add_unique(found, key, ref)
    return images, label_refs


def read_tile(job: CropJob) -> Tuple[np.ndarray, np.ndarray, int]:
    """Decode one tile: BGR image, label values, count of unknown label colours."""
    image = decode_image(job.image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ConversionError(
            f'{job.image}: expected an 8-bit 3-band RGB tile (2_Ortho_RGB), got dtype '
            f'{image.dtype} and shape {image.shape}')
    label_bgr = decode_image(job.label)
    if label_bgr.dtype != np.uint8 or label_bgr.ndim != 3 or label_bgr.shape[2] < 3:
        raise ConversionError(f'{job.label}: expected an 8-bit RGB colour label, got dtype '
                              f'{label_bgr.dtype} and shape {label_bgr.shape}')
    values, unknown = label_values(job, image, label_bgr, LEGEND, IGNORE_VALUE, 'ISPRS legend')
    return image, values, unknown


def crop_names(key: str, box: Tuple[int, int, int, int]) -> Tuple[str, str]:
    """Image and label file names of one crop (the same name in img_dir and ann_dir)."""
    name = '{}_{}_{}_{}_{}.png'.format(key, *box)
    return name, name


def convert_tile(job: CropJob) -> TileResult:
    """Write every crop of one tile (skipping those already written)."""
    # Tiles are 6000 x 6000 in the release; anything smaller than a crop is padded as ignore.
    return write_crops(job, read_tile, crop_names, IGNORE_VALUE)


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of the Potsdam converter."""
    parser = converter_parser('Crop the ISPRS Potsdam release (RGB tiles + colour labels) for fine-tuning.', __file__)
    parser.add_argument('src', help='folder with 2_Ortho_RGB.zip and 5_Labels_all*.zip '
                                    '(or their extracted .tif files)')
    parser.add_argument('-o', '--out-dir', default='data/potsdam', help='output folder')
    parser.add_argument('--labels', choices=sorted(LABEL_NAMES), default='noBoundary',
                        help='label release: noBoundary (eroded boundaries marked black and '
                             'ignored, the ISPRS evaluation protocol; default) or all')
    parser.add_argument('--splits', nargs='+', choices=sorted(SPLITS), default=['train', 'val'])
    add_crop_arguments(parser, crop_size=512, stride=320, legend='ISPRS legend')
    args = parser.parse_args(argv)
    check_positive(parser, args, 'crop_size', 'stride', 'nproc')
    return args


def main(argv=None) -> int:
    """Convert; return the exit status (docs/runs.md)."""
    args = parse_args(argv)
    try:
        images, labels = find_tiles(args.src, args.labels)
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    jobs, warnings = [], []
    for split in args.splits:
        missing = []
        for key in SPLITS[split]:
            if key not in images or key not in labels:
                missing.append(f'{key} ({"no RGB tile" if key not in images else "no label"})')
                continue
            jobs.append(CropJob(split, key, images[key], labels[key], args.out_dir,
                                args.crop_size, args.stride, args.strict, args.overwrite))
        if missing:
            warnings.append(f'{len(missing)} of {len(SPLITS[split])} {split} tiles not found '
                            f'in {args.src}: {", ".join(missing)}')
    unused = sorted(set(images) - set(TRAIN_TILES) - set(TEST_TILES))
    if unused:
        warnings.append(f'tiles outside the standard split were not converted: {unused}')
    if not jobs:
        print(f'error: no Potsdam tile found under {args.src} (looked for '
              f'top_potsdam_<r>_<c>_RGB.tif with {args.labels} labels, plain or in .zip)',
              file=sys.stderr)
        return 2

    def convert() -> int:
        check_settings(args.out_dir, dict(dataset='potsdam', bands='RGB', labels=args.labels,
                                          crop_size=args.crop_size, stride=args.stride,
                                          label_values='0=ignore,1..6=ISPRS classes'),
                       args.overwrite)
        for split in args.splits:
            os.makedirs(osp.join(args.out_dir, 'img_dir', split), exist_ok=True)
            os.makedirs(osp.join(args.out_dir, 'ann_dir', split), exist_ok=True)
        run = run_jobs(jobs, convert_tile, args.nproc, 'potsdam')
        return summarise(run.results, args.out_dir, 'potsdam', warnings, stopped=run.stopped,
                         not_reached=run.not_reached)

    return run_converter(args.out_dir, convert)


if __name__ == '__main__':
    sys.exit(main())
