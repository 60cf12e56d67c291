#!/usr/bin/env python
"""The SAMRS paper's prompt ablation (Table 1) on any source with ground-truth masks.

For every row (a SAM prompt spec, or a region the ``box`` backend fills) each object with a
ground-truth mask is segmented from its own box and compared with that mask:
mIoU_I = mean_i(I_i / U_i), mIoU_P = sum_i I_i / sum_i U_i (percent). Written as
Markdown and CSV.

Examples::

    # HRSC2016 test with SAM ViT-H (the paper's setting)
    python tools/prompt_ablation.py configs/annotate/ablation_hrsc2016_test.py \\
        --cfg-options engine.checkpoint=checkpoints/sam_vit_h_4b8939.pth

    # iSAID, box baseline only (no SAM weights needed)
    python tools/prompt_ablation.py configs/annotate/ablation_isaid.py --cfg-options engine.backend=box

    # SAM, HQ-SAM and SAM 2.1 side by side, every prompt row for each (rows per model and prompt)
    python tools/prompt_ablation.py configs/annotate/ablation_hrsc2016_test.py \
        --models segment_anything:vit_h=checkpoints/sam_vit_h_4b8939.pth \
                 sam_hq:vit_h=checkpoints/sam_hq_vit_h.pth sam2:hiera_l=checkpoints/sam2.1_hiera_large.pt

Rows come from ``ablation=dict(prompts=[...], box_regions=[...], models=[...])`` in the
config, or from ``--prompts`` / ``--box-regions`` / ``--models``. Each model is an engine
config merged over ``engine`` (``dict(backend='sam2', model_type='hiera_l', checkpoint=...)``;
on the command line ``BACKEND:MODEL_TYPE[=CHECKPOINT]``); without models the ``engine``
config is the one model. Every model gets every SAM prompt row. With
``engine.backend='box'`` and no models only the box rows run. Each image goes through each
model's encoder once for all its rows. See docs/annotate.md.
"""
import argparse
import csv
import io
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

DEFAULT_PROMPTS = ('cp', 'hbox', 'rhbox', 'hbox_mask', 'rbox_mask', 'rhbox_mask', 'hbox+cp', 'rhbox+cp',
                   'hbox+hbox_mask', 'rhbox+rhbox_mask', 'rhbox+rbox_mask', 'cp+rbox_mask')
DEFAULT_BOX_REGIONS = ('hbox', 'rhbox', 'rbox')
# The paper's names of the basic prompts.
PAPER_NAMES = {'cp': 'CP', 'hbox': 'H-Box', 'rhbox': 'RH-Box', 'rbox': 'R-Box', 'quad': 'Quad',
               'hbox_mask': 'H-Box-M', 'rhbox_mask': 'RH-Box-M', 'rbox_mask': 'R-Box-M'}
CSV_FIELDS = ('row', 'method', 'model', 'prompt', 'mIoU_I', 'mIoU_P', 'instances', 'images')


