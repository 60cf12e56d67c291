"""Train a segmentor with mmengine's runner, the samrs_mm plugin loaded.

Same arguments and behaviour as mmsegmentation's ``tools/train.py``; in addition the plugin
is imported (runtime fixes + registered classes) and, without CUDA, ``SyncBN`` becomes ``BN``.
Configs of other OpenMMLab scopes run the same way: ``configs/mae/`` (SAMRS-MAE) is an
mmpretrain config (``default_scope = 'mmpretrain'``).
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmengine.config import DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

import samrs_mm  # noqa: E402,F401  (applies compat fixes, registers modules)
from samrs_mm.launch import build_runner, load_config  # noqa: E402


def parse_args():
    """Parse the command line (mmsegmentation's train.py arguments)."""
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true', default=False,
                        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value pairs, e.g. '
                             'train_dataloader.batch_size=2 "model.backbone.depth=18"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    """Build the runner from the config and train."""
    args = parse_args()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file not found: {args.config}')
    cfg = load_config(args)

    if args.amp:
        from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
        if not (is_cuda_available() or is_npu_available() or is_mlu_available()
                or is_musa_available()):
            sys.exit('error: --amp needs a GPU (or NPU / MLU / MUSA device): mmengine\'s '
                     'AmpOptimWrapper does not run on CPU. Drop --amp on this machine.')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            if optim_wrapper != 'OptimWrapper':
                sys.exit('error: --amp needs optim_wrapper.type == "OptimWrapper", '
                         f'got {optim_wrapper!r}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    cfg.resume = args.resume
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
