"""How well cut objects fit their visible part: our cut rules against the DOTA devkit's way.

An object cut by a patch border (kept: iof >= 0.7, not wholly inside) is written as a quad.
For every such object this script measures the IoU of the written quad with the object's
visible part (its polygon intersected with the window) and the area ratio written / visible,
for each ``--cut-rule`` of ``tools/split_images.py`` (``fit``, ``original`` = mmrotate's
``img_split``, ``clip`` = earlier versions) and for the DOTA devkit's ``ImgSplit``, re-implemented
here from its behaviour (see :func:`devkit_cut`). Images: the real samples of ``../shared/data``
(DOTA P0706 with its 536 labels, iSAID P0005 with its 131 boxes) and two mosaics assembled from
them (3000 x 2500 and 2600 x 2300, the tiles at offsets that put other objects on the borders).

Cross-checks with the real tools, run from checkouts beside the project (never committed):
``--devkit DIR`` runs the devkit's ``ImgSplit.splitbase`` on the same images and compares its
label files with the re-implementation line by line; ``--mmrotate-split FILE`` runs mmrotate
1.x's ``tools/data/dota/split/img_split.py`` and compares its names, pixels and label lines
with ours under ``cut_rule='original'`` (single scale and ``--rate-mode window`` with rates 0.5
and 1, ``--padding-value 104 116 124``).

``--optimiser N`` compares the N lowest-IoU fitted rectangles at 512 / 128 with a general
optimiser (scipy's Nelder-Mead over rotated rectangles inside the patch) and prints the largest
IoU it gains.

Usage: python bench/patch_cuts.py [--data ../shared/data] [--quick] [--optimiser N] [--devkit DIR]
       [--mmrotate-split FILE]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)  # run from a checkout; patches import without OpenMMLab
from samrs_mm.patches import PatchSettings, crop_patches, patch_windows  # noqa: E402
from samrs_mm.sources import build_source, load_image  # noqa: E402
from samrs_mm.structures import boxes as G  # noqa: E402
from samrs_mm.structures.record import ImageRecord, Instance  # noqa: E402

RULES = ('fit', 'original', 'clip')
IOF_THR = 0.7


# ---- images ----------------------------------------------------------------------------------
def sample_images(data: str):
    """``[(record, image)]``: DOTA P0706 and iSAID P0005 from the shared samples."""
    dota = build_source(type='dota', ann_dir=osp.join(data, 'dota/labelTxt'))[0]
    isaid = build_source(type='isaid', img_dir=osp.join(data, 'isaid/train'))[0]
    return [(dota, load_image(dota)), (isaid, load_image(isaid))]


def mosaic(name: str, width: int, height: int, tiles) -> tuple:
    """A ``width`` x ``height`` image made of ``tiles`` ``[(record, image, x, y)]`` (black
    elsewhere) with their objects moved along; object origins name their tile."""
    canvas = np.zeros((height, width, 3), np.uint8)
    instances = []
    for t, (record, image, x, y) in enumerate(tiles):
        h, w = image.shape[:2]
        canvas[y:y + h, x:x + w] = image[:height - y, :width - x]
        for inst in record.instances:
            quad = np.asarray(inst.quad, dtype=np.float64) + [x, y]
            instances.append(Instance(inst.class_name, hbox=G.quad_to_hbox(quad), class_index=inst.class_index,
                                      quad=quad, difficult=inst.difficult, origin=f'tile{t}:{inst.origin}'))
    return ImageRecord(image_path=f'{name}.png', width=width, height=height, instances=instances,
                       source='mosaic'), canvas


def mosaics(samples):
    """Two mosaics of the samples, their tiles at offsets unlike the images' own."""
    (dota, dimg), (isaid, iimg) = samples
    first = mosaic('mosaic3000x2500', 3000, 2500, [
        (dota, dimg, 0, 0), (isaid, iimg, 1141, 37), (dota, dimg, 1889, 203),
        (isaid, iimg, 301, 1219), (dota, dimg, 1213, 1318)])
    second = mosaic('mosaic2600x2300', 2600, 2300, [
        (isaid, iimg, 57, 11), (dota, dimg, 973, 101), (isaid, iimg, 1700, 1290),
        (dota, dimg, 411, 1109)])
    return [first, second]


