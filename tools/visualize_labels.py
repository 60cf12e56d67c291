#!/usr/bin/env python
"""Figure 4 style pictures of SAM labels: image with its boxes | mask overlay | colour label.

    python tools/visualize_labels.py data/samrs/sota --num 4 --out-dir vis/
    python tools/visualize_labels.py data/samrs/fast --stems 1__600__0___0 --alpha 0.6

Reads a work dir of tools/samrs_annotate.py: ``instances/<stem>.json`` (boxes, masks,
classes), ``semantic/<stem>.png`` and the image (``images/`` when the run copied it, else
the path recorded in the instance file). Each picture has three panels: the detection
boxes the prompts came from (rotated boxes where known), the masks blended over the image
with their outlines, and the semantic label in the project palette (black = unlabeled),
over a legend of the classes present. Written as ``<out-dir>/<stem>.png``.
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dir', help='output folder of tools/samrs_annotate.py')
    parser.add_argument('--stems', nargs='+', help='images to draw (default: the first --num)')
    parser.add_argument('--num', type=int, default=4, help='how many images when --stems is not given')
    parser.add_argument('--out-dir', help='default: <work_dir>/vis')
    parser.add_argument('--alpha', type=float, default=0.5, help='mask opacity in the overlay panel')
    parser.add_argument('--max-side', type=int, default=1024, help='downscale panels whose long side is larger')
    return parser.parse_args(argv)


def _image_path(work_dir: str, info: dict) -> str:
    copied = osp.join(work_dir, 'images', info['file_name'])
    return copied if osp.isfile(copied) else info['path']


def _legend(classes, present, palette, width: int) -> np.ndarray:
    """A strip with a colour swatch and the name of every class present."""
    import cv2
    items = [i for i in range(len(classes)) if i in present]
    per_row = max(1, width // 220)
    rows = max(1, (len(items) + per_row - 1) // per_row)
    strip = np.full((rows * 24 + 8, width, 3), 255, dtype=np.uint8)
    for k, i in enumerate(items):
        x, y = 8 + (k % per_row) * 220, 8 + (k // per_row) * 24
        cv2.rectangle(strip, (x, y), (x + 16, y + 16), tuple(int(c) for c in palette[i]), -1)
        cv2.putText(strip, classes[i], (x + 22, y + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def render(work_dir: str, stem: str, classes, palette, alpha: float = 0.5, max_side: int = 1024) -> np.ndarray:
    """The three-panel RGB picture of one image (see the module docstring)."""
    import cv2

    from samrs_mm.annotate.outputs import read_instances
    from samrs_mm.sources.image_io import load_image
    data = read_instances(osp.join(work_dir, 'instances', stem + '.json'))
    image = load_image(_image_path(work_dir, data['image']))
    label_path = osp.join(work_dir, 'semantic', stem + '.png')
    label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise SystemExit(f'error: cannot read {label_path}')
    if label.shape != image.shape[:2]:
        raise SystemExit(f'error: {label_path} is {label.shape[::-1]} but the image is {image.shape[1::-1]}')
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    colour = table[label]

    boxes = image.copy()
    overlay = image.astype(np.float32)
    covered = label != 255
    overlay[covered] = (1 - alpha) * overlay[covered] + alpha * colour[covered].astype(np.float32)
    overlay = overlay.round().astype(np.uint8)
    from samrs_mm.structures.rle import decode as rle_decode
    for obj in data['objects']:
        rgb = tuple(int(c) for c in palette[obj['class_index']])
        if obj.get('quad'):
            pts = np.round(np.asarray(obj['quad'])).astype(np.int32)
            cv2.polylines(boxes, [pts], True, rgb, 2, cv2.LINE_AA)
        else:
            x1, y1, x2, y2 = (int(round(v)) for v in obj['hbox'])
            cv2.rectangle(boxes, (x1, y1), (x2 - 1, y2 - 1), rgb, 2)
        if obj['area'] > 0:
            mask = rle_decode(obj['segmentation']).astype(np.uint8)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(overlay, contours, -1, (255, 255, 255), 1)
    gap = np.full((image.shape[0], 8, 3), 255, dtype=np.uint8)
    panels = np.concatenate([boxes, gap, overlay, gap, colour], axis=1)
    scale = min(1.0, max_side * 3 / panels.shape[1])
    if scale < 1.0:
        panels = cv2.resize(panels, (int(panels.shape[1] * scale), int(panels.shape[0] * scale)),
                            interpolation=cv2.INTER_AREA)
    present = set(int(v) for v in np.unique(label) if v != 255)
    present |= {obj['class_index'] for obj in data['objects']}
    return np.concatenate([panels, _legend(classes, present, palette, panels.shape[1])], axis=0)


def main(argv=None) -> int:
    """Draw the chosen images."""
    import cv2
    args = parse_args(argv)
    inst_dir = osp.join(args.work_dir, 'instances')
    if not osp.isdir(inst_dir):
        print(f'error: {inst_dir} not found: is {args.work_dir} an annotate work dir?', file=sys.stderr)
        return 2
    summary_path = osp.join(args.work_dir, 'summary.json')
    if not osp.isfile(summary_path):
        print(f'error: {summary_path} not found (the annotate run has not finished)', file=sys.stderr)
        return 2
    with open(summary_path, encoding='utf-8') as f:
        classes = json.load(f)['classes']
    from samrs_mm.datasets.samrs import make_palette
    palette = make_palette(len(classes))
    stems = args.stems or sorted(osp.splitext(n)[0] for n in os.listdir(inst_dir) if n.endswith('.json'))[:args.num]
    missing = [s for s in stems if not osp.isfile(osp.join(inst_dir, s + '.json'))]
    if missing:
        print(f'error: no labels for {missing} in {inst_dir}', file=sys.stderr)
        return 2
    out_dir = args.out_dir or osp.join(args.work_dir, 'vis')
    os.makedirs(out_dir, exist_ok=True)
    for stem in stems:
        picture = render(args.work_dir, stem, classes, palette, args.alpha, args.max_side)
        path = osp.join(out_dir, stem + '.png')
        cv2.imwrite(path, picture[..., ::-1])
        print(f'[visualize_labels] {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
