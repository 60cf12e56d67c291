"""Generate the small synthetic input that ships with the repository for ``make demo``.

Three tiny "datasets" in the native formats of the paper's sources, so the demo exercises
every stage offline: DOTA (``labelTxt`` quadrilaterals), DIOR (VOC ``bndbox`` xml) and
FAIR1M (xml with 5-point rotated boxes). The scenes are synthetic aerial-like images
(smooth terrain, roads, and objects painted exactly inside their annotated polygons), made
by a fixed seed: running this script again rewrites byte-identical files.

    python demo/make_demo_data.py [--out demo/data]
"""
import argparse
import os
import os.path as osp
from xml.sax.saxutils import escape

import cv2
import numpy as np

# (class name as the source spells it, (length, width) range in px, BGR colour)
DOTA_OBJECTS = [
    ('small-vehicle', (18, 24), (9, 12), (40, 40, 200)),
    ('large-vehicle', (36, 48), (13, 17), (200, 200, 210)),
    ('ship', (60, 90), (16, 24), (235, 235, 235)),
    ('storage-tank', (34, 52), None, (190, 200, 205)),
    ('plane', (56, 70), None, (225, 225, 230)),
    ('tennis-court', (70, 80), (34, 38), (60, 150, 60)),
    ('swimming-pool', (36, 56), (20, 30), (220, 170, 40)),
]
DIOR_OBJECTS = [
    ('vehicle', (18, 24), (9, 12), (50, 50, 190)),
    ('storagetank', (34, 50), None, (195, 200, 205)),
    ('airplane', (56, 70), None, (225, 225, 230)),
    ('tenniscourt', (70, 80), (34, 38), (60, 150, 60)),
    ('ship', (60, 90), (16, 24), (235, 235, 235)),
]
FAIR1M_OBJECTS = [
    ('Small Car', (18, 24), (9, 12), (45, 45, 195)),
    ('Van', (24, 30), (11, 14), (200, 190, 160)),
    ('Dry Cargo Ship', (70, 100), (18, 26), (230, 230, 235)),
    ('Motorboat', (20, 30), (8, 11), (240, 240, 240)),
    ('Boeing737', (56, 66), None, (220, 220, 225)),
    ('Tennis Court', (70, 80), (34, 38), (60, 150, 60)),
]


def terrain(height, width, rng):
    """Smooth fields and soil: low-frequency noise upsampled, plus two roads."""
    coarse = rng.uniform(0, 1, (9, 11, 3))
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    base = np.array([70, 110, 95], np.float64)  # greenish grey (BGR)
    image = base + (image - 0.5) * np.array([50, 60, 50])
    for _ in range(2):
        if rng.uniform() < 0.5:
            y = int(rng.uniform(0.2, 0.8) * height)
            cv2.line(image, (0, y), (width, y + int(rng.uniform(-80, 80))), (120, 120, 125), 22)
        else:
            x = int(rng.uniform(0.2, 0.8) * width)
            cv2.line(image, (x, 0), (x + int(rng.uniform(-80, 80)), height), (120, 120, 125), 22)
    return np.clip(image, 0, 255)


def rotated_rect(cx, cy, length, width, angle):
    """Corners (4, 2) of a rectangle, clockwise on screen from the rear-left."""
    c, s = np.cos(angle), np.sin(angle)
    half = np.array([[-length, -width], [length, -width], [length, width], [-length, width]]) / 2
    return np.stack([cx + half[:, 0] * c - half[:, 1] * s, cy + half[:, 0] * s + half[:, 1] * c], 1)


def paint(image, quad, name, colour):
    """Paint the object inside its quad (round objects as the inscribed disc)."""
    pts = np.round(quad).astype(np.int32)
    if 'tank' in name:
        centre = tuple(np.round(quad.mean(0)).astype(int))
        radius = int(np.linalg.norm(quad[0] - quad[1]) / 2)
        cv2.circle(image, centre, radius, colour, -1, cv2.LINE_AA)
        cv2.circle(image, centre, max(radius - 5, 1), tuple(c * 0.85 for c in colour), 2, cv2.LINE_AA)
    elif name in ('plane', 'airplane', 'Boeing737'):
        centre = quad.mean(0)
        axis = (quad[1] - quad[0]) / 2
        across = (quad[3] - quad[0]) / 2
        body = np.array([centre - axis, centre + axis])
        wing = np.array([centre - across * 0.95 + axis * 0.1, centre + across * 0.95 + axis * 0.1])
        for segment, thick in ((body, 9), (wing, 8)):
            cv2.line(image, tuple(np.round(segment[0]).astype(int)), tuple(np.round(segment[1]).astype(int)),
                     colour, thick, cv2.LINE_AA)
    else:
        cv2.fillConvexPoly(image, pts, colour, cv2.LINE_AA)
        cv2.polylines(image, [pts], True, tuple(c * 0.6 for c in colour), 2, cv2.LINE_AA)


