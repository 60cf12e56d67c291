"""Peak memory and throughput of the scene tools on synthetic scenes of two sizes, side by side.

For each side length (default 5,000 and 10,000 pixels) a tiled, deflate-compressed uint8 RGB
GeoTIFF (UTM, 0.5 m) with objects on a 250-pixel grid and their boxes as a GeoPackage in WGS84
are generated (tests/scenes/scene_data.py), then, each in a fresh process:

* ``tools/annotate_scene.py`` with the ``box`` backend (every stage of the tool without a
  model: window reads, records, the semantic COG painted tile by tile, instances.gpkg, COCO
  json, quicklook), 1024 windows / gap 200;
* ``tools/infer_scene.py`` with a small random-weight segmentor (ResNetV1c-18 at 8 channels,
  FCN head, 18 classes like SEP's SOTA head), mmseg slide windows 512 / stride 341, batch 4.

Peak RSS is the process's ``ru_maxrss``. Throughput (scene megapixels per wall second of the
process, imports included) is compared with the same windows run as a plain in-memory batch on
the smaller scene: the scene read whole with ``load_image``, windows sliced from it, the same
engine / model calls, and the whole-scene result held in memory (annotate: ``compose_semantic``
of every mask; infer: mmseg's full-size logit sum, as ``slide_inference`` keeps it), written as
one GeoTIFF. The larger scene's in-memory baseline is left out (the infer baseline alone would
need 7.2 GB for its logit sum).

    python bench/scene_memory.py [--sizes 5000 10000] [--work DIR] [--keep]
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

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

# Runs a script and reports its peak RSS (kB) on stderr when it exits.
WRAPPER = ("import atexit, resource, runpy, sys; "
           "atexit.register(lambda: print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
           "file=sys.stderr)); sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _env():
    return dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1',
                PYTHONHASHSEED='0')


def measure(args):
    """``(wall seconds, peak RSS MB)`` of ``python args...`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, '-c', WRAPPER] + list(args), cwd=REPO, env=_env(), capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(args)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    kb = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith('MAXRSS_KB')][-1]
    return seconds, kb / 1024.0


def make_inputs(work, size):
    """The scene, its boxes, the annotate config, the segmentor config and checkpoint."""
    from tests.scenes.scene_data import grid_objects, write_boxes, write_scene
    from tests.scenes.scene_models import build_and_save, segmentor_config
    scene = osp.join(work, f'scene{size}.tif')
    boxes = osp.join(work, f'boxes{size}.gpkg')
    if not osp.isfile(scene):
        objects = grid_objects(size, size, step=250)
        write_scene(scene, size, size, objects, block=512)
        write_boxes(boxes, objects)
    config = osp.join(work, 'box.py')
    with open(config, 'w') as f:
        f.write("engine = dict(backend='box', prompt='hbox')\nrunner = dict(progress=False)\n"
                "scene = dict(class_list='sota', window_size=1024, gap=200)\n")
    seg = osp.join(work, 'seg.py')
    checkpoint = osp.join(work, 'seg.pth')
    if not osp.isfile(checkpoint):
        segmentor_config(seg, num_classes=18, crop=(512, 512), stride=(341, 341))
        build_and_save(seg, checkpoint)
    return scene, boxes, config, seg, checkpoint


def baseline_annotate(scene, boxes, config, out):
    """The same windows and engine calls on the scene held whole; compose_semantic of every mask."""
    import numpy as np
    import rasterio
    from mmengine.config import Config

    from samrs_mm.annotate.engine import build_engine
    from samrs_mm.annotate.engine.backend import AnnotateRequest, ObjectMask
    from samrs_mm.annotate.outputs import compose_semantic
    from samrs_mm.scenes.boxes import read_boxes
    from samrs_mm.scenes.masks import from_window_mask, place_rle
    from samrs_mm.scenes.planning import plan_label_windows
    from samrs_mm.scenes.raster import SceneRaster
    from samrs_mm.sources.image_io import load_image
    from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
    cfg = Config.fromfile(config)
    classes = SAMRS_CLASS_LISTS['sota']
    image = load_image(scene)
    with SceneRaster(scene) as raster:
        found = read_boxes(boxes, raster, classes)
        profile = dict(raster.dataset.profile, count=1, dtype='uint8', nodata=255, compress='deflate')
    objects = {o.box_id: o for o in found.objects}
    engine = build_engine(dict(cfg.engine))
    height, width = image.shape[:2]
    masks, labels = [], []
    for lw in plan_label_windows(found.objects, width, height, 1024, 200, 32):
        win = lw.window
        crop = np.ascontiguousarray(image[win.y:win.y + win.height, win.x:win.x + win.width])
        request = AnnotateRequest(crop, [objects[i].instance(win.x, win.y) for i in lw.box_ids], 'scene')
        for box_id, mask in zip(lw.box_ids, next(iter(engine.annotate_many([request])))):
            scene_mask = from_window_mask(mask, win)
            masks.append(ObjectMask(box_id, place_rle(scene_mask, height, width), mask.score, scene_mask.area,
                                    scene_mask.bbox, mask.prompt))
            labels.append(objects[box_id].class_index)
    label = compose_semantic(masks, labels, height, width)
    with rasterio.open(osp.join(out, 'semantic.tif'), 'w', **profile) as dst:
        dst.write(label[None])


def baseline_infer(scene, config, checkpoint, out):
    """The same windows and model calls on the scene held whole; mmseg's full-size logit sum."""
    import numpy as np
    import rasterio
    import torch
    from mmengine.config import Config

    from samrs_mm.scenes.models import SceneModel
    from samrs_mm.scenes.planning import SlideGrid
    from samrs_mm.sources.image_io import load_image
    model = SceneModel(Config.fromfile(config), checkpoint, device='cpu')
    image = load_image(scene)
    height, width = image.shape[:2]
    grid = SlideGrid(height, width, (512, 512), (341, 341))
    windows = [w for k in range(grid.num_strips) for w in grid.windows(k)]
    preds = None
    for start in range(0, len(windows), 4):
        batch = windows[start:start + 4]
        logits = model.semantic_logits([image[w.y:w.y + w.height, w.x:w.x + w.width] for w in batch])
        if preds is None:
            preds = torch.zeros((logits.shape[1], height, width))
        for w, value in zip(batch, logits):
            preds[:, w.y:w.y + w.height, w.x:w.x + w.width] += value
    count = torch.from_numpy(np.outer(grid.row_cover, grid.col_cover).astype(np.float32))
    label = model.decide(preds / count).numpy()
    with rasterio.open(scene) as src:
        profile = dict(src.profile, count=1, dtype='uint8', nodata=255, compress='deflate')
    with rasterio.open(osp.join(out, 'semantic.tif'), 'w', **profile) as dst:
        dst.write(label[None])


def main():
    """Generate the scenes, run the tools and the baselines, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[5000, 10000])
    parser.add_argument('--work', help='folder for the scenes and outputs (default: a temporary one)')
    parser.add_argument('--keep', action='store_true', help='keep the work folder')
    parser.add_argument('--baseline', nargs='+', help=argparse.SUPPRESS)  # internal: one baseline run
    args = parser.parse_args()
    if args.baseline:
        kind, *rest = args.baseline
        (baseline_annotate if kind == 'annotate' else baseline_infer)(*rest)
        return
    work = args.work or tempfile.mkdtemp(prefix='scene_memory_')
    os.makedirs(work, exist_ok=True)
    rows = []
    try:
        for size in args.sizes:
            scene, boxes, config, seg, checkpoint = make_inputs(work, size)
            megapixels = size * size / 1e6
            runs = {}
            out = osp.join(work, f'annotate{size}')
            shutil.rmtree(out, ignore_errors=True)
            runs['annotate_scene'] = measure(['tools/annotate_scene.py', config, '--image', scene, '--boxes', boxes,
                                              '--out-dir', out, '--no-progress'])
            out = osp.join(work, f'infer{size}')
            shutil.rmtree(out, ignore_errors=True)
            runs['infer_scene'] = measure(['tools/infer_scene.py', seg, checkpoint, scene, '--out-dir', out,
                                           '--no-progress', '--cfg-options', 'scene.batch_size=4',
                                           'scene.crop_size=512', 'scene.stride=341'])
            if size == min(args.sizes):
                for kind, extra in (('annotate', [scene, boxes, config]), ('infer', [scene, seg, checkpoint])):
                    out = osp.join(work, f'baseline_{kind}{size}')
                    os.makedirs(out, exist_ok=True)
                    runs[f'{kind} in memory'] = measure([osp.abspath(__file__), '--baseline', kind] + extra + [out])
            for name, (seconds, rss) in runs.items():
                rows.append(dict(size=size, run=name, seconds=round(seconds, 1), rss_mb=round(rss),
                                 mp_per_s=round(megapixels / seconds, 3)))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report(rows, args.sizes)


def report(rows, sizes):
    """The Markdown tables of docs/benchmarks.md."""
    with open('/proc/loadavg') as f:
        load = f.read().split()[:3]
    print(f'\nload average at the end: {" ".join(load)} ({os.cpu_count()} CPUs)')
    print('\n| scene | run | wall s | peak RSS MB | MP / s |\n|---|---|---:|---:|---:|')
    for r in rows:
        print(f"| {r['size']}^2 | {r['run']} | {r['seconds']} | {r['rss_mb']} | {r['mp_per_s']} |")
    small, large = min(sizes), max(sizes)
    by = {(r['size'], r['run']): r for r in rows}
    print('\n| tool | peak RSS ' + f'{large}^2 / {small}^2 | MP/s streamed / in memory ({small}^2) |\n|---|---:|---:|')
    for tool, kind in (('annotate_scene', 'annotate in memory'), ('infer_scene', 'infer in memory')):
        ratio = by[(large, tool)]['rss_mb'] / by[(small, tool)]['rss_mb'] if large != small else 1.0
        speed = by[(small, tool)]['mp_per_s'] / by[(small, kind)]['mp_per_s']
        print(f'| {tool} | {ratio:.2f}x | {speed:.2f}x |')


if __name__ == '__main__':
    main()
