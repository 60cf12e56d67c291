"""Convert iSAID's instance annotations into COCO json of the 896 x 896 fine-tuning crops.

Input: the iSAID release as downloaded (archives or their extracted contents, searched
recursively under each split folder)::

    SRC/train/images/part1.zip ...           DOTA-v1.0 images P0000.png, ...
    SRC/train/Annotations/iSAID_train.json   COCO json: polygons, boxes, 15 categories
    SRC/val/images/part1.zip ...
    SRC/val/Annotations/iSAID_val.json

Output, into the same folder the semantic converter (``isaid.py``) fills, with the same
windows and crop names, so one folder serves both tasks::

    OUT/img_dir/{train,val}/P0000_<y0>_<y1>_<x0>_<x1>.png   (written unless already there)
    OUT/annotations/instances_{train,val}.json               COCO json of the crops

Every crop of an image is listed (crops without objects too). An object cut by a crop keeps
the part of its mask inside the crop when that part has at least ``--min-area`` pixels (so
the instance labels cover what the semantic crops label); its box and area are those of
the clipped mask, stored as COCO RLE. Categories are the 15 iSAID classes in the semantic
label order (``iSAIDInstanceDataset``), matched to the release's names without regard to
case, spaces or underscores.

Parallel, resumable (finished images are skipped: their crops' objects are kept in
``OUT/.done_instances``), progress bar, summary; exits non-zero when an image failed.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2

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
from isaid import IMAGE_NAME, crop_names  # noqa: E402

from samrs_mm.fileio import atomic_write  # noqa: E402

SETTINGS_FILE = '.instance_conversion_settings.json'
DONE_DIR = '.done_instances'
JSON_NAME = re.compile(r'.*\.json', re.IGNORECASE)


def _norm(name: str) -> str:
    return re.sub(r'[\s_\-]+', '', str(name)).lower()


def instance_classes() -> Tuple[str, ...]:
    """The 15 iSAID classes in label order (``iSAIDInstanceDataset``'s)."""
    from samrs_mm.sources.isaid import ISAID_PALETTE
    return tuple(ISAID_PALETTE.values())


def category_map(categories: Sequence[dict], json_path: str) -> Dict[int, int]:
    """The release's category id -> our category id (1-based position in :func:`instance_classes`)."""
    ours = {_norm(name): i + 1 for i, name in enumerate(instance_classes())}
    ours[_norm('store_tank')] = ours[_norm('storage_tank')]  # the spelling mmdet's iSAID tools use
    mapping = {}
    for cat in categories:
        key = _norm(cat.get('name', ''))
        if key not in ours:
            raise ConversionError(f'{json_path}: category {cat.get("name")!r} (id {cat.get("id")}) is not an '
                                  f'iSAID class ({", ".join(instance_classes())})')
        mapping[int(cat['id'])] = ours[key]
    return mapping


def read_release_json(ref: FileRef) -> Tuple[Dict[str, List[dict]], Dict[int, int]]:
    """Objects per image stem (``P0000``) and the category map of one split's json."""
    try:
        data = json.loads(ref.read_bytes())
    except (OSError, ValueError) as error:
        raise ConversionError(f'{ref}: cannot read the instance json ({error})') from None
    if not isinstance(data, dict) or not isinstance(data.get('images'), list) or 'categories' not in data:
        raise ConversionError(f'{ref}: not a COCO json (needs "images", "annotations", "categories")')
    categories = category_map(data['categories'], str(ref))
    stems = {int(img['id']): osp.splitext(osp.basename(img['file_name']))[0] for img in data['images']}
    objects: Dict[str, List[dict]] = {stem: [] for stem in stems.values()}
    for k, ann in enumerate(data.get('annotations', [])):
        image_id = int(ann.get('image_id', -1))
        if image_id not in stems:
            raise ConversionError(f'{ref}: annotation #{k} (id {ann.get("id")}) names image id {image_id}, '
                                  'which the json does not list')
        if int(ann.get('category_id', -1)) not in categories:
            raise ConversionError(f'{ref}: annotation #{k} (id {ann.get("id")}) has unknown category '
                                  f'{ann.get("category_id")}')
        objects[stems[image_id]].append(dict(id=ann.get('id', k), category_id=categories[int(ann['category_id'])],
                                             segmentation=ann.get('segmentation'),
                                             iscrowd=int(ann.get('iscrowd', 0))))
    return objects, categories


@dataclass(frozen=True)
class InstanceJob:
    """One iSAID image: its file, its objects, where and how to crop."""

    split: str
    key: str
    image: FileRef
    objects: Tuple[dict, ...]
    out_dir: str
    crop_size: int
    stride: int
    min_area: int
    overwrite: bool
    strict: bool = False

    def describe(self) -> str:
        """The image, for error messages."""
        return str(self.image)


def _object_rle(obj: dict, height: int, width: int, where: str):
    """COCO RLE (bytes counts) of one release object in the full image."""
    from pycocotools import mask as mask_utils
    segm = obj['segmentation']
    if isinstance(segm, list):
        polygons = [p for p in segm if isinstance(p, (list, tuple)) and len(p) >= 6 and len(p) % 2 == 0]
        if not polygons:
            raise ConversionError(f'{where}: object {obj["id"]} has no polygon with 3 or more points')
        return mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    if isinstance(segm, dict) and 'counts' in segm:
        if isinstance(segm['counts'], list):
            return mask_utils.frPyObjects(segm, height, width)
        counts = segm['counts'].encode('ascii') if isinstance(segm['counts'], str) else segm['counts']
        return dict(size=segm['size'], counts=counts)
    raise ConversionError(f'{where}: object {obj["id"]} has an unreadable segmentation')


def crop_objects(objects: Sequence[dict], height: int, width: int, boxes: Sequence[Tuple[int, int, int, int]],
                 crop_size: int, min_area: int, where: str) -> Tuple[List[List[dict]], int]:
    """Per crop box, the clipped objects (category, RLE in the crop, area, bbox, iscrowd).

    Returns the lists and how many clipped parts were below ``min_area``.
    """
    from pycocotools import mask as mask_utils

    from samrs_mm.structures.rle import decode_window, encode_window
    per_crop: List[List[dict]] = [[] for _ in boxes]
    too_small = 0
    for obj in objects:
        rle = _object_rle(obj, height, width, where)
        ox, oy, ow, oh = (int(v) for v in mask_utils.toBbox(rle))
        if ow == 0 or oh == 0:
            continue
        text_rle = dict(size=[height, width], counts=rle['counts'].decode('ascii')
                        if isinstance(rle['counts'], bytes) else rle['counts'])
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            # The crop's part of the image (crops of padded images reach past the border).
            cx0, cy0 = max(x0, ox), max(y0, oy)
            cx1, cy1 = min(x1, ox + ow, width), min(y1, oy + oh, height)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            window = decode_window(text_rle, cx0, cy0, cx1 - cx0, cy1 - cy0)
            crop_rle, area, bbox = encode_window(window, cy0 - y0, cx0 - x0, crop_size, crop_size)
            if area == 0:
                continue
            if area < min_area:
                too_small += 1
                continue
            per_crop[k].append(dict(category_id=obj['category_id'], segmentation=crop_rle, area=int(area),
                                    bbox=[float(v) for v in bbox], iscrowd=obj['iscrowd']))
    return per_crop, too_small


def convert_image(job: InstanceJob) -> TileResult:
    """Write the crops of one image that are missing and return its crops' objects."""
    if not job.overwrite and tile_is_done(job.out_dir, job.split, job.key, DONE_DIR):
        marker = read_marker(job.out_dir, job.split, job.key, DONE_DIR)
        return TileResult(job.split, job.key, skipped_tile=True, crops=len(marker['outputs']),
                          extra=dict(crops=marker['crops'], too_small=marker.get('too_small', 0)))
    image = decode_image(job.image, cv2.IMREAD_COLOR)  # as the semantic converter decodes it
    height, width = image.shape[:2]
    image = pad_to(image, job.crop_size, job.crop_size, 0)
    boxes = crop_boxes(image.shape[0], image.shape[1], job.crop_size, job.stride)
    per_crop, too_small = crop_objects(job.objects, height, width, boxes, job.crop_size, job.min_area,
                                       str(job.image))
    result = TileResult(job.split, job.key)
    outputs, crops = [], []
    for box, objects in zip(boxes, per_crop):
        name = crop_names(job.key, box)[0]
        rel = osp.join('img_dir', job.split, name)
        outputs.append(rel)
        crops.append(dict(file_name=name, objects=objects))
        result.crops += 1
        path = osp.join(job.out_dir, rel)
        if not job.overwrite and osp.isfile(path):
            continue  # this converter's earlier run, or the semantic converter, wrote it
        x0, y0, x1, y1 = box
        atomic_write_png(path, image[y0:y1, x0:x1])
        result.written += 1
    mark_tile_done(job.out_dir, job.split, job.key, outputs, dict(crops=crops, too_small=too_small), DONE_DIR)
    result.extra = dict(crops=crops, too_small=too_small)
    return result


def write_coco(path: str, results: Sequence[TileResult], crop_size: int) -> Dict[str, int]:
    """The COCO json of one split's crops, atomically; returns image / annotation counts."""
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(instance_classes())]
    images, annotations = [], []
    for result in sorted(results, key=lambda r: r.key):
        for crop in result.extra['crops']:
            image_id = len(images) + 1
            images.append(dict(id=image_id, file_name=crop['file_name'], width=crop_size, height=crop_size))
            for obj in crop['objects']:
                annotations.append(dict(id=len(annotations) + 1, image_id=image_id, **obj))
    coco = dict(info=dict(description='iSAID instances, 896 x 896 crops (samrs_mm)', version='1.0'),
                licenses=[], categories=categories, images=images, annotations=annotations)
    os.makedirs(osp.dirname(path), exist_ok=True)
    atomic_write(path, json.dumps(coco, separators=(',', ':')).encode('utf-8'))
    return dict(images=len(images), annotations=len(annotations))


