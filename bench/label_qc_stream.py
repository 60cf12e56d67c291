"""Label QC streams: peak memory and throughput of one QC pass over N and 4N images, side by side.

Synthesises the annotate output of ``4N`` small images (default 256 x 256, 12 objects each:
rotated rectangles with their prompt boxes, about 1 in 10 given a defect: a leak, a sliver or a
shattered mask) with the annotate tool's own writer, in a temporary folder, without quality
fields (so QC computes every geometric signal, the more expensive path). A second work dir
holds the first N images (links). Then, each in a fresh process, ``run_label_qc`` with every
page (histograms, gallery of the 48 worst, HTML) and the overlap report of all rules; with
``--apply``, the filtered copy too.

Peak RSS is the process's ``ru_maxrss``; flat memory means the 4N pass peaks where the N pass
does. Throughput is images (and objects) per wall second of the streamed part of the pass (reading,
signals, flags, CSV, overlap report, gallery thumbnails; imports and the final pages apart).

    python bench/label_qc_stream.py [--images 1000] [--size 256] [--apply] [--work DIR] [--keep]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

PASS = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
import samrs_mm  # noqa: F401  (imports counted out of the pass)
from samrs_mm.qc import run_label_qc
start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
summary = run_label_qc({work!r}, {out!r}, apply={apply!r}, apply_dir={apply_dir!r}, progress=False)
seconds = time.perf_counter() - t
print(json.dumps(dict(seconds=seconds, images=summary['images'], objects=summary['objects'],
                      flagged=summary['flagged'], import_rss_kb=start_rss, stream=summary['seconds']['stream'],
                      pages=summary['seconds']['pages'],
                      peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
"""


def synthesise(work_dir: str, images: int, size: int, objects: int = 12, seed: int = 0) -> None:
    """Write ``images`` annotate outputs (no quality fields) under ``work_dir``."""
    import cv2
    from PIL import Image

    from samrs_mm.annotate.outputs import LabelWriter, merge_annotations
    from samrs_mm.structures import boxes as G
    from samrs_mm.structures.classes import SOTA_CLASSES
    from samrs_mm.structures.record import ImageRecord, Instance
    from samrs_mm.structures.rle import encode_window
    rng = np.random.default_rng(seed)
    os.makedirs(work_dir, exist_ok=True)
    image_path = osp.join(work_dir, 'scene.png')  # one shared RGB for the gallery crops
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(image_path)
    writer = LabelWriter(work_dir, SOTA_CLASSES, color=False)
    stems = []
    for n in range(images):
        instances, masks = [], []
        for k in range(objects):
            w, h = rng.uniform(8, 40), rng.uniform(5, 20)
            cx, cy = rng.uniform(w, size - w), rng.uniform(w, size - w)
            rbox = G.normalize_angle_le90(np.array([cx, cy, w, h, rng.uniform(-np.pi / 2, np.pi / 2)]))
            quad = G.rbox_to_quad(rbox)
            hbox = G.quad_to_hbox(quad)
            mask = np.zeros((size, size), dtype=np.uint8)
            cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
            defect = rng.integers(0, 30)
            if defect == 0:    # leak
                mask = cv2.dilate(mask, np.ones((15, 15), np.uint8))
            elif defect == 1:  # sliver
                mask[:int(cy)] = 0
                mask[int(cy) + 1:] = 0
            elif defect == 2:  # shattered
                mask[::3] = 0
                mask[:, ::3] = 0
            rle, area, bbox = encode_window(mask.astype(bool), 0, 0, size, size)
            cls = int(rng.integers(0, len(SOTA_CLASSES)))
            instances.append(Instance(class_name=SOTA_CLASSES[cls], class_index=cls, hbox=hbox, rbox=rbox, quad=quad))
            masks.append(type('M', (), dict(rle=rle, area=area, bbox=bbox, score=float(rng.uniform(0.6, 1.0)),
                                            prompt='hbox'))())
        stem = f'img{n:06d}'
        record = ImageRecord(image_path=osp.join(work_dir, stem + '.png'), width=size, height=size,
                             instances=instances, source='synthetic')
        writer.write(record, masks, fingerprint='bench')
        # Every record points at the one shared image (its own path would not exist).
        path = writer.instances_path(stem)
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        data['image']['path'] = image_path
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(data, f)
        stems.append(stem)
    merge_annotations(work_dir, stems, SOTA_CLASSES, osp.join(work_dir, 'annotations.json'))
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(classes=list(SOTA_CLASSES), writer=dict(overlap='small_on_top')), f)


