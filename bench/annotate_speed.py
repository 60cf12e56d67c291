"""Per-image time and peak memory of SAM-family labelling, several ways, side by side in one run.

On one real image (default ``../shared/data/dota/images/P0706.png`` with its 531 + 5 DOTA
objects, H-Box prompts) and, per SAM family (``--families``), one model (default: the
full-size architecture, random weights; compute does not depend on the weights):
SAM ViT-B, HQ-SAM ViT-B, SAM 2.1 Hiera-B+, SAM 3.

(a) the family's predictor, per object: ``set_image`` then ``predict(box=...)`` per object
    (SAM: ``SamPredictor``; HQ-SAM: its ``SamPredictor``; SAM 2.1: ``SAM2ImagePredictor``;
    SAM 3: ``Sam3Processor.set_image`` + ``predict_inst``), each mask encoded to COCO RLE;
(b) the SAMRS scripts' way: one ``set_image``, then the predictor on chunks of 20 boxes
    (``predict_torch`` for SAM / HQ-SAM, ``predict(box=20 x 4)`` for SAM 2.1 / SAM 3),
    full-resolution boolean masks, each encoded to COCO RLE;
(c) ours: the ``samrs_mm.annotate`` engine with the family's backend
    (``prompt_batch_size='auto'``: the batch-size measurement on this image is included);
(r) the engine with realistic masks: the decoder runs as in (c), then its low-res logits
    are replaced by smooth object-shaped ones (an ellipse filling each box, +16 at the
    centre, falling off outside) before the post-processing stages (upsampling, threshold,
    RLE). Random weights give speckled masks (~125k RLE runs per mask on P0706), far heavier
    than real objects' masks; (r) times those stages on masks shaped like real ones;
(m) the model floor: the family's stock encoder once plus its stock prompt encoder + mask
    decoder over all prompts at its best batch size (found by a sweep that is not timed),
    without any post-processing;
(x) optional: the engine with its other mask path (per-object masks where (c) batches them,
    as on a GPU, and batched where (c) goes object by object, as on CPU), and whether the
    two give identical masks.

Every method runs with the engine's TF32 setting (``allow_tf32``: off unless
``--allow-tf32``) and dtype, so all of them do the same arithmetic.

Prints, per family, a table and the ratios (c)/(m), (r)/(m), (b)/(c), (a)/(c), and checks
that (c)'s masks equal (b)'s (floating-point ties at the 0 threshold allowed, counted);
then one summary table over the families. Memory is the process's peak resident set
during each method (CPU; also its growth over the resident set at the start of the
method: weights, libraries and the image are already there) or the peak CUDA allocation
(GPU). ``--repeat N`` runs the methods of a family N times, interleaved, and keeps the
fastest run of each (for machines shared with other work). Families run one after the
other, each model freed before the next is built.

Runs without mmcv / mmseg: the labelling engine imports without OpenMMLab.
``--quick`` uses each family's small random test model and 48 objects (a CPU smoke run).

Usage: python bench/annotate_speed.py [--families segment_anything,sam_hq,sam2,sam3|all]
       [--device cpu|cuda] [--dtype float32|bfloat16] [--quick] [--methods a,b,c,r,x,m]
       [--allow-tf32] [--masks auto|batched|per-object] [--repeat N]
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
from samrs_mm.annotate.engine import precision  # noqa: E402
from samrs_mm.annotate.families import models as sam_models  # noqa: E402
from samrs_mm.annotate.families import reference  # noqa: E402
from samrs_mm.sources.image_io import load_image  # noqa: E402
from samrs_mm.structures.record import Instance  # noqa: E402

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


class FamilyPredictor:
    """The family's own predictor with one image set: whole-image masks of boxes, as its users call it."""

    def __init__(self, family, model, image, device):
        self.family, self.model, self.device = family, model, device
        if family == 'segment_anything':
            from segment_anything import SamPredictor
            self.predictor = SamPredictor(model)
            self.predictor.set_image(image)
        elif family == 'sam_hq':
            from segment_anything_hq import SamPredictor
            self.predictor = SamPredictor(model)
            self.predictor.set_image(image)
        elif family == 'sam2':
            from sam2.sam2_image_predictor import SAM2ImagePredictor
            self.predictor = SAM2ImagePredictor(model)
            self.predictor.set_image(image)
        elif family == 'sam3':
            from PIL import Image
            from sam3.model.sam3_image_processor import Sam3Processor
            self.state = Sam3Processor(model, device=device).set_image(Image.fromarray(image))
        else:
            raise ValueError(f'no predictor for {family!r}')
        self.shape = image.shape[:2]

    def mask(self, box):
        """Boolean ``H x W`` mask of one box: one ``predict`` call, as a per-object loop makes it."""
        kw = dict(hq_token_only=False) if self.family == 'sam_hq' else {}
        if self.family == 'sam3':
            from sam3.model.sam3_image import Sam3Image
            masks, _, _ = Sam3Image.predict_inst(self.model, self.state, box=box, multimask_output=False)
        else:
            masks, _, _ = self.predictor.predict(box=box, multimask_output=False, **kw)
        return np.asarray(masks).reshape(-1, *self.shape)[0] > 0

    def masks(self, boxes):
        """Boolean masks ``n x H x W`` (numpy) of ``n`` boxes in one batched call (the SAMRS scripts' way)."""
        if self.family in ('segment_anything', 'sam_hq'):
            tb = torch.as_tensor(boxes, dtype=torch.float, device=self.device)
            tb = self.predictor.transform.apply_boxes_torch(tb, self.shape)
            kw = dict(hq_token_only=False) if self.family == 'sam_hq' else {}
            masks, _, _ = self.predictor.predict_torch(point_coords=None, point_labels=None, boxes=tb,
                                                       multimask_output=False, **kw)
            return masks[:, 0].cpu().numpy()
        if self.family == 'sam2':
            masks, _, _ = self.predictor.predict(box=boxes, multimask_output=False)
        else:
            from sam3.model.sam3_image import Sam3Image
            masks, _, _ = Sam3Image.predict_inst(self.model, self.state, box=boxes, multimask_output=False)
        return np.asarray(masks).reshape(-1, *self.shape) > 0


