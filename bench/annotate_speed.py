"""Per-image time and peak memory of SAM labelling, four ways, side by side in one run.

On one real image (default ``../shared/data/dota/images/P0706.png`` with its 531 + 5 DOTA
objects, H-Box prompts) and one SAM (default: the full-size ViT-B architecture with random
weights; compute does not depend on the weights):

(a) the per-object loop: ``SamPredictor.set_image`` then ``predict(box=...)`` per object,
    each mask encoded to COCO RLE;
(b) the SAMRS scripts' way: one ``set_image``, ``predict_torch`` on chunks of 20 boxes,
    full-resolution boolean masks, each encoded to COCO RLE;
(c) ours: ``samrs_mm.annotate`` engine (``prompt_batch_size='auto'``: the batch-size
    measurement on this image is included in its time);
(m) the model floor: the image encoder once plus ``prompt_encoder`` + ``mask_decoder`` over
    all prompts at the stock decoder's best batch size (found by a sweep that is not
    timed), without any post-processing;
(x) optional (``--methods ...,x``): the engine with its other mask path (per-object masks
    where (c) batches them, as on a GPU, and batched where (c) goes object by object, as
    on CPU), and whether the two give identical masks.

Every method runs with the engine's TF32 setting (``allow_tf32``: off unless
``--allow-tf32``) and dtype, so all of them do the same arithmetic.

Prints a table and the ratios (c)/(m), (b)/(c), (a)/(c), and checks that (c)'s masks equal
(b)'s (floating-point ties at the 0 threshold allowed, counted). Memory is the process's
peak resident set during each method (CPU; also its growth over the resident set at the
start of the method: weights, libraries and the image are already there) or the peak CUDA
allocation (GPU). ``--repeat N`` runs the four methods N times, interleaved, and keeps the
fastest run of each (for machines shared with other work).

Runs without mmcv / mmseg: the labelling engine imports without OpenMMLab.
``--quick`` uses the small random test SAM and 48 objects (a CPU smoke run).

Usage: python bench/annotate_speed.py [--device cpu|cuda] [--dtype float32|bfloat16] [--quick]
       [--methods a,b,c,x,m] [--allow-tf32] [--masks auto|batched|per-object]
"""
from __future__ import annotations

import argparse
import gc
import os
import os.path as osp
import sys
import threading
import time

import numpy as np
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)  # run from a checkout; the engine imports without OpenMMLab
from samrs_mm.annotate import engine as engine_mod  # noqa: E402
from samrs_mm.annotate import precision, sam_models  # noqa: E402
from samrs_mm.sources.image_io import load_image  # noqa: E402

DEFAULT_DATA = osp.normpath(osp.join(REPO_ROOT, '..', 'shared', 'data'))


# --------------------------------------------------------------------------- input
def read_dota_boxes(path):
    """Horizontal boxes ``(N, 4)`` of a DOTA labelTxt file (true hull of each quadrilateral)."""
    boxes = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 9:
                continue  # header lines (imagesource:, gsd:)
            quad = np.array(parts[:8], dtype=np.float64).reshape(4, 2)
            boxes.append(np.concatenate([quad.min(0), quad.max(0)]))
    return np.array(boxes)


def load_input(args):
    """Image ``H x W x 3`` uint8 RGB, boxes ``(N, 4)`` and a description of the input."""
    image_path = args.image or osp.join(args.data, 'dota', 'images', 'P0706.png')
    label_path = args.labels or osp.join(args.data, 'dota', 'labelTxt', 'P0706.txt')
    if osp.isfile(image_path) and osp.isfile(label_path):
        image = load_image(image_path)
        boxes = read_dota_boxes(label_path)
        desc = f'{osp.basename(image_path)} ({image.shape[1]}x{image.shape[0]}, {len(boxes)} objects)'
    else:
        # Same size and object count as P0706, so compute is the same; said loudly in the table.
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (1182, 1111, 3), dtype=np.uint8)
        xy = rng.uniform(0, 1050, (536, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(8, 60, (536, 2))], axis=1)
        desc = f'SYNTHETIC 1111x1182 image, 536 random boxes ({image_path} not found)'
    if args.max_objects:
        boxes = boxes[:args.max_objects]
        desc += f', first {len(boxes)} used'
    return image, boxes, desc


