"""How the stock tools (``tools/train.py``, ``tools/test.py``) set up a config and its runner.

* ``load_config`` does what mmsegmentation's train.py and test.py both do with the command
  line: ``--launcher``, ``--cfg-options`` and the work directory.
* ``build_runner`` applies the launch-time checks and adjustments below, then builds the
  runner as mmsegmentation's tools do.

* The paper's configs use ``SyncBN``, which needs CUDA. On a machine without a GPU (a
  laptop, or CI exercising the distributed path with gloo) every ``SyncBN`` in the config
  becomes plain ``BN``, and the log says so. On GPU machines nothing changes.
* ``MultiSourceSampler`` is a batch sampler; a config that still names it as the
  ``sampler`` (the form before it became one) is refused with the line to write instead.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from typing import Any

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log


def _replace_sync_bn(node: Any) -> int:
    """Turn ``type='SyncBN'`` into ``'BN'`` everywhere below ``node``; return how many."""
    count = 0
    if isinstance(node, (dict, ConfigDict)):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _replace_sync_bn(value)
    return count


def check_multi_source_sampler(cfg: Config) -> None:
    """Refuse a train dataloader that names MultiSourceSampler as its ``sampler``."""
    loader = cfg.get('train_dataloader', None) or {}
    sampler = loader.get('sampler', None) or {}
    if sampler.get('type') == 'MultiSourceSampler':
        raise ValueError(
            'MultiSourceSampler is a batch sampler: set train_dataloader.batch_sampler='
            "dict(type='MultiSourceSampler') and train_dataloader.sampler=dict(type="
            "'InfiniteSampler', shuffle=False); its batch size is train_dataloader.batch_size")


def prepare_config(cfg: Config) -> Config:
    """All launch-time checks and adjustments (in place; returns ``cfg``)."""
    check_multi_source_sampler(cfg)
    return adapt_config_to_device(cfg)


def adapt_config_to_device(cfg: Config) -> Config:
    """Make ``cfg`` runnable on this machine (in place; returns it).

    Without CUDA, ``SyncBN`` is converted to ``BN`` in the model (and anywhere else in the
    config), since ``SyncBatchNorm`` refuses CPU tensors.
    """
    if torch.cuda.is_available():
        return cfg
    converted = _replace_sync_bn(cfg._cfg_dict)
    if converted:
        print_log(f'samrs_mm: no CUDA device, converted {converted} SyncBN layer config(s) '
                  'to BN (SyncBN needs CUDA)', logger='current')
    return cfg


def load_config(args: argparse.Namespace) -> Config:
    """The config of a stock tool's command line (``config``, ``launcher``, ``cfg_options``,
    ``work_dir``), set up as mmsegmentation's train.py / test.py do.

    work_dir: the command line's, else the config's, else ``./work_dirs/<config name>``.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """The runner of a stock tool: ``prepare_config``, then mmengine's ``Runner`` (or the
    config's registered ``runner_type``), as mmsegmentation's tools build it.

    A config ``prepare_config`` refuses ends the tool with ``error: <reason>`` (exit status
    1) before anything is built.
    """
    # Imported here: the config helpers above must not pull in the training stack.
    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS
    try:
        prepare_config(cfg)
    except ValueError as error:
        sys.exit(f'error: {error}')
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