def find_release_json(split_dir: str, split: str, given: Optional[str]) -> FileRef:
    """The split's instance json: ``--ann-file`` if given, else the one json under the split."""
    if given:
        if not osp.isfile(given):
            raise ConversionError(f'{given}: instance json not found')
        return FileRef(given)
    found = list(scan_inputs(split_dir, JSON_NAME))
    preferred = [ref for ref in found if ref.name.lower() == f'isaid_{split}.json']
    if len(preferred) == 1:
        return preferred[0]
    if len(found) != 1:
        listing = ', '.join(str(r) for r in found[:5]) or 'none'
        raise ConversionError(f'{split_dir}: expected one instance json (iSAID_{split}.json), found '
                              f'{len(found)}: {listing}; name it with --ann-file')
    return found[0]


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of the iSAID instance converter."""
    parser = converter_parser('Crop the iSAID release into 896 x 896 crops with COCO instance annotations.',
                              __file__)
    parser.add_argument('src', help='iSAID folder with train/ and val/ (archives or extracted)')
    parser.add_argument('-o', '--out-dir', default='data/iSAID',
                        help='output folder (the semantic converter\'s, to share the crops)')
    parser.add_argument('--splits', nargs='+', choices=['train', 'val'], default=['train', 'val'])
    parser.add_argument('--ann-file', action='append', default=[], metavar='SPLIT=JSON',
                        help='instance json of a split when it is not the one json under SRC/<split>')
    parser.add_argument('--crop-size', type=int, default=896, help='crop side (paper: 896)')
    parser.add_argument('--stride', type=int, default=512, help='crop stride (paper: 512)')
    parser.add_argument('--min-area', type=int, default=1,
                        help='keep the part of an object inside a crop when it has at least this many pixels')
    parser.add_argument('--nproc', type=int, default=default_nproc(), help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='redo finished images (default: resume)')
    args = parser.parse_args(argv)
    check_positive(parser, args, 'crop_size', 'stride', 'nproc')
    for item in args.ann_file:
        split, sep, _ = item.partition('=')
        if not sep or split not in ('train', 'val'):
            parser.error(f'--ann-file: {item!r} is not SPLIT=JSON; valid splits: train, val')
    return args


def main(argv=None) -> int:
    """Convert; return the exit status (docs/runs.md)."""
    args = parse_args(argv)
    given = dict(item.split('=', 1) for item in args.ann_file)
    jobs, warnings = [], []
    try:
        for split in args.splits:
            split_dir = osp.join(args.src, split)
            if not osp.isdir(split_dir):
                warnings.append(f'{split_dir} not found; split {split} skipped')
                continue
            objects, _ = read_release_json(find_release_json(split_dir, split, given.get(split)))
            images: Dict[str, FileRef] = {}
            for ref in scan_inputs(split_dir, IMAGE_NAME):
                add_unique(images, IMAGE_NAME.fullmatch(ref.name).group(1), ref)
            missing = sorted(set(objects) - set(images))
            extra = sorted(set(images) - set(objects))
            if missing:
                warnings.append(f'{split}: {len(missing)} image(s) of the json not found: {missing[:10]}')
            if extra:
                warnings.append(f'{split}: {len(extra)} image(s) not in the json were skipped: {extra[:10]}')
            for key in sorted(set(images) & set(objects)):
                jobs.append(InstanceJob(split, key, images[key], tuple(objects[key]), args.out_dir,
                                        args.crop_size, args.stride, args.min_area, args.overwrite))
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    if not jobs:
        print(f'error: no iSAID image with instance annotations found under {args.src}/'
              f'{{{",".join(args.splits)}}}', file=sys.stderr)
        for message in warnings:
            print(f'  warning: {message}', file=sys.stderr)
        return 2

    def convert() -> int:
        check_settings(args.out_dir, dict(dataset='isaid-instances', crop_size=args.crop_size,
                                          stride=args.stride, min_area=args.min_area),
                       args.overwrite, SETTINGS_FILE)
        for split in sorted({job.split for job in jobs}):
            os.makedirs(osp.join(args.out_dir, 'img_dir', split), exist_ok=True)
        run = run_jobs(jobs, convert_image, args.nproc, 'isaid instances', unit='image')
        status = summarise(run.results, args.out_dir, 'isaid instances', warnings, unit='images',
                           stopped=run.stopped, not_reached=run.not_reached,
                           file_name='instance_conversion_summary.json')
        if status:
            print('the COCO json files are written once every image of a split is converted')
            return status
        for split in sorted({r.split for r in run.results}):
            mine = [r for r in run.results if r.split == split]
            counts = write_coco(osp.join(args.out_dir, 'annotations', f'instances_{split}.json'), mine,
                                args.crop_size)
            too_small = sum(r.extra.get('too_small', 0) for r in mine)
            print(f'  {split:6s} annotations/instances_{split}.json: {counts["images"]} crops, '
                  f'{counts["annotations"]} objects ({too_small} clipped parts under {args.min_area} px left out)')
        return 0

    return run_converter(args.out_dir, convert)


if __name__ == '__main__':
    sys.exit(main())
