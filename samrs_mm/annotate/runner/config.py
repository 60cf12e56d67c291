"""The annotate config: defaults, checks, the settings fingerprint and the SAM weights check.

Everything here runs before any image is read, so a bad config fails in one line at once.
"""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ['RUNNER_DEFAULTS', 'WRITER_DEFAULTS', 'BATCH_SIZE_DIR', 'FINGERPRINT_ENGINE_KEYS', 'AnnotateConfigError',
           'plain', 'settings_fingerprint', 'sam_weights_problem', 'config_problem', 'with_defaults',
           'check_top_level', 'check_runner_values', 'engine_settings', 'rank_engine_config']

RUNNER_DEFAULTS: Dict[str, Any] = dict(
    num_workers=2,          # DataLoader processes that parse annotations and decode images
    fail_fast=False,        # stop at the first failed image instead of labelling the rest
    progress=True,          # progress bar (rank 0)
    dist_timeout=7 * 24 * 3600,  # seconds rank 0 may wait for the slowest rank
    stretch=(2.0, 98.0),    # percentile stretch of non-8-bit rasters (load_image)
    bands=None,             # 1-based bands of multi-band rasters (load_image)
)
# Folder of the work dir that keeps the prompt batch sizes 'auto' decided.
BATCH_SIZE_DIR = 'prompt_batch_size'
WRITER_DEFAULTS: Dict[str, Any] = dict(
    overlap='small_on_top', ignore_index=255, copy_images=None, color=True, geotiff=True,
    image_root=None, palette=None, splits=None,
    # Not part of the fingerprint: turning it on relabels only images without a vector file.
    vector=None)

# Engine keys that change what is written; device and batch sizes only change speed.
# 'backend' names the model family and 'model_type' the model, so a resumed run never mixes models.
FINGERPRINT_ENGINE_KEYS = ('backend', 'model_type', 'checkpoint', 'random_init', 'random_seed', 'prompt',
                           'rotated_only_sources', 'multimask_output', 'dtype',
                           # TF32 changes CUDA masks (logit differences up to ~1e-4 flip pixels).
                           'allow_tf32')
# Keys only some families read: part of the fingerprint for those families only, so the
# fingerprints of the other configurations (and their existing work dirs) stay as they were.
_FINGERPRINT_FAMILY_KEYS = {'sam_hq': ('hq_token_only',)}


class AnnotateConfigError(ValueError):
    """The annotate config cannot run (bad key, missing weights, unreadable source folder)."""


TOP_LEVEL_KEYS = ('source', 'engine', 'writer', 'runner', 'work_dir')


def plain(obj):
    """Config values as plain json types (ConfigDict -> dict, tuples -> lists)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, type):
        return obj.__name__
    if isinstance(obj, (np.generic,)):
        return obj.item()
    return obj


def settings_fingerprint(engine_cfg: dict, writer_cfg: dict, classes: Sequence[str]) -> str:
    """Short hash of every setting that changes the written files (not device or batch sizes)."""
    keys = FINGERPRINT_ENGINE_KEYS + _FINGERPRINT_FAMILY_KEYS.get(engine_cfg.get('backend'), ())
    engine = {k: engine_cfg.get(k) for k in keys}
    if engine.get('checkpoint'):
        # The weights matter, not where they are stored.
        engine['checkpoint'] = osp.basename(str(engine['checkpoint']))
    writer = {k: writer_cfg.get(k) for k in ('overlap', 'ignore_index', 'copy_images', 'color', 'geotiff',
                                              'image_root', 'palette')}
    text = json.dumps(plain(dict(engine=engine, writer=writer, classes=list(classes))), sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]


OFFICIAL_SAM_CHECKPOINTS = ('official SAM checkpoints: https://github.com/facebookresearch/segment-anything'
                            '#model-checkpoints (vit_h: https://dl.fbaipublicfiles.com/segment_anything/'
                            'sam_vit_h_4b8939.pth)')


def _official_weights_hint(backend: str, model_type) -> str:
    """Where the official weights of a SAM family's model type are (one line)."""
    if backend == 'segment_anything':
        return OFFICIAL_SAM_CHECKPOINTS
    from ..families.models import FAMILY_NAMES, OFFICIAL_CHECKPOINTS
    urls = OFFICIAL_CHECKPOINTS.get(backend, {})
    url = urls.get(model_type) or ', '.join(f'{t}: {u}' for t, u in urls.items())
    return (f"official {FAMILY_NAMES[backend]} weights: {url} (or engine.checkpoint='official' with "
            f'engine.download=True)')