def parse_args(argv=None):
    """Command-line options."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config with source (with masks), engine and optional ablation=dict(...)')
    parser.add_argument('--prompts', nargs='+', help='SAM prompt specs, e.g. hbox rhbox+cp rbox_mask')
    parser.add_argument('--box-regions', nargs='*', help="regions of the 'box' baseline rows (hbox rhbox rbox quad)")
    parser.add_argument('--models', nargs='+', metavar='BACKEND:MODEL_TYPE[=CHECKPOINT]',
                        help='SAM-family models to compare, each merged over the engine config, e.g. '
                             'segment_anything:vit_h=sam_vit_h_4b8939.pth sam2:hiera_l=sam2.1_hiera_large.pt')
    parser.add_argument('--out-dir', help='where prompt_ablation.md / .csv go (default: work_dir)')
    parser.add_argument('--max-images', type=int, help='use only the first N images (quick checks)')
    parser.add_argument('--max-objects', type=int,
                        help='use only the first N objects with masks of each image (quick checks)')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    return parser.parse_args(argv)


def row_name(spec: str, method: str) -> str:
    """Paper-style row label: ``CP + H-Box`` for SAM rows, ``box: R-Box`` for the baseline."""
    if method == 'box':
        return f'box: {PAPER_NAMES.get(spec, spec)}'
    return ' + '.join(PAPER_NAMES.get(p, p) for p in spec.split('+'))


class SharedEmbedding:
    """Encodes each image once for every SAM row: a one-entry cache in front of ``backend.encode``.

    The engine encodes per call; the ablation asks the same image many questions, so the
    SAM backends of all rows share this cache (their ``encode`` attribute is replaced).
    """

    def __init__(self, encode) -> None:
        self._encode = encode
        self._images = None
        self._features = None

    def __call__(self, images):
        # Holding the images keeps their ids from being reused while they are the cache key.
        if self._images is None or len(images) != len(self._images) or any(
                a is not b for a, b in zip(images, self._images)):
            self._features = self._encode(images)
            self._images = list(images)
        return self._features


def parse_model(text: str) -> dict:
    """``'sam2:hiera_l=ckpt.pt'`` -> ``dict(backend='sam2', model_type='hiera_l', checkpoint='ckpt.pt')``."""
    spec, _, checkpoint = text.partition('=')
    backend, sep, model_type = spec.partition(':')
    if not sep or not backend or not model_type:
        raise ValueError(f'--models takes BACKEND:MODEL_TYPE[=CHECKPOINT] (e.g. sam2:hiera_l=sam2.1_hiera_large.pt), '
                         f'got {text!r}')
    model = dict(backend=backend, model_type=model_type)
    if checkpoint:
        model.update(checkpoint=checkpoint, random_init=False)
    return model


def model_configs(cfg, models) -> list:
    """Engine configs of the SAM models to compare: each of ``models`` over ``cfg.engine`` (or the engine alone)."""
    engine_cfg = {k: v for k, v in dict(cfg.get('engine') or {}).items() if k != 'type'}
    if str(engine_cfg.get('checkpoint')).strip() in ('', 'none', 'None'):
        engine_cfg['checkpoint'] = None
    if not models:
        return [] if engine_cfg.get('backend', 'segment_anything') == 'box' else [engine_cfg]
    out = []
    for model in models:
        entry = parse_model(model) if isinstance(model, str) else dict(model)
        if entry.get('checkpoint') and 'random_init' not in entry:
            entry['random_init'] = False
        merged = dict(engine_cfg)
        same = all(entry.get(k, engine_cfg.get(k)) == engine_cfg.get(k) for k in ('backend', 'model_type'))
        if 'checkpoint' not in entry and not same:
            merged['checkpoint'] = None  # the engine's weights belong to another model
        merged.update(entry)
        out.append(merged)
    return out


def model_label(engine_cfg: dict) -> str:
    """``'SAM 2.1 hiera_l'``: the family's name and the model type."""
    from samrs_mm.annotate.families.models import FAMILY_NAMES
    backend = engine_cfg.get('backend', 'segment_anything')
    return f"{FAMILY_NAMES.get(backend, backend)} {engine_cfg.get('model_type', 'vit_h')}"


def build_rows(engine_cfgs, prompts, box_regions):
    """``[(label, method, spec, engine)]``: per model its SAM rows (one model, one encoder cache), then box rows."""
    from samrs_mm.annotate.engine import build_engine
    from samrs_mm.annotate.engine.prompts import resolve_prompt_spec
    names = [resolve_prompt_spec(spec).name for spec in prompts]  # canonical spelling; fails early on typos
    rows = []
    for engine_cfg in engine_cfgs:
        backend = engine_cfg.get('backend', 'segment_anything')
        if backend == 'box':
            raise ValueError("a model to compare needs a SAM-family backend (segment_anything, sam_hq, sam2, "
                             "sam3), got 'box' (box rows come from --box-regions)")
        first = cache = None
        for name in names:
            if first is None:
                first = build_engine(engine_cfg, prompt=name)
                cache = SharedEmbedding(first.backend.encode)
                engine = first
            else:
                engine = build_engine(engine_cfg, model=first.backend.sam, prompt=name)
            engine.backend.encode = cache
            rows.append((row_name(name, 'sam'), 'sam', name, engine))
    for region in box_regions:
        rows.append((row_name(region, 'box'), 'box', region, build_engine(dict(backend='box', prompt=region))))
    return rows


def run_ablation(source, rows, max_images=None, progress=True, max_objects=None):
    """Score every row on every usable image; returns ``(results, counts)``.

    ``results[k]`` is the :class:`InstanceIoUAccumulator` of row ``k``; ``counts`` says how
    many images / instances were used and how many objects had no ground-truth mask.
    """
    from samrs_mm.evaluation.instance_iou import InstanceIoUAccumulator
    from samrs_mm.sources.image_io import load_image
    accumulators = [InstanceIoUAccumulator() for _ in rows]
    counts = dict(images=0, instances=0, without_mask=0, images_without_masks=0, skipped_images=0)
    total = len(source) if max_images is None else min(len(source), max_images)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc='prompt ablation', unit='img', file=sys.stderr, mininterval=1.0)
    for index in range(total):
        record = source[index]
        if bar is not None:
            bar.update(1)
        if 'skip_reason' in record.meta:
            counts['skipped_images'] += 1
            continue
        instances = [inst for inst in record.instances if inst.mask is not None]
        counts['without_mask'] += len(record.instances) - len(instances)
        if max_objects is not None:
            instances = instances[:max_objects]
        if not instances:
            counts['images_without_masks'] += 1
            continue
        image = load_image(record)
        gts = [inst.mask for inst in instances]
        for (_, _, _, engine), acc in zip(rows, accumulators):
            masks = engine.annotate(image, instances, source=record.source, name=record.image_path)
            acc.add([m.rle for m in masks], gts)
        counts['images'] += 1
        counts['instances'] += len(instances)
    if bar is not None:
        bar.close()
    return accumulators, counts