def method_a(family, sam, image, boxes, device, context):
    """The family's predictor, one predict call per object."""
    out = []
    with torch.no_grad(), context():
        predictor = FamilyPredictor(family, sam, image, device)
        for box in boxes:
            out.append(encode_full(predictor.mask(box)))
    sync(device)
    return out


def method_b(family, sam, image, boxes, device, context, chunk=20):
    """The SAMRS scripts: set_image, the predictor on chunks of 20 boxes, full-resolution masks."""
    out = []
    with torch.no_grad(), context():
        predictor = FamilyPredictor(family, sam, image, device)
        for start in range(0, len(boxes), chunk):
            for m in predictor.masks(boxes[start:start + chunk]):
                out.append(encode_full(m))
    sync(device)
    return out


def method_c(engine, image, instances):
    """Our engine."""
    out = engine.annotate(image, instances, source='dota', name='bench')
    sync(engine.cfg['device'])
    return [m.rle for m in out]


def realistic_logits(boxes, lowres, frame, shape, peak=16.0):
    """Smooth object-shaped low-res logits ``B x K x h x w``: an ellipse filling each box (model frame).

    ``peak * (1 - r^2)`` with ``r`` the ellipse radius of each pixel centre, clamped below at
    ``-peak``: positive inside the ellipse, one connected blob with a smooth border.
    """
    scale = lowres / frame
    b = boxes.float() * scale
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    rx, ry = ((b[:, 2] - b[:, 0]) / 2).clamp(min=0.5), ((b[:, 3] - b[:, 1]) / 2).clamp(min=0.5)
    grid = torch.arange(lowres, device=boxes.device, dtype=torch.float32) + 0.5
    dx = (grid[None, :] - cx[:, None]) / rx[:, None]
    dy = (grid[None, :] - cy[:, None]) / ry[:, None]
    logits = peak * (1 - dy[:, :, None] ** 2 - dx[:, None, :] ** 2)
    return logits.clamp(min=-peak)[:, None].expand(shape).contiguous()