def scatter(image, catalogue, count, rng, margin=6):
    """Place ``count`` non-overlapping objects; return [(name, quad)]."""
    height, width = image.shape[:2]
    placed, footprints = [], []
    attempts = 0
    while len(placed) < count and attempts < count * 200:
        attempts += 1
        name, length_range, width_range, colour = catalogue[rng.integers(len(catalogue))]
        length = rng.uniform(*length_range)
        breadth = length if width_range is None else rng.uniform(*width_range)
        # Square objects (tanks, planes) are annotated axis-aligned, as DOTA does.
        angle = 0.0 if width_range is None else rng.uniform(-np.pi / 2, np.pi / 2)
        radius = np.hypot(length, breadth) / 2 + margin
        cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
        if any(np.hypot(cx - x, cy - y) < radius + r for x, y, r in footprints):
            continue
        quad = rotated_rect(cx, cy, length, breadth, angle)
        paint(image, quad, name, colour)
        footprints.append((cx, cy, radius))
        placed.append((name, quad))
    return placed


def finish(image, rng):
    """Mild texture: noise at 1/4 resolution, upsampled (keeps the PNGs compact)."""
    height, width = image.shape[:2]
    texture = cv2.resize(rng.normal(0, 3.0, (height // 8, width // 8)), (width, height),
                         interpolation=cv2.INTER_NEAREST)[..., None]
    return np.clip(np.round(image + texture), 0, 255).astype(np.uint8)


def write_dota(root, rng):
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
    image = terrain(1150, 1400, rng)
    objects = scatter(image, DOTA_OBJECTS, 70, rng)
    cv2.imwrite(osp.join(root, 'images', 'D0001.png'), finish(image, rng))
    lines = ['imagesource:samrs_mm synthetic demo', 'gsd:0.3']
    for name, quad in objects:
        coords = ' '.join(f'{v:.1f}' for v in quad.reshape(-1))
        lines.append(f'{coords} {name} 0')
    with open(osp.join(root, 'labelTxt', 'D0001.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return len(objects)


def write_dior(root, rng):
    img_dir = osp.join(root, 'JPEGImages-trainval')
    ann_dir = osp.join(root, 'Annotations', 'Horizontal Bounding Boxes')
    split_dir = osp.join(root, 'ImageSets', 'Main')
    for folder in (img_dir, ann_dir, split_dir):
        os.makedirs(folder, exist_ok=True)
    total, stems = 0, []
    for index in range(1, 5):
        stem = f'{index:05d}'
        image = terrain(800, 800, rng)
        objects = scatter(image, DIOR_OBJECTS, 20, rng)
        cv2.imwrite(osp.join(img_dir, stem + '.jpg'), finish(image, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        body = []
        for name, quad in objects:
            x1, y1 = np.floor(quad.min(0)).astype(int)
            x2, y2 = np.ceil(quad.max(0)).astype(int)
            body.append(f'\t<object>\n\t\t<name>{escape(name)}</name>\n\t\t<pose>Unspecified</pose>\n'
                        f'\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n'
                        f'\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>')
        xml = ('<annotation>\n\t<filename>' + stem + '.jpg</filename>\n\t<source>\n\t\t<database>DIOR'
               '</database>\n\t</source>\n\t<size>\n\t\t<width>800</width>\n\t\t<height>800</height>\n'
               '\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n' + '\n'.join(body)
               + '\n</annotation>\n')
        with open(osp.join(ann_dir, stem + '.xml'), 'w') as f:
            f.write(xml)
        total += len(objects)
        stems.append(stem)
    with open(osp.join(split_dir, 'trainval.txt'), 'w') as f:
        f.write('\n'.join(stems) + '\n')
    return total


def write_fair1m(root, rng):
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelXml'), exist_ok=True)
    image = terrain(1000, 1200, rng)
    objects = scatter(image, FAIR1M_OBJECTS, 60, rng)
    cv2.imwrite(osp.join(root, 'images', '1.png'), finish(image, rng))
    body = []
    for name, quad in objects:
        points = ''.join(f'\t\t\t\t<point>{x:.6f},{y:.6f}</point>\n' for x, y in np.vstack([quad, quad[:1]]))
        body.append('\t\t<object>\n\t\t\t<coordinate>pixel</coordinate>\n\t\t\t<type>rectangle</type>\n'
                    '\t\t\t<description>None</description>\n\t\t\t<possibleresult>\n'
                    f'\t\t\t\t<name>{escape(name)}</name>\n\t\t\t</possibleresult>\n\t\t\t<points>\n'
                    f'{points}\t\t\t</points>\n\t\t</object>')
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n\t<source>\n\t\t<filename>1.png'
           '</filename>\n\t\t<origin>samrs_mm synthetic demo</origin>\n\t</source>\n\t<size>\n'
           '\t\t<width>1200</width>\n\t\t<height>1000</height>\n\t\t<depth>3</depth>\n\t</size>\n'
           '\t<objects>\n' + '\n'.join(body) + '\n\t</objects>\n</annotation>\n')
    with open(osp.join(root, 'labelXml', '1.xml'), 'w') as f:
        f.write(xml)
    return len(objects)


def main():
    """Write the three demo datasets and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=osp.join(osp.dirname(osp.abspath(__file__)), 'data'))
    args = parser.parse_args()
    rng = np.random.default_rng(2023)
    counts = dict(dota=write_dota(osp.join(args.out, 'dota'), rng),
                  dior=write_dior(osp.join(args.out, 'dior'), rng),
                  fair1m=write_fair1m(osp.join(args.out, 'fair1m'), rng))
    print(', '.join(f'{name}: {count} objects' for name, count in counts.items()), '->', args.out)


if __name__ == '__main__':
    main()