# ---- measuring -------------------------------------------------------------------------------
def _polygon(points):
    import shapely
    poly = shapely.Polygon(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    return poly if poly.is_valid else shapely.make_valid(poly).convex_hull


def _nearest_first(quad: np.ndarray, first: np.ndarray) -> bool:
    """Whether the quad starts at its corner nearest to ``first``."""
    return int(np.argmin(np.hypot(*(np.asarray(quad) - first).T))) == 0


def measure(quad, source, window) -> dict:
    """IoU of a written quad (image frame) with the visible part of ``source`` in ``window``,
    its area / the visible area, how far it leaves the window, and whether it starts where the
    source does (its corner nearest the source's first vertex first, when that vertex is in
    the window; ``None`` otherwise)."""
    import shapely
    x1, y1, x2, y2 = window
    visible = _polygon(source).intersection(shapely.box(*window))
    written = _polygon(quad)
    inter = written.intersection(visible).area
    quad = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    outside = max(0.0, x1 - quad[:, 0].min(), quad[:, 0].max() - x2, y1 - quad[:, 1].min(), quad[:, 1].max() - y2)
    first = np.asarray(source, dtype=np.float64)[0]
    first_in = x1 <= first[0] <= x2 and y1 <= first[1] <= y2
    rbox = G.quad_to_rbox(quad)
    return dict(iou=inter / max(written.union(visible).area, 1e-12), ratio=written.area / max(visible.area, 1e-12),
                outside=outside, first=_nearest_first(quad, first) if first_in else None,
                axis_aligned=_axis_aligned(rbox[4]), source_axis_aligned=_axis_aligned(G.quad_to_rbox(source)[4]))


def _axis_aligned(theta: float) -> bool:
    return abs(np.sin(2 * theta)) < 1e-6


def cut_pairs(record: ImageRecord, size: int, gap: int):
    """``[(object index, window)]`` of the objects cut by a window and kept (iof >= 0.7)."""
    import shapely
    pairs = []
    polys = [_polygon(inst.quad) for inst in record.instances]
    for window in patch_windows(record.width, record.height, size, gap):
        box = shapely.box(*window)
        for k, poly in enumerate(polys):
            if not poly.intersects(box):
                continue
            inter = poly.intersection(box).area
            if poly.area > 0 and inter < poly.area and inter / poly.area >= IOF_THR:
                hull = G.quad_to_hbox(record.instances[k].quad)
                if not (hull[0] >= window[0] and hull[1] >= window[1] and hull[2] <= window[2]
                        and hull[3] <= window[3]):
                    pairs.append((k, tuple(int(v) for v in window)))
    return pairs


def ours(record, image, size, gap, rule):
    """``({(object index, window): written quad in the image frame}, seconds)`` for one rule."""
    index = {inst.origin: k for k, inst in enumerate(record.instances)}
    start = time.perf_counter()
    patches, _ = crop_patches(record, image, PatchSettings(patch_size=size, gap=gap, cut_rule=rule))
    seconds = time.perf_counter() - start
    out = {}
    for patch in patches:
        window = (patch.x, patch.y, patch.x + size, patch.y + size)
        for inst in patch.instances:
            out[(index[inst.origin], window)] = inst.quad + [patch.x, patch.y]
    return out, seconds


# ---- the DOTA devkit's way, re-implemented ---------------------------------------------------
def _devkit_poly4(points):
    """Five corners to four the devkit's way: the shortest edge (the closing edge last in the
    comparison) becomes its midpoint."""
    pts = [tuple(p) for p in points]
    lengths = [np.hypot(pts[i + 1][0] - pts[i][0], pts[i + 1][1] - pts[i][1]) for i in range(4)]
    lengths.append(np.hypot(pts[4][0] - pts[0][0], pts[4][1] - pts[0][1]))
    shortest = int(np.argsort(lengths, kind='stable')[0])
    out = []
    for i in range(5):
        if i == shortest:
            nxt = pts[(i + 1) % 5]
            out.append(((pts[i][0] + nxt[0]) / 2, (pts[i][1] + nxt[1]) / 2))
        elif i != (shortest + 1) % 5:
            out.append(pts[i])
    return out


def devkit_cut(source, left, up, size, width, height, thresh=IOF_THR):
    """What the devkit's ``ImgSplit`` writes for one object in the window at (left, up):
    ``(coords [8] in the patch frame, difficult override or None)``, or None when it writes
    nothing. Its behaviour: label coordinates truncated to integers; the window polygon ends at
    ``min(left + size, width - 1)``; an object wholly inside is written as is; a cut one as its
    visible polygon when it has 4 corners, with the shortest edge merged when it has 5, not at
    all with more (or fewer than 4); the corners turned to best match the source's; coordinates
    truncated to integers and clamped to [1, size]; difficulty 2 when iof <= thresh."""
    import shapely
    poly = np.trunc(np.asarray(source, dtype=np.float64).reshape(4, 2))
    gt = shapely.Polygon(poly)
    if gt.area <= 0:
        return None
    window = shapely.box(left, up, min(left + size, width - 1), min(up + size, height - 1))
    inter = gt.intersection(window)
    iof = inter.area / gt.area
    offset = np.array([left, up], dtype=np.float64)
    if iof == 1:
        return np.trunc(poly - offset).ravel(), None
    if iof <= 0 or inter.geom_type != 'Polygon':
        return None
    pts = list(shapely.geometry.polygon.orient(inter, sign=1).exterior.coords)[:-1]
    if len(pts) < 4 or len(pts) > 5:
        return None
    if len(pts) == 5:
        pts = _devkit_poly4(pts)
    pts = np.asarray(pts, dtype=np.float64)
    turns = [np.roll(pts, -k, axis=0) for k in range(4)]
    pts = turns[int(np.argmin([((t - poly) ** 2).sum() for t in turns]))]
    coords = np.trunc(pts - offset).ravel()
    coords = np.where(coords <= 1, 1, np.where(coords >= size, size, coords))
    return coords, (None if iof > thresh else 2)


def devkit_label_lines(record, left, up, size):
    """The devkit's label file of one window, line for line (its number formatting)."""
    lines = []
    for inst in record.instances:
        out = devkit_cut(inst.quad, left, up, size, record.width, record.height)
        if out is None:
            continue
        coords, diff = out
        name = inst.class_name.replace(' ', '-')
        lines.append(' '.join(str(float(v)) for v in coords) + f' {name} '
                     + str(int(inst.difficult) if diff is None else diff))
    return lines


# ---- the fitted rectangle against a general optimiser -----------------------------------------
def optimiser_gap(source, window, written, starts=8):
    """How much IoU a general optimiser (Nelder-Mead over rotated rectangles, corners outside
    the window penalised, ``starts`` perturbed starts from the written one) gains over the
    written rectangle; only rectangles wholly inside the window count."""
    import shapely
    from scipy.optimize import minimize
    visible = _polygon(source).intersection(shapely.box(*window))
    x1, y1, x2, y2 = window

    def loss(rbox):
        if rbox[2] <= 0 or rbox[3] <= 0:
            return 1.0
        quad = G.rbox_to_quad(rbox)
        out = (np.maximum(0, x1 - quad[:, 0]) + np.maximum(0, quad[:, 0] - x2) +
               np.maximum(0, y1 - quad[:, 1]) + np.maximum(0, quad[:, 1] - y2)).sum()
        rect = shapely.Polygon(quad)
        return -rect.intersection(visible).area / rect.union(visible).area + 10 * out

    base = measure(written, source, window)['iou']
    best = base
    start = G.quad_to_rbox(written)
    for k in range(starts):
        x0 = start + np.random.default_rng(k).normal(0, [1, 1, 1, 1, 0.03]) * (k > 0)
        res = minimize(loss, x0, method='Nelder-Mead', options=dict(maxiter=3000, xatol=1e-5, fatol=1e-9))
        quad = G.rbox_to_quad(res.x)
        if (quad[:, 0].min() >= x1 - 1e-6 and quad[:, 0].max() <= x2 + 1e-6 and quad[:, 1].min() >= y1 - 1e-6
                and quad[:, 1].max() <= y2 + 1e-6):
            best = max(best, -res.fun)
    return best - base


def run_optimiser_check(images, size, gap, count):
    """Print the optimiser's largest gain on the ``count`` lowest-IoU fitted rectangles."""
    import shapely
    cases = []
    for record, image in images:
        written, _ = ours(record, image, size, gap, 'fit')
        for k, window in cut_pairs(record, size, gap):
            source = record.instances[k].quad
            visible = _polygon(source).intersection(shapely.box(*window))
            if len(shapely.get_coordinates(visible)) != 5:  # a fitted rectangle, not the visible part
                cases.append((measure(written[(k, window)], source, window)['iou'], source, window,
                              written[(k, window)]))
    cases.sort(key=lambda c: c[0])
    gains = [optimiser_gap(source, window, quad) for _, source, window, quad in cases[:count]]
    print(f'fit at {size} / {gap} against a general optimiser (Nelder-Mead over rotated rectangles inside the patch, '
          f'8 starts) on the {len(gains)} lowest-IoU fitted rectangles (IoU {cases[0][0]:.3f} to '
          f'{cases[len(gains) - 1][0]:.3f}): largest IoU gain {max(gains):.4f}, median {np.median(gains):.4f}')


# ---- the table -------------------------------------------------------------------------------
def summarise(rows):
    """One table row from per-object measures."""
    iou = np.array([r['iou'] for r in rows])
    ratio = np.array([r['ratio'] for r in rows])
    firsts = [r['first'] for r in rows if r['first'] is not None]
    rotated_aa = sum(r['axis_aligned'] and not r['source_axis_aligned'] for r in rows)
    return (f'{len(rows)} | {np.median(iou):.3f} | {np.percentile(iou, 10):.3f} | {iou.min():.3f} | '
            f'{np.mean(iou >= 0.9):.0%} | {np.mean(iou < 0.5):.0%} | {np.median(ratio):.2f} | {ratio.max():.2f} | '
            f'{max(r["outside"] for r in rows):.1f} | {rotated_aa} | {sum(firsts)}/{len(firsts)}')


def run_table(images, settings):
    """Measure every image at every (size, gap); print the table."""
    print('| size / gap | rule | cut objects | median IoU | p10 | min | IoU >= 0.9 | IoU < 0.5 | median area '
          'ratio | max area ratio | max px outside | axis-aligned (rotated source) | starts at source\'s first '
          'vertex |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for size, gap in settings:
        measures = defaultdict(list)
        dropped = 0
        seconds = defaultdict(float)
        for record, image in images:
            pairs = cut_pairs(record, size, gap)
            for rule in RULES:
                written, secs = ours(record, image, size, gap, rule)
                seconds[rule] += secs
                for k, window in pairs:
                    measures[rule].append(measure(written[(k, window)], record.instances[k].quad, window))
            for k, window in pairs:
                out = devkit_cut(record.instances[k].quad, window[0], window[1], size, record.width, record.height)
                if out is None:
                    dropped += 1
                    continue
                quad = out[0].reshape(4, 2) + window[:2]
                measures['devkit'].append(measure(quad, record.instances[k].quad, window))
        for rule in RULES + ('devkit',):
            note = f' ({dropped} not written)' if rule == 'devkit' and dropped else ''
            print(f'| {size} / {gap} | {rule}{note} | {summarise(measures[rule])} |')
        print(f'|  | crop time, all images: fit {seconds["fit"]:.2f} s, original {seconds["original"]:.2f} s, '
              f'clip {seconds["clip"]:.2f} s (fit / clip = {seconds["fit"] / seconds["clip"]:.2f}) |')


# ---- cross-checks with the real tools ----------------------------------------------------------
def _write_dota(root, record, image):
    """The record as a DOTA image + label file (header lines as DOTA has them)."""
    import cv2
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
    cv2.imwrite(osp.join(root, 'images', record.stem + '.png'), image[..., ::-1])
    with open(osp.join(root, 'labelTxt', record.stem + '.txt'), 'w') as f:
        f.write('imagesource:GoogleEarth\ngsd:null\n')
        for inst in record.instances:
            coords = ' '.join(f'{v:.3f}' for v in np.asarray(inst.quad).ravel())
            f.write(f'{coords} {inst.class_name.replace(" ", "-")} {int(inst.difficult)}\n')


def _reread(root, images):
    """Records as the DOTA reader reads the written folder (coordinates to 1/1000 px, as written)."""
    classes = sorted({inst.class_name.replace(' ', '-') for record, _ in images for inst in record.instances})
    source = build_source(type='dota', ann_dir=osp.join(root, 'labelTxt'), class_list=classes)
    return [(rec, load_image(rec)) for rec in source]


def check_devkit(devkit_dir, images, settings, work):
    """Run the devkit's ImgSplit on the images; compare its label files with devkit_cut's."""
    root = osp.join(work, 'devkit_in')
    for record, image in images:
        _write_dota(root, record, image)
    sys.path.insert(0, devkit_dir)
    import ImgSplit  # noqa: E402  (the devkit's module, from its checkout)
    for size, gap in settings:
        out = osp.join(work, f'devkit_{size}_{gap}')
        ImgSplit.splitbase(root, out, gap=gap, subsize=size, thresh=IOF_THR).splitdata(1)
        same = total = files = 0
        for record, _ in _reread(root, images):
            for x1, y1, *_ in patch_windows(record.width, record.height, size, gap):
                with open(osp.join(out, 'labelTxt', f'{record.stem}__1__{x1}___{y1}.txt')) as f:
                    theirs = f.read().splitlines()
                mine = devkit_label_lines(record, int(x1), int(y1), size)
                files += 1
                total += max(len(theirs), len(mine))
                same += sum(a == b for a, b in zip(theirs, mine))
        print(f'devkit ImgSplit {size} / {gap}: {files} label files, {same} of {total} lines identical to the '
              're-implementation')


def check_mmrotate(script, images, work):
    """Run mmrotate's img_split.py; compare names, pixels and lines with ours (cut_rule='original')."""
    import cv2
    root = osp.join(work, 'mmrotate_in')
    for record, image in images:
        _write_dota(root, record, image)
    records = _reread(root, images)
    cases = [('single scale 1024 / 200', dict(sizes=[1024], gaps=[200], rates=[1.0])),
             ('single scale 512 / 128', dict(sizes=[512], gaps=[128], rates=[1.0])),
             ('multi-scale 1024 / 500, rates 0.5 1.0 1.5', dict(sizes=[1024], gaps=[500], rates=[0.5, 1.0, 1.5]))]
    for title, case in cases:
        out = osp.join(work, 'mmrotate_' + '_'.join(map(str, case['sizes'] + case['gaps'] + case['rates'])))
        cmd = [sys.executable, script, '--img-dirs', osp.join(root, 'images'), '--ann-dirs', osp.join(root, 'labelTxt'),
               '--sizes', *map(str, case['sizes']), '--gaps', *map(str, case['gaps']), '--rates',
               *map(str, case['rates']), '--padding-value', '104', '116', '124', '--nproc', '1', '--save-dir', out]
        subprocess.run(cmd, check=True, capture_output=True)
        settings = PatchSettings(patch_size=case['sizes'][0], gap=case['gaps'][0], rates=case['rates'],
                                 rate_mode='window', cut_rule='original', pad_value=(124, 116, 104), keep_empty=True)
        names = same_pixels = lines = same_lines = whole_marked = 0
        theirs_names = {n[:-4] for n in os.listdir(osp.join(out, 'images'))}
        ours_names = set()
        for record, image in records:
            patches, _ = crop_patches(record, image, settings)
            for patch in patches:
                ours_names.add(patch.name)
                if patch.name not in theirs_names:
                    continue
                names += 1
                theirs = cv2.imread(osp.join(out, 'images', patch.name + '.png'))[..., ::-1]
                same_pixels += theirs.shape == patch.image.shape and bool((theirs == patch.image).all())
                with open(osp.join(out, 'annfiles', patch.name + '.txt')) as f:
                    their_lines = [line.split() for line in f.read().splitlines()]
                lines += max(len(their_lines), len(patch.instances))
                size = patch.image.shape[0]
                for line, inst, trunc in zip(their_lines, patch.instances, patch.truncated):
                    if not np.allclose([float(v) for v in line[:8]], inst.quad.ravel(), atol=1e-3):
                        continue
                    if int(line[9]) == (2 if trunc else int(inst.difficult)):
                        same_lines += 1
                    elif inst.quad.min() >= 0 and inst.quad.max() <= size and int(line[9]) == 2:
                        whole_marked += 1
        print(f'mmrotate img_split, {title}: {len(theirs_names)} patches theirs, {len(ours_names)} ours, {names} '
              f'names shared, {same_pixels} identical in pixels (padding 104 116 124); label lines: {same_lines} of '
              f'{lines} identical (coordinates to 1/1000 px, difficulty), {whole_marked} differ only by their '
              'difficulty 2 for an object wholly inside the patch (mmrotate\'s iof in float32 falls short of 1)')


def main(argv=None):
    """Print the table (and the cross-checks asked for)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=osp.join(REPO_ROOT, '..', 'shared', 'data'))
    parser.add_argument('--quick', action='store_true', help='the two samples at 512 / 128 only, no mosaics')
    parser.add_argument('--optimiser', type=int, default=0, metavar='N',
                        help='also compare the N lowest-IoU fitted rectangles at 512 / 128 with a general optimiser')
    parser.add_argument('--devkit', help='a checkout of the DOTA devkit (CAPTAIN-WHU/DOTA_devkit)')
    parser.add_argument('--mmrotate-split', help="mmrotate 1.x's tools/data/dota/split/img_split.py")
    args = parser.parse_args(argv)
    samples = sample_images(args.data)
    images = samples if args.quick else samples + mosaics(samples)
    settings = [(512, 128)] if args.quick else [(1024, 200), (512, 128)]
    print('images: ' + ', '.join(f'{r.stem} ({r.width}x{r.height}, {len(r.instances)} objects)' for r, _ in images))
    run_table(images, settings)
    if args.optimiser:
        run_optimiser_check(images, 512, 128, args.optimiser)
    if args.devkit or args.mmrotate_split:
        with tempfile.TemporaryDirectory() as work:
            if args.devkit:
                check_devkit(args.devkit, images, settings, work)
            if args.mmrotate_split:
                check_mmrotate(args.mmrotate_split, images, work)


if __name__ == '__main__':
    main()