def use_realistic_masks(engine):
    """Make the engine's decoder return realistic low-res logits (after running the real decoder)."""
    backend = engine.backend
    decode = backend.decoder.decode
    frame = backend.transform.target_length

    def realistic(batch, multimask_output=False):
        low, iou = decode(batch, multimask_output)
        return realistic_logits(batch.boxes, low.shape[-1], frame, low.shape).to(low.dtype), iou
    backend.decoder.decode = realistic


def floor_batches(engine, image, boxes):
    """The reference predictor (stock encoder) and the engine's prompt batches maker for H-Box prompts."""
    from samrs_mm.annotate.engine.prompts import ObjectGeometry, PromptSpec
    backend = engine.backend
    geometry = ObjectGeometry.from_instances([Instance('object', hbox=b) for b in boxes], *image.shape[:2])
    return backend.prompt_builder(PromptSpec(box='hbox'), geometry, image.shape[:2])


def stock_decode(engine, builder, size, stop=None):
    """The family's stock prompt encoder + mask decoder over the prompts at batch ``size``, nothing else."""
    backend = engine.backend
    stop = len(builder) if stop is None else stop
    for start in range(0, stop, size):
        backend.decoder.decode_stock(builder.batch(start, min(stop, start + size), backend.device), False)


def best_stock_batch(engine, ref, image, boxes, context, candidates):
    """Sweep the stock decoder's batch sizes (untimed for (m)); return (best size, per-prompt ms by size)."""
    device = engine.cfg['device']
    per_prompt = {}
    builder = floor_batches(engine, image, boxes)
    with torch.no_grad(), context():
        engine.backend.decoder.set_image(ref.features)
        stock_decode(engine, builder, 1, 1)  # warm-up
        for size in candidates:
            if size > len(boxes):
                break
            reps = max(2, min(4, 32 // size))
            best = float('inf')
            for _ in range(2):
                sync(device)
                t = time.perf_counter()
                stock_decode(engine, builder, size, min(len(builder), size * reps))
                sync(device)
                best = min(best, (time.perf_counter() - t) / min(len(builder), size * reps))
            per_prompt[size] = best * 1000
            if per_prompt[size] > 1.25 * min(per_prompt.values()):
                break  # larger batches only get slower per prompt (the engine's rule too)
    return min(per_prompt, key=per_prompt.get), per_prompt


def method_m(engine, image, boxes, context, size):
    """Model floor: the stock encoder once (the predictor's set_image) + stock prompt encoder / mask decoder."""
    with torch.no_grad(), context():
        ref = reference.reference_predictor(engine, image)
        builder = floor_batches(engine, image, boxes)
        engine.backend.decoder.set_image(ref.features)
        stock_decode(engine, builder, size)
    sync(engine.cfg['device'])


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
ALL_FAMILIES = ('segment_anything', 'sam_hq', 'sam2', 'sam3')
# Full-size model of each family timed by default (random weights).
DEFAULT_MODELS = {'segment_anything': 'vit_b', 'sam_hq': 'vit_b', 'sam2': 'hiera_b+', 'sam3': 'sam3'}
METHODS = ('a', 'b', 'c', 'r', 'x', 'm')
PREDICTOR_NAMES = {'segment_anything': 'SamPredictor.predict', 'sam_hq': 'HQ-SAM SamPredictor.predict',
                   'sam2': 'SAM2ImagePredictor.predict', 'sam3': 'SAM 3 predict_inst'}


def parse_list(text, valid, what, parser, allow_all=False):
    """Comma-separated names, each one of ``valid`` (``'all'``: every one); anything else is a usage error."""
    items = [t.strip() for t in str(text).split(',')]
    if allow_all and items == ['all']:
        return list(valid)
    bad = [t for t in items if t not in valid]
    if bad or not items:
        parser.error(f'--{what}: unknown or malformed value(s) {bad or [text]} in {text!r}; give a comma-separated '
                     f'list of {", ".join(valid)}' + (" or 'all'" if allow_all else ''))
    return list(dict.fromkeys(items))


def parse_model_types(text, families, quick, parser):
    """Model type per family: ``--model-type vit_l`` (one family) or ``sam2=hiera_l,sam_hq=vit_h``."""
    chosen = {f: ('tiny_test' if quick else DEFAULT_MODELS[f]) for f in families}
    if not text:
        return chosen
    for part in str(text).split(','):
        family, sep, model_type = part.strip().rpartition('=')
        if not sep:
            if len(families) != 1:
                parser.error('--model-type: with several families give FAMILY=MODEL_TYPE pairs, e.g. '
                             'sam2=hiera_l,sam_hq=vit_h')
            family = families[0]
        if family not in chosen or not model_type:
            parser.error(f'--model-type: {part.strip()!r} does not name one of the families run '
                         f'({", ".join(families)}) and a model type')
        chosen[family] = model_type
    return chosen


def run_family(family, model_type, args, methods, image, boxes, instances):
    """Every method of one family, interleaved ``--repeat`` times; prints the family's table; returns its results."""
    device = args.device
    sam = sam_models.build_sam_model(model_type, random_init=True, seed=0, device=device, family=family)
    masks = {'auto': 'auto', 'batched': True, 'per-object': False}[args.masks]
    engine_cfg = dict(backend=family, prompt='hbox', device=device, dtype=args.dtype, prompt_batch_size='auto',
                      allow_tf32=bool(args.allow_tf32), batched_masks=masks)
    engine = engine_mod.build_engine(engine_cfg, model=sam)
    batched = engine.backend.batched_masks
    other_cfg = dict(engine_cfg, batched_masks=not batched)
    # TF32 setting and autocast of the engine's model calls, for every method.
    context = engine.backend.model_context

    # Warm up kernels and allocator once, outside every timed block: the untimed sweep of (m)
    # below does (it encodes the image and decodes), else a small predictor run.
    if 'm' not in methods:
        method_b(family, sam, image[:64, :64], np.array([[4., 4., 40., 40.]]), device, context)

    results, outputs, all_times, stages = {}, {}, {}, {}
    labels = {'a': f'(a) {PREDICTOR_NAMES[family]} per object',
              'b': '(b) SAMRS scripts: predictor on x20 boxes, full-res masks',
              'c': '(c) samrs_mm engine',
              'r': '(r) engine, realistic masks (object-shaped logits)',
              's': '(c, steady) engine, batch size already measured',
              'x': f"(x) engine, {'batched' if not batched else 'per-object'} masks",
              'm': '(m) model floor: encoder + decoder only'}
    if family == 'segment_anything':
        labels['b'] = '(b) SAMRS scripts: predict_torch x20, full-res masks'
    best_size, sweep = None, {}
    if 'm' in methods:
        with torch.no_grad():
            ref = reference.reference_predictor(engine, image)
        # Same memory cap as the engine's (max_decoder_memory_mb), same candidates.
        best_size, sweep = best_stock_batch(engine, ref, image, boxes, context, engine.backend.sizer.candidates)
        del ref
    for rep in range(args.repeat):
        for key in METHODS:
            if key not in methods:
                continue
            if key in 'cxr':
                # A fresh engine each time: its batch-size measurement is part of the time.
                run_engine = engine_mod.build_engine(other_cfg if key == 'x' else engine_cfg, model=sam)
                if key == 'r':
                    use_realistic_masks(run_engine)
                if key == 'c':
                    engine = run_engine
            with PeakMemory(device) as mem:
                start = time.perf_counter()
                if key == 'a':
                    outputs[key] = method_a(family, sam, image, boxes, device, context)
                elif key == 'b':
                    outputs[key] = method_b(family, sam, image, boxes, device, context)
                elif key in 'cxr':
                    outputs[key] = method_c(run_engine, image, instances)
                else:
                    method_m(engine, image, boxes, context, best_size)
                seconds = time.perf_counter() - start
            row = (seconds, mem.peak_mb, mem.host_peak_mb - mem.start_mb)
            all_times.setdefault(key, []).append(seconds)
            if key not in results or seconds < results[key][0]:
                results[key] = row
                if key in 'cxr':
                    sizer = run_engine.backend.sizer
                    stages[key] = (dict(run_engine.backend.timings), sizer.chosen('hbox'), sizer.measurements('hbox'))

    if args.steady and 'c' in methods:
        # The last engine again: its prompt batch size is now measured (a run over many images).
        engine.backend.timings.update(encoder=0.0, decoder=0.0, masks=0.0)
        with PeakMemory(device) as mem:
            start = time.perf_counter()
            method_c(engine, image, instances)
            seconds = time.perf_counter() - start
        results['s'] = (seconds, mem.peak_mb, mem.host_peak_mb - mem.start_mb)
        stages['s'] = (dict(engine.backend.timings), engine.backend.sizer.chosen('hbox'), {})

    mem_label = 'peak CUDA alloc MiB' if torch.device(device).type == 'cuda' else 'peak RSS MiB'
    print(f'\n## {sam_models.FAMILY_NAMES[family]} {model_type} (backend {family!r}, random weights)')
    print(f"engine (c) masks: {'batched (ChunkMaskEncoder)' if batched else 'per object'}\n")
    print(f'| method | s / image | objects / s | {mem_label} | host peak RSS above start, MiB |')
    print('|---|---:|---:|---:|---:|')
    for key in ('a', 'b', 'c', 'r', 's', 'x', 'm'):
        if key in results:
            sec, peak, above = results[key]
            print(f'| {labels[key]} | {sec:.2f} | {len(boxes) / sec:.1f} | {peak:.0f} | {above:.0f} |')
    print()
    ratios = {}
    for num, den in (('c', 'm'), ('r', 'm'), ('b', 'c'), ('a', 'c'), ('s', 'm'), ('b', 's'), ('x', 'c')):
        if num in results and den in results:
            name = {'s': 'c, steady'}
            ratios[(num, den)] = results[num][0] / results[den][0]
            print(f'({name.get(num, num)})/({name.get(den, den)}) = {ratios[(num, den)]:.3f}')
    if args.repeat > 1:
        print('runs (s): ' + '; '.join(f'({k}) ' + ', '.join(f'{t:.1f}' for t in v) for k, v in all_times.items())
              + f' -- the table shows the fastest of {args.repeat} interleaved runs')
    for key, name in (('c', '(c)'), ('r', '(r)'), ('s', '(c, steady)'), ('x', '(x)')):
        if key in stages:
            t, chosen, measured = stages[key]
            line = (f'{name} stages: encoder {t["encoder"]:.2f} s, decoder {t["decoder"]:.2f} s, '
                    f'masks+RLE {t["masks"]:.2f} s')
            if key == 'c':
                measured = ', '.join(f'{s}: {v * 1000:.0f}' for s, v in sorted(measured.items()))
                line += f'; prompt batch size auto -> {chosen} (ms/prompt by size: {measured})'
            print(line)
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
    if 'r' in outputs:
        runs = [len(rle['counts']) for rle in outputs['r']]
        print(f'(r) realistic masks: {np.mean(runs):.0f} bytes of RLE per mask on average (c: '
              f"{np.mean([len(rle['counts']) for rle in outputs['c']]) if 'c' in outputs else float('nan'):.0f})")
    return dict(model=model_type, results=results, ratios=ratios)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--families', default='segment_anything',
                        help=f"comma-separated SAM families ({', '.join(ALL_FAMILIES)}) or 'all'")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--model-type', default=None,
                        help='model type (one family) or FAMILY=TYPE pairs; default the full-size '
                             + ', '.join(f'{f}={t}' for f, t in DEFAULT_MODELS.items()) + ' (tiny_test with --quick)')
    parser.add_argument('--data', default=DEFAULT_DATA, help='the shared sample data folder')
    parser.add_argument('--image', default=None)
    parser.add_argument('--labels', default=None, help='DOTA labelTxt of --image')
    parser.add_argument('--max-objects', type=int, default=None)
    parser.add_argument('--methods', default='a,b,c,m', help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument('--quick', action='store_true', help='small test models, 48 objects')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--steady', action='store_true',
                        help='also time (c) once more with the prompt batch size already measured')
    parser.add_argument('--allow-tf32', action='store_true', help='TF32 in CUDA conv / matmul (all methods)')
    parser.add_argument('--masks', default='auto', choices=['auto', 'batched', 'per-object'],
                        help="the engine's batched_masks setting for (c); (x) uses the other path")
    parser.add_argument('--repeat', type=int, default=1,
                        help='interleaved runs of every method; the fastest counts (shared machines)')
    args = parser.parse_args(argv)
    methods = parse_list(args.methods, METHODS, 'methods', parser)
    families = parse_list(args.families, ALL_FAMILIES, 'families', parser, allow_all=True)
    model_types = parse_model_types(args.model_type, families, args.quick, parser)
    if args.repeat < 1:
        parser.error('--repeat must be >= 1')
    if args.quick:
        args.max_objects = args.max_objects or 48
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.dtype != 'float32' and 'a' in methods:
        # The predictors convert the IoU scores to numpy, which fails for bfloat16.
        print('(a) needs float32 (the predictors cannot return bfloat16 scores): skipped')
        methods.remove('a')

    image, boxes, desc = load_input(args)
    instances = [Instance(class_name='object', hbox=b) for b in boxes]
    device = args.device
    dev_name = torch.cuda.get_device_name() if torch.device(device).type == 'cuda' else \
        f'CPU, {torch.get_num_threads()} threads'
    print(f'\nSAM labelling speed: {desc}')
    print(f'families {", ".join(families)}, device {device} ({dev_name}), dtype {args.dtype}, '
          f'torch {torch.__version__}')
    print(f"TF32 (all methods): {precision.describe_tf32(bool(args.allow_tf32))}")
    summary = {}
    for family in families:
        summary[family] = run_family(family, model_types[family], args, methods, image, boxes, instances)
        gc.collect()
        if torch.device(device).type == 'cuda':
            torch.cuda.empty_cache()
    if len(families) > 1:
        print('\n## Summary (seconds per image; ratios within each family, measured side by side)\n')
        cols = [k for k in ('a', 'b', 'c', 'r', 'm') if k in methods]
        pairs = [p for p in (('c', 'm'), ('r', 'm'), ('b', 'c'), ('a', 'c')) if p[0] in methods and p[1] in methods]
        print('| family | model | ' + ' | '.join(f'({k}) s' for k in cols) + ' | '
              + ' | '.join(f'({a})/({b})' for a, b in pairs) + ' |')
        print('|---|---|' + '---:|' * (len(cols) + len(pairs)))
        names = sam_models.FAMILY_NAMES
        for family, res in summary.items():
            cells = [f"{res['results'][k][0]:.2f}" for k in cols]
            cells += [f"{res['ratios'][p]:.3f}" for p in pairs]
            print(f"| {names[family]} | {res['model']} | " + ' | '.join(cells) + ' |')
    return summary


if __name__ == '__main__':
    main()