# --------------------------------------------------------------------------- memory
class PeakMemory:
    """Peak memory of a block: resident set (CPU) or CUDA allocations (GPU), in MiB."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.peak_mb = float('nan')

    @staticmethod
    def _rss_mb():
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._rss_mb())
            time.sleep(0.002)

    def __enter__(self):
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        self._peak = self.start_mb = self._rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss_mb())
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2 ** 20
        else:
            self.peak_mb = self._peak
        self.host_peak_mb = self._peak


# --------------------------------------------------------------------------- methods
def sync(device):
    """Wait for the device so wall times include its work."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def encode_full(mask):
    """COCO RLE of a full-resolution boolean mask, as the SAMRS scripts write it."""
    from samrs_mm.structures.rle import encode
    return encode(mask)


def method_a(sam, image, boxes, device, context):
    """Per-object SamPredictor.predict loop."""
    from segment_anything import SamPredictor
    predictor = SamPredictor(sam)
    out = []
    with torch.no_grad(), context():
        predictor.set_image(image)
        for box in boxes:
            masks, _, _ = predictor.predict(box=box, multimask_output=False)
            out.append(encode_full(masks[0]))
    sync(device)
    return out


def method_b(sam, image, boxes, device, context, chunk=20):
    """The SAMRS scripts: set_image, predict_torch in chunks of 20, full-resolution masks."""
    from segment_anything import SamPredictor
    predictor = SamPredictor(sam)
    out = []
    with torch.no_grad(), context():
        predictor.set_image(image)
        all_boxes = torch.as_tensor(boxes, dtype=torch.float, device=device)
        for start in range(0, len(boxes), chunk):
            tb = predictor.transform.apply_boxes_torch(all_boxes[start:start + chunk], image.shape[:2])
            masks, _, _ = predictor.predict_torch(point_coords=None, point_labels=None, boxes=tb,
                                                  multimask_output=False)
            masks = masks[:, 0].cpu().numpy()
            for m in masks:
                out.append(encode_full(m))
    sync(device)
    return out


def method_c(engine, image, instances):
    """Our engine."""
    out = engine.annotate(image, instances, source='dota', name='bench')
    sync(engine.cfg['device'])
    return [m.rle for m in out]


def stock_decode(sam, predictor, boxes_t, size):
    """prompt_encoder + mask_decoder over all boxes at batch ``size``, nothing else."""
    pe = sam.prompt_encoder.get_dense_pe()
    for start in range(0, len(boxes_t), size):
        sparse, dense = sam.prompt_encoder(points=None, boxes=boxes_t[start:start + size], masks=None)
        sam.mask_decoder(image_embeddings=predictor.features, image_pe=pe,
                         sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                         multimask_output=False)


