#!/usr/bin/env python
"""Convert a checkpoint the SAMRS / MTP authors released into this package's model.

    python tools/model_converters/convert_released.py SRC DST [--verify] [--cfg-options KEY=VALUE ...]

SRC is a file downloaded from the authors' links (docs/model_zoo.md): a SAMRS SEP model or its
``*_encoder.pth``, a fine-tuned Potsdam / iSAID model, SAMRS-MAE ViT-B, an MTP model or its
``*_encoder.pth``, with or without DDP's ``module.`` prefix. The format is recognised by the
keys; every key is renamed or left out for a documented reason (docs/model_zoo.md lists them);
the result must hold exactly the tensors of the model its config builds, with their shapes,
or nothing is written. DST is an mmengine checkpoint (``state_dict`` + ``meta``) for
``tools/test.py CONFIG DST``, ``load_from`` or ``tools/convert_sep_checkpoint.py``. The last
line printed names the config: ``config: configs/released/....py``.

--verify also builds the model for real, loads DST's tensors strictly and runs one forward
pass on a random image (finite logits of the expected shape) before writing.
--cfg-options change the config the file is checked against (e.g. a file whose position
embedding is for another input size: model.backbone.img_size=448).

Exit status: 0 written; 1 the file is not a released checkpoint this converter knows, is
truncated, or does not fit the config (one line says why; nothing written); 2 bad options.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)  # run from a checkout

from samrs_mm.runs.options import ConfigOptionsAction, ToolArgumentParser, print_error  # noqa: E402


def parse_args(argv=None):
    """Command-line arguments."""
    parser = ToolArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='the released checkpoint (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument('--verify', action='store_true',
                        help='build the model, load the result strictly and run one forward pass before writing')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction, default={},
                        help='KEY=VALUE overrides of the config the file is checked against')
    args = parser.parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        parser.error('dst: must not be the released file itself')
    return args


def _summary(result, src, dst):
    """The lines describing what was converted and left out."""
    fmt = result.format
    when = ', '.join(f'{k} {v}' for k, v in result.source_meta.items())
    lines = [f'{src}: {fmt.title} ({when})' if when else f'{src}: {fmt.title}',
             f'converted {len(result.state_dict)} tensors -> {dst}']
    reasons = {}
    for reason in result.dropped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        lines.append(f'  left out {count:4d} x {reason}')
    if result.training_state:
        lines.append(f'  left out the training state: {", ".join(result.training_state)}')
    if fmt.backbone_only:
        lines.append("backbone weights only: give DST to the config as the backbone's init_cfg "
                     "(dict(type='Pretrained', checkpoint=DST, prefix='backbone.'))")
    return lines


def main(argv=None) -> int:
    """Convert SRC into DST; the exit status (see the module docstring)."""
    args = parse_args(argv)
    import samrs_mm  # noqa: F401  (runtime fixes, registries)
    from samrs_mm.models.released import ReleaseError, convert_released, load_release, save_converted
    from samrs_mm.models.released.verify import verify_converted

    try:
        result = convert_released(load_release(args.src), REPO, args.cfg_options)
        if args.verify:
            report = verify_converted(result, REPO, args.cfg_options)
    except ReleaseError as error:
        print_error(f'{args.src}: {error}')
        return 1
    try:
        save_converted(result, args.dst, args.src)
    except OSError as error:
        print_error(f'{args.dst}: cannot write ({error.strerror or error})')
        return 1
    print('\n'.join(_summary(result, args.src, args.dst)))
    if args.verify:
        print(f'verify: {report}')
    print(f'config: {result.format.config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
