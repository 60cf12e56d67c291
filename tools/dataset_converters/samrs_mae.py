"""Cut the SAMRS training images into 384 x 384 crops for SAMRS-MAE pre-training (paper A.4).

    python tools/dataset_converters/samrs_mae.py data/samrs/sota data/samrs/sior data/samrs/fast \\
        -o data/samrs_mae [--nproc 8] [--count-only]

Input: the SAMRS subset folders as the SEP configs read them (docs/sep.md): the images under
``<subset>/images/`` (``--img-dir``; searched recursively, ``.zip`` archives included) and
the paper's 95 % training list ``<subset>/train.txt`` (``--list``; one image name per line,
written by ``tools/make_splits.py``). Only the listed images are cut, so the 5 % that
validate SEP never reach MAE.

Output::

    OUT/<subset>/<name>__384__<x>___<y>.png    one crop (x, y: its top-left corner)
    OUT/train.txt                              every crop of this run, relative to OUT: the
                                               ``ann_file`` of mmpretrain's ``CustomDataset``
                                               (``with_label=False``) in configs/mae/

Windows follow the common practice of DOTA / FAIR1M cropping (DESIGN.md section 6, the rule
of ``samrs_mm.patches.windows.window_starts``, rule ``shift``): along each side, windows start every ``stride``
pixels and the last one is moved back to end at the border; only an image smaller than the
crop is padded (with 0, bottom / right). The paper's 1024 / 800 / 600-pixel SOTA / SIOR /
FAST images give 16 / 9 / 4 crops each, so the paper's training lists (16,606 + 11,139 +
60,940 images) give 265,696 + 100,251 + 243,760 = 609,707 crops, the paper's count.

Parallel (``--nproc``), resumable (rerun the same command: finished images are skipped, every
file is written atomically; other settings in the same output folder are refused), with a
progress bar and a summary (also ``OUT/conversion_summary.json``); exits 1 when an image
failed (the list then holds the crops of the images that did not).
"""
from __future__ import annotations

import argparse
import io
import os
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Tuple

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from converter_common import (  # noqa: E402
    ConversionError,
    FileRef,
    TileResult,
    add_unique,
    atomic_write_png,
    check_positive,
    check_settings,
    converter_parser,
    crop_boxes,
    decode_image,
    default_nproc,
    mark_tile_done,
    pad_to,
    read_marker,
    run_converter,
    run_jobs,
    scan_inputs,
    summarise,
    tile_is_done,
)

from samrs_mm.fileio import atomic_write  # noqa: E402  (converter_common put the repo on sys.path)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
IMAGE_NAME = re.compile(r'.+(' + '|'.join(re.escape(e) for e in IMAGE_EXTENSIONS) + ')',
                        re.IGNORECASE)
CROP_LIST = 'train.txt'
PAPER_CROPS = 609707
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageJob:
    """One SAMRS training image to cut into crops."""

    split: str  # the subset name (converter_common groups and reports by it)
    key: str  # the image name, without extension
    image: FileRef
    out_dir: str
    crop_size: int
    stride: int
    ext: str
    overwrite: bool

    def describe(self) -> str:
        """The input file, for error messages."""
        return str(self.image)


def crop_name(key: str, size: int, x: int, y: int, ext: str) -> str:
    """File name of one crop, in the DOTA / mmrotate patch convention."""
    return f'{key}__{size}__{x}___{y}{ext}'


def count_crops(height: int, width: int, size: int, stride: int) -> int:
    """Number of crops an image of ``height`` x ``width`` gives (smaller sides are padded)."""
    return len(crop_boxes(max(height, size), max(width, size), size, stride))