def best_stock_batch(sam, image, boxes, device, context, candidates, max_prompts):
    """Sweep the stock decoder's batch sizes (untimed for (m)); return (best size, per-prompt ms by size)."""
    from segment_anything import SamPredictor
    predictor = SamPredictor(sam)
    per_prompt = {}
    with torch.no_grad(), context():
        predictor.set_image(image)
        tb = predictor.transform.apply_boxes_torch(torch.as_tensor(boxes, dtype=torch.float, device=device),
                                                   image.shape[:2])
        stock_decode(sam, predictor, tb[:1], 1)  # warm-up
        for size in candidates:
            if size > max_prompts:
                break
            reps = max(2, min(4, 32 // size))
            best = float('inf')
            for _ in range(2):
                sync(device)
                t = time.perf_counter()
                stock_decode(sam, predictor, tb[:size * reps], size)
                sync(device)
                best = min(best, (time.perf_counter() - t) / (size * reps))
            per_prompt[size] = best * 1000
            if per_prompt[size] > 1.25 * min(per_prompt.values()):
                break  # larger batches only get slower per prompt (the engine's rule too)
    return min(per_prompt, key=per_prompt.get), per_prompt


def method_m(sam, image, boxes, device, context, size):
    """Model floor: encoder once + prompt_encoder + mask_decoder over all prompts at ``size``."""
    from segment_anything import SamPredictor
    predictor = SamPredictor(sam)
    with torch.no_grad(), context():
        predictor.set_image(image)
        tb = predictor.transform.apply_boxes_torch(torch.as_tensor(boxes, dtype=torch.float, device=device),
                                                   image.shape[:2])
        stock_decode(sam, predictor, tb, size)
    sync(device)


def compare_rles(ours, ref):
    """(#objects whose masks differ, #differing pixels) between two lists of RLEs."""
    from samrs_mm.structures.rle import decode
    objects = pixels = 0
    for a, b in zip(ours, ref):
        if a['counts'] != b['counts']:
            objects += 1
            da, db = decode(a), decode(b)
            pixels += int((da != db).sum())
    return objects, pixels


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--model-type', default=None, help='default vit_b (tiny_test with --quick)')
    parser.add_argument('--data', default=DEFAULT_DATA, help='the shared sample data folder')
    parser.add_argument('--image', default=None)
    parser.add_argument('--labels', default=None, help='DOTA labelTxt of --image')
    parser.add_argument('--max-objects', type=int, default=None)
    parser.add_argument('--methods', default='a,b,c,m', help='subset of a,b,c,x,m to run')
    parser.add_argument('--quick', action='store_true', help='small test SAM, 48 objects')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--steady', action='store_true',
                        help='also time (c) once more with the prompt batch size already measured')
    parser.add_argument('--allow-tf32', action='store_true', help='TF32 in CUDA conv / matmul (all methods)')
    parser.add_argument('--masks', default='auto', choices=['auto', 'batched', 'per-object'],
                        help="the engine's batched_masks setting for (c); (x) uses the other path")
    parser.add_argument('--repeat', type=int, default=1,
                        help='interleaved runs of every method; the fastest counts (shared machines)')
    args = parser.parse_args(argv)
    if args.quick:
        args.model_type = args.model_type or 'tiny_test'
        args.max_objects = args.max_objects or 48
    args.model_type = args.model_type or 'vit_b'
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    if args.dtype != 'float32' and 'a' in methods:
        # SamPredictor.predict converts the IoU scores to numpy, which fails for bfloat16.
        print('(a) needs float32 (SamPredictor.predict cannot return bfloat16 scores): skipped')
        methods.remove('a')

    from samrs_mm.structures.record import Instance

    image, boxes, desc = load_input(args)
    instances = [Instance(class_name='object', hbox=b) for b in boxes]
    device = args.device
    sam = sam_models.build_sam_model(args.model_type, random_init=True, seed=0, device=device)
    masks = {'auto': 'auto', 'batched': True, 'per-object': False}[args.masks]
    engine_cfg = dict(prompt='hbox', device=device, dtype=args.dtype, prompt_batch_size='auto',
                      allow_tf32=bool(args.allow_tf32), batched_masks=masks)
    engine = engine_mod.build_engine(engine_cfg, model=sam)
    batched = engine.backend.batched_masks
    other_cfg = dict(engine_cfg, batched_masks=not batched)
    # TF32 setting and autocast of the engine's model calls, for every method.
    context = engine.backend.model_context

    # Warm up kernels and allocator once, outside every timed block.
    method_b(sam, image[:64, :64], np.array([[4., 4., 40., 40.]]), device, context)

    results, outputs, all_times, best_c, best_x = {}, {}, {}, None, None
    labels = {'a': '(a) SamPredictor.predict per object',
              'b': '(b) SAMRS scripts: predict_torch x20, full-res masks',
              'c': '(c) samrs_mm engine',
              's': '(c, steady) engine, batch size already measured',
              'x': f"(x) engine, {'batched' if not batched else 'per-object'} masks",
              'm': '(m) model floor: encoder + decoder only'}
    best_size, sweep = None, {}
    if 'm' in methods:
        # Same memory cap as the engine's (max_decoder_memory_mb), same candidates.
        best_size, sweep = best_stock_batch(sam, image, boxes, device, context,
                                            engine.backend.sizer.candidates, len(boxes))
    for rep in range(args.repeat):
        for key in ('a', 'b', 'c', 'x', 'm'):
            if key not in methods:
                continue
            if key in 'cx':
                # A fresh engine each time: its batch-size measurement is part of the time.
                run_engine = engine_mod.build_engine(engine_cfg if key == 'c' else other_cfg, model=sam)
                if key == 'c':
                    engine = run_engine
            with PeakMemory(device) as mem:
                start = time.perf_counter()
                if key == 'a':
                    outputs[key] = method_a(sam, image, boxes, device, context)
                elif key == 'b':
                    outputs[key] = method_b(sam, image, boxes, device, context)
                elif key in 'cx':
                    outputs[key] = method_c(run_engine, image, instances)
                else:
                    method_m(sam, image, boxes, device, context, best_size)
                seconds = time.perf_counter() - start
            row = (seconds, mem.peak_mb, mem.host_peak_mb - mem.start_mb)
            all_times.setdefault(key, []).append(seconds)
            if key not in results or seconds < results[key][0]:
                results[key] = row
                if key == 'c':
                    sizer = engine.backend.sizer
                    best_c = (dict(engine.backend.timings), sizer.chosen('hbox'), sizer.measurements('hbox'))
                elif key == 'x':
                    best_x = dict(run_engine.backend.timings)

    if args.steady and 'c' in methods:
        # The last engine again: its prompt batch size is now measured (a run over many images).
        engine.backend.timings.update(encoder=0.0, decoder=0.0, masks=0.0)
        with PeakMemory(device) as mem:
            start = time.perf_counter()
            method_c(engine, image, instances)
            seconds = time.perf_counter() - start
        results['s'] = (seconds, mem.peak_mb, mem.host_peak_mb - mem.start_mb)
        steady_timings = dict(engine.backend.timings)

    dev_name = torch.cuda.get_device_name() if torch.device(device).type == 'cuda' else \
        f'CPU, {torch.get_num_threads()} threads'
    mem_label = 'peak CUDA alloc MiB' if torch.device(device).type == 'cuda' else 'peak RSS MiB'
    print(f'\nSAM labelling speed: {desc}')
    print(f'model {args.model_type} (random weights), device {device} ({dev_name}), dtype {args.dtype}, '
          f'torch {torch.__version__}')
    print(f"TF32 (all methods): {precision.describe_tf32(engine_cfg['allow_tf32'])}")
    print(f"engine (c) masks: {'batched (ChunkMaskEncoder)' if batched else 'per object'}\n")
    print(f'| method | s / image | objects / s | {mem_label} | host peak RSS above start, MiB |')
    print('|---|---:|---:|---:|---:|')
    for key in ('a', 'b', 'c', 's', 'x', 'm'):
        if key in results:
            sec, peak, above = results[key]
            print(f'| {labels[key]} | {sec:.2f} | {len(boxes) / sec:.1f} | {peak:.0f} | {above:.0f} |')
    print()
    for num, den in (('c', 'm'), ('b', 'c'), ('a', 'c'), ('s', 'm'), ('b', 's'), ('x', 'c')):
        if num in results and den in results:
            name = {'s': 'c, steady'}
            print(f'({name.get(num, num)})/({name.get(den, den)}) = {results[num][0] / results[den][0]:.3f}')
    if args.repeat > 1:
        print('runs (s): ' + '; '.join(f'({k}) ' + ', '.join(f'{t:.1f}' for t in v) for k, v in all_times.items())
              + f' -- the table shows the fastest of {args.repeat} interleaved runs')
    if best_c is not None:
        t, chosen, measured = best_c
        measured = ', '.join(f'{s}: {v * 1000:.0f}' for s, v in sorted(measured.items()))
        print(f'(c) stages: encoder {t["encoder"]:.2f} s, decoder {t["decoder"]:.2f} s, '
              f'masks+RLE {t["masks"]:.2f} s; prompt batch size auto -> {chosen} '
              f'(ms/prompt by size: {measured})')
    if 's' in results:
        print(f'(c, steady) stages: encoder {steady_timings["encoder"]:.2f} s, decoder '
              f'{steady_timings["decoder"]:.2f} s, masks+RLE {steady_timings["masks"]:.2f} s at batch size '
              f'{engine.backend.sizer.chosen("hbox") or engine.backend.sizer.next_size("hbox")}')
    if best_x is not None:
        print(f'(x) stages: encoder {best_x["encoder"]:.2f} s, decoder {best_x["decoder"]:.2f} s, '
              f'masks+RLE {best_x["masks"]:.2f} s')
    if sweep:
        print('(m) stock decoder ms/prompt by batch size: '
              + ', '.join(f'{s}: {v:.0f}' for s, v in sweep.items()) + f' -> {best_size}')
    if 'c' in outputs and 'b' in outputs:
        objs, pix = compare_rles(outputs['c'], outputs['b'])
        print(f'(c) vs (b) masks: {len(boxes) - objs}/{len(boxes)} identical, {pix} differing pixels in total')
    if 'c' in outputs and 'x' in outputs:
        objs, pix = compare_rles(outputs['c'], outputs['x'])
        print(f'(c) vs (x) masks (batched vs per-object): {len(boxes) - objs}/{len(boxes)} identical, '
              f'{pix} differing pixels in total')
    return results


if __name__ == '__main__':
    main()