def sam_weights_problem(engine_cfg: dict) -> Optional[str]:
    """Why a SAM-family model cannot be built from ``engine_cfg`` (checkpoint missing), with the fix; None if fine.

    Checked before any work starts, so a long run never fails on its first image for this.
    """
    from ..families.models import FAMILY_NAMES, SAM_FAMILIES
    backend = engine_cfg.get('backend', 'segment_anything')
    if backend not in SAM_FAMILIES:
        return None
    name = FAMILY_NAMES[backend]
    hint = _official_weights_hint(backend, engine_cfg.get('model_type'))
    checkpoint = engine_cfg.get('checkpoint')
    if str(checkpoint).strip() in ('', 'none', 'None'):
        checkpoint = None
    if not checkpoint and not engine_cfg.get('random_init'):
        example = 'sam_vit_h_4b8939.pth' if backend == 'segment_anything' else 'WEIGHTS_FILE'
        return (f"engine.backend={backend!r} needs {name} weights and engine.checkpoint is not set.\n"
                f'  give them:     --cfg-options engine.checkpoint=/path/to/{example} '
                '(or set SAM_CHECKPOINT for the configs in configs/annotate)\n'
                '  or skip SAM:   --cfg-options engine.backend=box   (fills each box: a baseline, not SAM masks)\n'
                f'  {hint}')
    if checkpoint and checkpoint != 'official' and not osp.isfile(osp.expanduser(str(checkpoint))):
        return (f'{name} checkpoint not found: {checkpoint} (cwd {os.getcwd()}).\n'
                f'  {hint}; or label without SAM: --cfg-options engine.backend=box')
    return None



def config_problem(key: str, value, valid: str) -> AnnotateConfigError:
    """The one-line error of an option ``key`` with a bad ``value`` and what is valid."""
    return AnnotateConfigError(f'{key}: got {value!r}; valid: {valid}')


def check_top_level(cfg: dict) -> None:
    """Refuse unknown top-level keys and a config without ``source``, ``engine`` or ``work_dir``."""
    unknown = sorted(set(cfg) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise AnnotateConfigError(f'unknown top-level annotate config key(s) {unknown}; expected source, '
                                  f'engine, writer, runner, work_dir')
    for key in ('source', 'engine', 'work_dir'):
        if not cfg.get(key):
            raise AnnotateConfigError(f'the annotate config needs {key!r}')


def with_defaults(cfg: dict, key: str, defaults: Dict[str, Any]) -> Dict[str, Any]:
    """``cfg[key]`` over ``defaults``; unknown keys are refused, naming the valid ones."""
    given = dict(cfg.get(key) or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise AnnotateConfigError(f'unknown {key} config key(s) {unknown}; valid keys: {", ".join(defaults)}')
    merged = dict(defaults)
    merged.update(given)
    return merged


def check_runner_values(cfg: Dict[str, Any]) -> None:
    """Refuse runner values that would fail deep inside torch or numpy later."""

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(cfg['num_workers']) or cfg['num_workers'] < 0:
        raise config_problem('runner.num_workers', cfg['num_workers'], 'an int >= 0')
    for key in ('fail_fast', 'progress'):
        if not isinstance(cfg[key], bool):
            raise config_problem(f'runner.{key}', cfg[key], 'True or False')
    timeout = cfg['dist_timeout']
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise config_problem('runner.dist_timeout', timeout, 'seconds > 0')
    stretch = cfg['stretch']
    if (not isinstance(stretch, (list, tuple)) or len(stretch) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stretch)
            or not 0 <= stretch[0] < stretch[1] <= 100):
        raise config_problem('runner.stretch', stretch, 'two percentiles (low, high), 0 <= low < high <= 100')
    bands = cfg['bands']
    if bands is not None and (not isinstance(bands, (list, tuple)) or not bands
                              or not all(is_int(b) and b >= 1 for b in bands)):
        raise config_problem('runner.bands', bands, 'None or a list of 1-based band numbers')


def engine_settings(engine_cfg: dict) -> dict:
    """The engine settings summary.json records: the fingerprint's keys the config sets."""
    return plain({k: engine_cfg.get(k) for k in FINGERPRINT_ENGINE_KEYS if k in engine_cfg})


def rank_engine_config(engine_cfg: dict, world_size: int) -> dict:
    """The engine config one rank builds: a GPU per rank (``LOCAL_RANK``, as torchrun / Slurm
    assign them) when a multi-rank run asks for CUDA; ``type`` dropped."""
    import torch
    cfg = {k: v for k, v in engine_cfg.items() if k != 'type'}
    if world_size > 1 and str(cfg.get('device', 'cpu')) in ('cuda', 'auto') and torch.cuda.is_available():
        cfg['device'] = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
    return cfg