def write_image(path: str, image: np.ndarray, ext: str) -> None:
    """Write one crop atomically: PNG (lossless) or JPEG (quality 95)."""
    if ext == '.png':
        atomic_write_png(path, image)
        return
    ok, encoded = cv2.imencode(ext, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ConversionError(f'{path}: JPEG encoding failed')
    atomic_write(path, encoded.tobytes())


def crop_image(job: ImageJob) -> TileResult:
    """Write every crop of one image (skipping those already written); lists them in ``extra``."""
    if not job.overwrite and tile_is_done(job.out_dir, job.split, job.key):
        outputs = read_marker(job.out_dir, job.split, job.key)['outputs']
        return TileResult(job.split, job.key, skipped_tile=True, crops=len(outputs),
                          extra=dict(outputs=outputs))
    # 8-bit, 3 channels whatever the file holds (grey and RGBA images become BGR).
    image = decode_image(job.image, cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    image = pad_to(image, job.crop_size, job.crop_size, 0)
    result = TileResult(job.split, job.key)
    outputs: List[str] = []
    for x0, y0, x1, y1 in crop_boxes(image.shape[0], image.shape[1], job.crop_size, job.stride):
        rel = osp.join(job.split, crop_name(job.key, job.crop_size, x0, y0, job.ext))
        outputs.append(rel)
        result.crops += 1
        path = osp.join(job.out_dir, rel)
        if not job.overwrite and osp.isfile(path):
            continue
        write_image(path, image[y0:y1, x0:x1], job.ext)
        result.written += 1
    mark_tile_done(job.out_dir, job.split, job.key, outputs, dict(width=width, height=height))
    result.extra = dict(outputs=outputs)
    return result


def read_name_list(path: str) -> List[str]:
    """Image names of a split list (one per line; a known image extension is dropped)."""
    if not osp.isfile(path):
        raise ConversionError(f'{path}: split list not found (write it with tools/make_splits.py)')
    names = []
    with open(path) as handle:
        for line in handle:
            name = line.strip()
            if name:
                stem, ext = osp.splitext(name)
                names.append(stem if ext.lower() in IMAGE_EXTENSIONS else name)
    if len(set(names)) != len(names):
        raise ConversionError(f'{path}: {len(names) - len(set(names))} names are listed twice')
    return names


def find_images(folder: str) -> Dict[str, FileRef]:
    """Map image names (no extension) to their files under ``folder`` (plain or in .zip)."""
    found: Dict[str, FileRef] = {}
    for ref in scan_inputs(folder, IMAGE_NAME):
        add_unique(found, osp.splitext(ref.name)[0], ref)
    return found


def subset_name(folder: str) -> str:
    """The subset a folder holds, from its name (``data/samrs/sota`` -> ``sota``)."""
    return osp.basename(osp.normpath(folder)).lower()


def image_size(ref: FileRef) -> Tuple[int, int]:
    """``(height, width)`` from the file header, without decoding the pixels."""
    if ref.member is None:
        with Image.open(ref.path) as image:
            return image.height, image.width
    with Image.open(io.BytesIO(ref.read_bytes())) as image:
        return image.height, image.width


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of the SAMRS-MAE crop tool."""
    parser = converter_parser('Cut the SAMRS training images into crops for SAMRS-MAE pre-training.', __file__)
    parser.add_argument('subsets', nargs='+',
                        help='SAMRS subset folders (e.g. data/samrs/sota data/samrs/sior '
                             'data/samrs/fast); the folder name is the subset name')
    parser.add_argument('-o', '--out-dir', default='data/samrs_mae', help='output folder')
    parser.add_argument('--img-dir', default='images', help='image folder inside each subset')
    parser.add_argument('--list', default='train.txt',
                        help='training list inside each subset (tools/make_splits.py)')
    parser.add_argument('--crop-size', type=int, default=384, help='crop side (paper: 384)')
    parser.add_argument('--stride', type=int, default=300, help='crop stride (paper: 300)')
    parser.add_argument('--ext', choices=['.png', '.jpg'], default='.png',
                        help='crop format: .png (lossless, default; about 300 KB a crop) or '
                             '.jpg (quality 95, about a quarter of that; docs/finetune.md)')
    parser.add_argument('--nproc', type=int, default=default_nproc(), help='worker processes')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite crops that already exist (default: resume)')
    parser.add_argument('--count-only', action='store_true',
                        help='read the image headers and print how many crops a run would '
                             'write; write nothing')
    args = parser.parse_args(argv)
    check_positive(parser, args, 'crop_size', 'stride', 'nproc')
    return args


def collect_jobs(args: argparse.Namespace) -> Tuple[List[ImageJob], List[TileResult]]:
    """One job per listed image; listed images without a file become failed results."""
    jobs: List[ImageJob] = []
    missing: List[TileResult] = []
    seen: Dict[str, str] = {}
    for folder in args.subsets:
        subset = subset_name(folder)
        if subset in seen:
            raise ConversionError(f'{folder} and {seen[subset]} are both subset {subset!r}; '
                                  'give each subset once')
        seen[subset] = folder
        names = read_name_list(osp.join(folder, args.list))
        images = find_images(osp.join(folder, args.img_dir))
        for name in names:
            if name not in images:
                missing.append(TileResult(subset, name, error=f'{name} is listed in '
                                          f'{osp.join(folder, args.list)} but no image of that '
                                          f'name is in {osp.join(folder, args.img_dir)}'))
                continue
            jobs.append(ImageJob(subset, name, images[name], args.out_dir, args.crop_size,
                                 args.stride, args.ext, args.overwrite))
    return jobs, missing


def count_only(jobs: List[ImageJob], missing: List[TileResult], size: int, stride: int) -> int:
    """Print the crop count of every subset from the image headers; return the exit status."""
    per_subset: Dict[str, List[int]] = {}
    for job in jobs:
        counts = per_subset.setdefault(job.split, [0, 0])
        counts[0] += 1
        counts[1] += count_crops(*image_size(job.image), size, stride)
    for subset, (images, crops) in sorted(per_subset.items()):
        print(f'  {subset:6s} {images:7d} images -> {crops:8d} crops')
    total = sum(crops for _, crops in per_subset.values())
    print(f'  total  {sum(n for n, _ in per_subset.values()):7d} images -> {total:8d} crops '
          f'(paper: {PAPER_CROPS:,} with 384 / 300 on the full SAMRS release)')
    for result in missing:
        print(f'  MISSING {result.split}/{result.key}: {result.error}')
    return 1 if missing else 0


def main(argv=None) -> int:
    """Cut (or count) the crops; return the exit status (docs/runs.md)."""
    args = parse_args(argv)
    try:
        jobs, missing = collect_jobs(args)
        if not jobs:
            raise ConversionError(f'no listed image found in {args.subsets} (looked for '
                                  f'<subset>/{args.list} and the images under '
                                  f'<subset>/{args.img_dir})')
        if args.count_only:
            return count_only(jobs, missing, args.crop_size, args.stride)
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2

    def convert() -> int:
        check_settings(args.out_dir, dict(dataset='samrs-mae', crop_size=args.crop_size,
                                          stride=args.stride, ext=args.ext,
                                          windows='last window ends at the border'),
                       args.overwrite)
        for subset in sorted({job.split for job in jobs}):
            os.makedirs(osp.join(args.out_dir, subset), exist_ok=True)
        run = run_jobs(jobs, crop_image, args.nproc, 'samrs-mae', unit='image')
        results = run.results + ([] if run.stopped else missing)
        crops = [rel for result in sorted(results, key=lambda r: (r.split, r.key))
                 if not result.error for rel in result.extra['outputs']]
        if run.stopped is None:
            # A stopped run lists nothing: a partial list would train on part of the data unnoticed.
            atomic_write(osp.join(args.out_dir, CROP_LIST), ''.join(f'{c}\n' for c in crops).encode())
        status = summarise(results, args.out_dir, 'samrs-mae', unit='images', stopped=run.stopped,
                           not_reached=run.not_reached + (len(missing) if run.stopped else 0))
        if run.stopped is None:
            done = sum(1 for result in results if not result.error)
            print(f'  total  {done} of {len(results)} images -> {len(crops)} crops listed in '
                  f'{osp.join(args.out_dir, CROP_LIST)} (paper: {PAPER_CROPS:,} with 384 / 300 on the '
                  'full SAMRS release)')
        return status

    return run_converter(args.out_dir, convert)


if __name__ == '__main__':
    sys.exit(main())