def subset_links(src: str, dst: str, images: int) -> None:
    """A work dir holding the first ``images`` images of ``src`` as links."""
    for sub in ('instances', 'semantic'):
        os.makedirs(osp.join(dst, sub), exist_ok=True)
        for name in sorted(os.listdir(osp.join(src, sub)))[:images]:
            os.symlink(osp.join(src, sub, name), osp.join(dst, sub, name))
    shutil.copyfile(osp.join(src, 'summary.json'), osp.join(dst, 'summary.json'))


def run_pass(work: str, apply: bool) -> dict:
    """One QC pass in a fresh process; its figures."""
    out = osp.join(work, 'qc')
    code = PASS.format(repo=REPO, work=work, out=out, apply=apply, apply_dir=(work + '_qc') if apply else None)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=1000, help='N (the second pass reads 4N)')
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--apply', action='store_true', help='also write the filtered copy')
    parser.add_argument('--work', help='folder for the synthetic outputs (default: a temporary one)')
    parser.add_argument('--keep', action='store_true', help='keep the synthetic outputs')
    args = parser.parse_args()
    root = args.work or tempfile.mkdtemp(prefix='label_qc_bench_')
    big, small = osp.join(root, f'n{4 * args.images}'), osp.join(root, f'n{args.images}')
    try:
        t = time.perf_counter()
        synthesise(big, 4 * args.images, args.size)
        subset_links(big, small, args.images)
        print(f'synthesised {4 * args.images} images of {args.size} x {args.size} (12 objects each) in '
              f'{time.perf_counter() - t:.0f} s; QC passes in fresh processes, every page, overlap report of all '
              f'rules{", --apply" if args.apply else ""}:\n')
        rows = [(n, run_pass(w, args.apply)) for n, w in ((args.images, small), (4 * args.images, big))]
        print('| images | objects | flagged | pass s | streamed part s | pages s | images/s (streamed) | '
              'objects/s (streamed) | RSS after imports MiB | peak RSS MiB | peak - imports MiB |')
        print('|---|---|---|---|---|---|---|---|---|---|---|')
        for n, r in rows:
            print(f'| {n} | {r["objects"]} | {r["flagged"]} | {r["seconds"]:.1f} | {r["stream"]:.1f} | '
                  f'{r["pages"]:.1f} | {n / r["stream"]:.0f} | {r["objects"] / r["stream"]:.0f} | '
                  f'{r["import_rss_kb"] / 1024:.0f} | '
                  f'{r["peak_rss_kb"] / 1024:.0f} | {(r["peak_rss_kb"] - r["import_rss_kb"]) / 1024:.0f} |')
        (_, a), (_, b) = rows
        print(f'\npeak RSS ratio 4N / N: {b["peak_rss_kb"] / a["peak_rss_kb"]:.3f} '
              f'(growth over imports: {(b["peak_rss_kb"] - b["import_rss_kb"]) / 1024:.0f} vs '
              f'{(a["peak_rss_kb"] - a["import_rss_kb"]) / 1024:.0f} MiB); streamed throughput ratio 4N / N: '
              f'{(4 * args.images / b["stream"]) / (args.images / a["stream"]):.2f}')
        print(f'load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}')
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
