"""Check the engine against each SAM family's predictor on a device: every prompt type and combination.

The same check as tests/annotate/test_engine_faithful.py and test_families_faithful.py, as a
script that runs without mmcv / pytest (e.g. on a GPU machine without the repository's
venv): on the real DOTA image P0706 (a 512 x 512 crop with 16 ships for the random-weight
``tiny_test`` models, plus the full image for each family's full-size model), for each family
(``--families``) and each prompt spec it compares every object's mask with the family's predictor for that
object alone (``SamPredictor``, HQ-SAM's ``SamPredictor`` with ``hq_token_only`` False and
True, ``SAM2ImagePredictor``, SAM 3's ``predict_inst``) and prints one table row
(:func:`samrs_mm.annotate.families.reference.compare_with_predictor`). A reference that cannot run as
designed here (SAM 3's predictor skips its hole filling on CPU without scikit-image) is
reported as such and fails the check; ``--sam3-components scipy`` lets it label the regions
of its low-res masks with the engine's scipy labeller instead (same 8-connected labels and
areas; the rest of its post-processing stays its own), as the tests do.

The engine and the reference run with the same TF32 setting (the engine's ``allow_tf32``,
off unless ``--allow-tf32``; printed in the header): with TF32 convolutions a GPU gives
batched and single-prompt logits that differ by about 1e-4. ``--masks`` picks the engine's
mask path (default: the device's, batched on a GPU).

Exit status: 1 when a float32 row is not faithful; reduced-precision rows (``--dtype
bfloat16``) are reported, and only fail with ``--strict``.

Usage: python bench/annotate_faithfulness.py [--device cuda] [--dtype float32|bfloat16]
       [--allow-tf32] [--masks auto|batched|per-object] [--families segment_anything,sam_hq,sam2,sam3|all]
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
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

MASK_PATHS = {'auto': 'auto', 'batched': True, 'per-object': False}
FAMILIES = ('segment_anything', 'sam_hq', 'sam2', 'sam3')
SPECS = ['cp', 'hbox', 'rhbox', 'hbox_mask', 'rhbox_mask', 'rbox_mask', 'hbox+cp', 'rhbox+cp',
         'hbox+hbox_mask', 'rhbox+rbox_mask', 'cp+rbox_mask', 'rhbox+cp+rbox_mask']


def read_dota(image_path, label_path):
    """Image and record instances (quad, its min-area rbox and hull hbox) of a DOTA file."""
    from samrs_mm.structures.boxes import quad_to_hbox, quad_to_rbox
    from samrs_mm.structures.record import Instance
    image = load_image(image_path)
    instances = []
    with open(label_path) as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) < 9:
                continue
            quad = np.array(parts[:8], dtype=np.float64).reshape(4, 2)
            instances.append(Instance(parts[8], hbox=quad_to_hbox(quad), quad=quad, rbox=quad_to_rbox(quad),
                                      origin=f'{label_path}:{number}'))
    return image, instances


def crop(image, instances, x0, y0, size, limit):
    """A window of the image with the instances fully inside it, shifted."""
    from dataclasses import replace
    shift = np.array([x0, y0], dtype=np.float64)
    kept = [replace(i, hbox=i.hbox - np.tile(shift, 2), quad=i.quad - shift,
                    rbox=np.concatenate([i.rbox[:2] - shift, i.rbox[2:]]))
            for i in instances
            if i.hbox[0] >= x0 and i.hbox[1] >= y0 and i.hbox[2] <= x0 + size and i.hbox[3] <= y0 + size]
    return np.ascontiguousarray(image[y0:y0 + size, x0:x0 + size]), kept[:limit]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--data', default=osp.normpath(osp.join(REPO_ROOT, '..', 'shared', 'data')))
    parser.add_argument('--vit-b-objects', type=int, default=64,
                        help="objects of the full image checked with each family's full-size model (SAM / HQ-SAM "
                             'ViT-B, SAM 2.1 Hiera-B+, SAM 3; random weights; 0: skip)')
    parser.add_argument('--specs', default=','.join(SPECS), help='comma-separated prompt specs (small model)')
    parser.add_argument('--strict', action='store_true', help='fail on reduced-precision rows too')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--allow-tf32', action='store_true',
                        help='engine and reference with TF32 allowed (not faithful on GPUs)')
    parser.add_argument('--masks', default='auto', choices=sorted(MASK_PATHS),
                        help="the engine's batched_masks setting")
    parser.add_argument('--families', default='segment_anything',
                        help=f"comma-separated SAM families ({', '.join(FAMILIES)}) or 'all'")
    parser.add_argument('--sam3-components', default='own', choices=['own', 'scipy'],
                        help="connected components of SAM 3's predictor: its own (scikit-image on CPU) or the "
                             "engine's scipy labeller")
    args = parser.parse_args(argv)
    families = list(FAMILIES) if args.families == 'all' else [f.strip() for f in args.families.split(',')]
    if not families or any(f not in FAMILIES for f in families):
        parser.error(f"--families: give a comma-separated list of {', '.join(FAMILIES)} or 'all', "
                     f'got {args.families!r}')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.sam3_components == 'scipy' and 'sam3' in families:
        import sam3.perflib.connected_components as cc

        from samrs_mm.annotate.engine.lowres_cleanup import connected_components
        cc.connected_components = connected_components

    image_path = osp.join(args.data, 'dota', 'images', 'P0706.png')
    label_path = osp.join(args.data, 'dota', 'labelTxt', 'P0706.txt')
    if not (osp.isfile(image_path) and osp.isfile(label_path)):
        print(f'real sample data not found under {args.data} (pass --data)', file=sys.stderr)
        return 2
    image, instances = read_dota(image_path, label_path)
    crop_img, crop_insts = crop(image, instances, 560, 40, 512, 16)
    specs = args.specs.split(',')
    # (family, model type, extra engine settings, specs, image, instances)
    runs = []
    for family in families:
        variants = [dict(hq_token_only=False), dict(hq_token_only=True)] if family == 'sam_hq' else [{}]
        for extra in variants:
            runs.append((family, 'tiny_test', extra, specs, crop_img, crop_insts))
    full_size = {'segment_anything': 'vit_b', 'sam_hq': 'vit_b', 'sam2': 'hiera_b+', 'sam3': 'sam3'}
    if args.vit_b_objects:
        for family in families:
            runs.append((family, full_size[family], {}, ['hbox', 'rbox_mask'], image, instances[:args.vit_b_objects]))

    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'CPU'
    allow_tf32 = bool(args.allow_tf32)
    print(f'\nFaithfulness vs the families\' predictors: device {args.device} ({name}), dtype {args.dtype}, '
          f'torch {torch.__version__}')
    print(f'TF32 (engine and reference alike): {precision.describe_tf32(allow_tf32)}')
    if 'sam3' in families:
        print(f"SAM 3 predictor's connected components: {args.sam3_components}")
    failed, unfaithful = False, 0
    for family, model_type, extra, run_specs, img, insts in runs:
        sam = sam_models.build_sam_model(model_type, random_init=True, seed=0, device=args.device, family=family)

        def engine_for(spec):
            return engine_mod.build_engine(dict(backend=family, prompt=spec, device=args.device, dtype=args.dtype,
                                                prompt_batch_size='auto', allow_tf32=allow_tf32,
                                                batched_masks=MASK_PATHS[args.masks], **extra), model=sam)
        reference_engine = engine_for(run_specs[0])
        predictor = reference.reference_predictor(reference_engine, img)  # the float32 reference
        settings = ', '.join(f'{k}={v}' for k, v in extra.items())
        print(f'\n{sam_models.FAMILY_NAMES[family]} {model_type}{" (" + settings + ")" if settings else ""} '
              f'(random weights), image {img.shape[1]}x{img.shape[0]}, {len(insts)} objects')
        print(f"engine mask path: {'batched' if reference_engine.backend.batched_masks else 'per object'}\n")
        print(reference.TABLE_HEADER)
        for spec in run_specs:
            start = time.perf_counter()
            try:
                report = reference.compare_with_predictor(engine_for(spec), img, insts, source='dota',
                                                          predictor=predictor)
            except RuntimeError as err:  # the reference itself cannot run as designed here
                print(f'| {spec} | reference unavailable: {err} |', flush=True)
                unfaithful += 1
                failed = True
                continue
            print(report.row(), f'({time.perf_counter() - start:.1f} s)', flush=True)
            if not report.passed:
                unfaithful += 1
                failed = failed or args.dtype == 'float32' or args.strict
    if not unfaithful:
        print('\nRESULT: FAITHFUL')
    elif failed:
        print(f'\nRESULT: NOT FAITHFUL ({unfaithful} rows)')
    else:
        print(f'\nRESULT: {args.dtype} is not faithful within the float32 tolerance ({unfaithful} rows); '
              f'reported only (see the mask IoU column)')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
