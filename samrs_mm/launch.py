"""Config checks and adjustments the stock tools make at launch.

* The paper's configs use ``SyncBN``, which needs CUDA. On a machine without a GPU (a
  laptop, or CI exercising the distributed path with gloo) every ``SyncBN`` in the config
  becomes plain ``BN``, and the log says so. On GPU machines nothing changes.
* ``MultiSourceSampler`` yields one per-process batch after another; if the dataloader's
  ``batch_size`` differs from the sampler's, batches straddle and the proportions are lost
  silently. That mismatch is refused before anything is built.
"""
from __future__ import annotations

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


def check_multi_source_batch(cfg: Config) -> None:
    """Refuse a train dataloader whose batch size differs from its MultiSourceSampler's."""
    loader = cfg.get('train_dataloader', None) or {}
    sampler = loader.get('sampler', None) or {}
    if sampler.get('type') != 'MultiSourceSampler':
        return
    if sampler.get('batch_size') != loader.get('batch_size'):
        raise ValueError(
            f'train_dataloader.batch_size ({loader.get("batch_size")}) must equal '
            f'train_dataloader.sampler.batch_size ({sampler.get("batch_size")}) for '
            'MultiSourceSampler: override both (e.g. --cfg-options train_dataloader.batch_size=4 '
            'train_dataloader.sampler.batch_size=4)')


def prepare_config(cfg: Config) -> Config:
    """All launch-time checks and adjustments (in place; returns ``cfg``)."""
    check_multi_source_batch(cfg)
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
