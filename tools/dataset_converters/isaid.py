"""Convert the official iSAID release into 896 x 896 crops for fine-tuning.

Input: the iSAID folder as downloaded (archives or their extracted contents, found
recursively under each split folder)::

    SRC/train/images/part1.zip ...            DOTA-v1.0 images P0000.png, ...
    SRC/train/Semantic_masks/images.zip       P0000_instance_color_RGB.png, ... (class colours)
    SRC/val/images/part1.zip ...
    SRC/val/Semantic_masks/images.zip

(``*_instance_id_RGB.png`` instance-id maps are not needed and are skipped.)

Output (mmsegmentation's iSAID layout, so mmseg's own ``iSAIDDataset`` reads it too)::

    OUT/img_dir/{train,val}/P0000_<y0>_<y1>_<x0>_<x1>.png
    OUT/ann_dir/{train,val}/P0000_<y0>_<y1>_<x0>_<x1>_instance_color_RGB.png
        0 background, 1 ship, 2 storage tank, ..., 15 harbor (mmseg's class order);
        255 = ignore (padding of images smaller than a crop, unknown colours)

The paper's crops are 896 x 896 with stride 512 (33,620 train / 11,533 val crops); images
smaller than a crop are padded (image 0, label ignore). The official test labels are not
public, so the paper (and this tool) evaluates on ``val``.

Parallel, resumable (finished images are skipped, atomic writes), progress bar, summary;
exits non-zero when an image failed.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, Tuple

import cv2
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

IGNORE_VALUE = 255
# iSAID class colours (RGB) -> label value, in mmseg's iSAIDDataset class order.
PALETTE: Dict[Tuple[int, int, int], int] = {
    (0, 0, 0): 0,         # background
    (0, 0, 63): 1,        # ship
    (0, 63, 63): 2,       # storage tank
    (0, 63, 0): 3,        # baseball diamond
    (0, 63, 127): 4,      # tennis court
    (0, 63, 191): 5,      # basketball court
    (0, 63, 255): 6,      # ground track field
    (0, 127, 63): 7,      # bridge
    (0, 127, 127): 8,     # large vehicle
    (0, 0, 127): 9,       # small vehicle
    (0, 0, 191): 10,      # helicopter
    (0, 0, 255): 11,      # swimming pool
    (0, 191, 127): 12,    # roundabout
    (0, 127, 191): 13,    # soccer ball field
    (0, 127, 255): 14,    # plane
    (0, 100, 155): 15,    # harbor
}
IMAGE_NAME = re.compile(r'(P\d+)\.png', re.IGNORECASE)
LABEL_NAME = re.compile(r'(P\d+)_instance_color_RGB\.png', re.IGNORECASE)
LABEL_SUFFIX = '_instance_color_RGB.png'


def find_images(split_dir: str) -> Tuple[Dict[str, FileRef], Dict[str, FileRef]]:
    """Map image ids (``P0000``) to their image and semantic colour label files."""
    images: Dict[str, FileRef] = {}
    labels: Dict[str, FileRef] = {}
    for pattern, found in ((IMAGE_NAME, images), (LABEL_NAME, labels)):
        for ref in scan_inputs(split_dir, pattern):
            key = pattern.fullmatch(ref.name).group(1)
            add_unique(found, key, ref)
    return images, labels


def read_image(job: CropJob) -> Tuple[np.ndarray, np.ndarray, int]:
    """Decode one image: BGR image, label values, count of unknown label colours."""
    image = decode_image(job.image, cv2.IMREAD_COLOR)  # DOTA has a few grey / RGBA images
    label_bgr = decode_image(job.label, cv2.IMREAD_COLOR)
    values, unknown = label_values(job, image, label_bgr, PALETTE, IGNORE_VALUE, 'iSAID palette')
    return image, values, unknown


def crop_names(key: str, box: Tuple[int, int, int, int]) -> Tuple[str, str]:
    """Image and label file names of one crop, in mmseg's iSAID convention."""
    x0, y0, x1, y1 = box
    stem = f'{key}_{y0}_{y1}_{x0}_{x1}'
    return stem + '.png', stem + LABEL_SUFFIX


def convert_image(job: CropJob) -> TileResult:
    """Write every crop of one image (skipping those already written)."""
    return write_crops(job, read_image, crop_names, IGNORE_VALUE)


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of the iSAID converter."""
    parser = converter_parser('Crop the iSAID release (DOTA images + semantic colour masks) for fine-tuning.', __file__)
    parser.add_argument('src', help='iSAID folder with train/ and val/ (archives or extracted)')
    parser.add_argument('-o', '--out-dir', default='data/iSAID', help='output folder')
    parser.add_argument('--splits', nargs='+', choices=['train', 'val'], default=['train', 'val'])
    add_crop_arguments(parser, crop_size=896, stride=512, legend='iSAID palette')
    args = parser.parse_args(argv)
    check_positive(parser, args, 'crop_size', 'stride', 'nproc')
    return args


def main(argv=None) -> int:
    """Convert; return the exit status (docs/runs.md)."""
    args = parse_args(argv)
    jobs, warnings = [], []
    try:
        for split in args.splits:
            split_dir = osp.join(args.src, split)
            if not osp.isdir(split_dir):
                warnings.append(f'{split_dir} not found; split {split} skipped')
                continue
            images, labels = find_images(split_dir)
            unlabelled = sorted(set(images) - set(labels))
            orphans = sorted(set(labels) - set(images))
            if unlabelled:
                warnings.append(f'{split}: {len(unlabelled)} image(s) without a '
                                f'*{LABEL_SUFFIX} label were skipped: {unlabelled[:10]}')
            if orphans:
                warnings.append(f'{split}: {len(orphans)} label(s) without an image were '
                                f'skipped: {orphans[:10]}')
            for key in sorted(set(images) & set(labels)):
                jobs.append(CropJob(split, key, images[key], labels[key], args.out_dir,
                                    args.crop_size, args.stride, args.strict, args.overwrite))
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    if not jobs:
        print(f'error: no labelled iSAID image found under {args.src}/{{{",".join(args.splits)}}} '
              f'(looked for P<id>.png and P<id>{LABEL_SUFFIX}, plain or in .zip)',
              file=sys.stderr)
        for message in warnings:
            print(f'  warning: {message}', file=sys.stderr)
        return 2

    def convert() -> int:
        check_settings(args.out_dir, dict(dataset='isaid', crop_size=args.crop_size,
                                          stride=args.stride,
                                          label_values='0=background,1..15=iSAID classes,255=ignore'),
                       args.overwrite)
        for split in sorted({job.split for job in jobs}):
            os.makedirs(osp.join(args.out_dir, 'img_dir', split), exist_ok=True)
            os.makedirs(osp.join(args.out_dir, 'ann_dir', split), exist_ok=True)
        run = run_jobs(jobs, convert_image, args.nproc, 'isaid', unit='image')
        return summarise(run.results, args.out_dir, 'isaid', warnings, unit='images', stopped=run.stopped,
                         not_reached=run.not_reached)

    return run_converter(args.out_dir, convert)


if __name__ == '__main__':
    sys.exit(main())