def table_rows(rows, accumulators, images: int):
    """Result dicts (percent values) in row order; ``model`` is ``backend:model_type`` (empty for box rows)."""
    out = []
    for (label, method, spec, engine), acc in zip(rows, accumulators):
        res = acc.result()
        model = '' if method == 'box' else f"{engine.cfg['backend']}:{engine.cfg['model_type']}"
        out.append(dict(row=label, method=method, model=model, prompt=spec, mIoU_I=100.0 * res['mIoU_I'],
                        mIoU_P=100.0 * res['mIoU_P'], instances=res['instances'], images=images,
                        model_label='box fill' if method == 'box' else model_label(engine.cfg)))
    return out


def to_markdown(results, title: str) -> str:
    """The table as Markdown (two decimals, like the paper)."""
    lines = [f'### {title}', '', '| Prompt | Method | mIoU_I (%) | mIoU_P (%) | Instances |',
             '|---|---|---:|---:|---:|']
    for r in results:
        lines.append(f"| {r['row']} | {r['model_label']} | {r['mIoU_I']:.2f} | {r['mIoU_P']:.2f} | {r['instances']} |")
    return '\n'.join(lines) + '\n'


def to_csv(results) -> str:
    """The table as CSV (full precision)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator='\n')
    writer.writeheader()
    for r in results:
        writer.writerow({k: (repr(r[k]) if isinstance(r[k], float) else r[k]) for k in CSV_FIELDS})
    return buf.getvalue()


def main(argv=None) -> int:
    """Run the ablation and write the tables; return the exit status."""
    args = parse_args(argv)
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
    except Exception as exc:  # noqa: BLE001
        print(f'error: cannot load config {args.config}: {exc}', file=sys.stderr)
        return 2
    import samrs_mm  # noqa: F401
    from samrs_mm.annotate.runner import sam_weights_problem
    from samrs_mm.sources import build_source
    ablation = dict(cfg.get('ablation') or {})
    prompts = list(args.prompts if args.prompts is not None else ablation.get('prompts', DEFAULT_PROMPTS))
    regions = list(args.box_regions if args.box_regions is not None
                   else ablation.get('box_regions', DEFAULT_BOX_REGIONS))
    models = args.models if args.models is not None else ablation.get('models')
    try:
        engine_cfgs = model_configs(cfg, models)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if not engine_cfgs and prompts:
        print(f"note: engine.backend='box': the {len(prompts)} SAM rows are skipped, only the box rows run")
        prompts = []
    if not prompts:
        engine_cfgs = []
    for engine_cfg in engine_cfgs:
        problem = sam_weights_problem(engine_cfg)
        if problem:
            print(f'error: {model_label(engine_cfg)}: {problem}', file=sys.stderr)
            return 2
    if not prompts and not regions:
        print('error: no rows to run (no prompts and no box regions)', file=sys.stderr)
        return 2
    try:
        source = build_source(dict(cfg.source))
        rows = build_rows(engine_cfgs, prompts, regions)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    start = time.perf_counter()
    accumulators, counts = run_ablation(source, rows, args.max_images, progress=not args.no_progress,
                                       max_objects=args.max_objects)
    seconds = time.perf_counter() - start
    if counts['instances'] == 0:
        print(f'error: no object with a ground-truth mask in {len(source)} images of {cfg.source.get("type")} '
              f'({counts["without_mask"]} objects without masks); the ablation needs masks (HRSC2016 '
              'Segmentations/, iSAID instance PNGs)', file=sys.stderr)
        return 1
    results = table_rows(rows, accumulators, counts['images'])
    model = ', '.join(model_label(c) for c in engine_cfgs) if engine_cfgs else 'box baseline only'
    title = (f'Prompt ablation: {cfg.source.get("type")}, {counts["images"]} image(s), {counts["instances"]} '
             f'instances, {model}')
    markdown = to_markdown(results, title)
    out_dir = args.out_dir or cfg.get('work_dir') or osp.join('work_dirs', 'prompt_ablation')
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'prompt_ablation.md'), 'w', encoding='utf-8') as f:
        f.write(markdown)
    with open(osp.join(out_dir, 'prompt_ablation.csv'), 'w', encoding='utf-8') as f:
        f.write(to_csv(results))
    print(markdown)
    print(f'[prompt_ablation] {counts["images"]} images, {counts["instances"]} instances with masks '
          f'({counts["without_mask"]} objects without a mask left out, {counts["images_without_masks"]} images '
          f'without masked objects, {counts["skipped_images"]} skipped by the source), {len(rows)} rows in '
          f'{seconds:.1f} s -> {out_dir}/prompt_ablation.{{md,csv}}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
