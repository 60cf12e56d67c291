"""The SAM labelling engine: detection instances in, one compact mask per instance out.

Build it from a config dict (keys and defaults in :data:`ENGINE_DEFAULTS`, documented in
docs/annotate_engine.md) and feed it images (``H x W x 3`` uint8 RGB) with their record
instances::

    engine = build_engine(dict(backend='segment_anything', model_type='vit_h',
                               checkpoint='sam_vit_h_4b8939.pth', device='cuda', prompt='auto'))
    masks = engine.annotate(image, record.instances, source=record.source, name=record.image_path)
    for m in masks:            # ObjectMask: index, rle, score, area, bbox, prompt
        ...

``annotate_many`` takes an iterable of :class:`AnnotateRequest` and yields one list per
image, sending ``image_batch_size`` images through the encoder together;
``iter_annotate`` streams one image's masks object by object.

Backends: ``segment_anything`` (SAM), ``sam_hq`` (HQ-SAM), ``sam2`` (SAM 2.1), ``sam3``
(SAM 3, box / point / mask prompts) and ``box`` (filled boxes, no model); each SAM family
equals its own reference predictor object by object (docs/annotate_engine.md).

This module and everything it imports use only torch, numpy, pycocotools and the SAM
family packages, loaded when a backend is built (no OpenMMLab), so benchmarks can load
them without mmcv.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from . import box_backend as _box_backend  # noqa: F401  (registers 'box')
from .backend import AnnotateRequest, AnnotationBackend, ObjectMask, backend_class, backend_names
from .prompts import PromptSpec, resolve_prompt_spec

__all__ = ['ENGINE_DEFAULTS', 'EngineConfigError', 'AnnotationEngine', 'build_engine', 'check_engine_config',
           'AnnotateRequest', 'ObjectMask']

ENGINE_DEFAULTS: Dict[str, Any] = dict(
    backend='segment_anything',   # 'segment_anything' | 'sam_hq' | 'sam2' | 'sam3' | 'box' | a registered backend
    model_type='vit_h',           # the family's: SAM / HQ-SAM 'vit_h' ..., SAM 2.1 'hiera_l' ..., 'sam3'; 'tiny_test'
    checkpoint=None,              # path, or 'official' (with download=True)
    random_init=False,            # random SAM weights (tests / timing); needed without checkpoint
    random_seed=0,                # seed of the random weights
    download=False,               # allow checkpoint='official' to download
    device='cpu',                 # 'cpu', 'cuda', 'cuda:1', or 'auto' (cuda when available)
    dtype='float32',              # 'float32' | 'bfloat16' | 'float16' (autocast)
    prompt='auto',                # prompt spec: 'hbox', 'rhbox+cp', 'rbox_mask', ... or 'auto'
    rotated_only_sources=('fair1m',),  # sources that 'auto' labels with RH-Box
    multimask_output=False,       # False: SAM's single mask; True: best of its 3 by predicted IoU
    prompt_batch_size='auto',     # int, or 'auto' = measured on the device
    image_batch_size=1,           # images through the encoder at once
    max_decoder_memory_mb=None,   # cap for decoder activations; None: 1024 on CPU, 1/4 of GPU
    encoder_heads_per_chunk='auto',  # global-attention heads at a time; 'auto': 1 on CPU, all on GPU
    allow_tf32=False,             # TF32 in CUDA conv / matmul during model calls; None: the process's settings
    batched_masks='auto',         # masks + RLE of a prompt batch together; 'auto': on GPU, per object on CPU
    hq_token_only=False,          # sam_hq only: the HQ token's mask alone (True) or added to SAM's (False)
)


class EngineConfigError(ValueError):
    """The engine config has an unknown key or a bad value."""


def check_engine_config(cfg: Optional[Dict[str, Any]], overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Merge ``cfg`` and ``overrides`` over :data:`ENGINE_DEFAULTS` and validate (no model is built).

    Raises :class:`EngineConfigError` (unknown key, bad value) or
    :class:`~samrs_mm.annotate.engine.prompts.PromptError` (bad prompt spec).
    """
    overrides = overrides or {}
    merged = dict(ENGINE_DEFAULTS)
    for source in (cfg or {}, overrides):
        unknown = sorted(set(source) - set(ENGINE_DEFAULTS) - {'type'})
        if unknown:
            raise EngineConfigError(f'unknown engine config key(s) {unknown}; valid keys: '
                                    f'{", ".join(ENGINE_DEFAULTS)}')
        merged.update({k: v for k, v in source.items() if k != 'type'})
    if merged['backend'] not in backend_names():
        raise EngineConfigError(f"unknown backend {merged['backend']!r}; choose one of "
                                f"{', '.join(backend_names())}")
    ibs = merged['image_batch_size']
    if not isinstance(ibs, int) or isinstance(ibs, bool) or ibs < 1:
        raise EngineConfigError(f'image_batch_size must be an int >= 1, got {ibs!r}')
    pbs = merged['prompt_batch_size']
    if pbs != 'auto' and (not isinstance(pbs, int) or isinstance(pbs, bool) or pbs < 1):
        raise EngineConfigError(f"prompt_batch_size must be 'auto' or an int >= 1, got {pbs!r}")
    if not (merged['allow_tf32'] is None or isinstance(merged['allow_tf32'], bool)):
        raise EngineConfigError(f"allow_tf32 must be True, False or None, got {merged['allow_tf32']!r}")
    if not (isinstance(merged['batched_masks'], bool) or merged['batched_masks'] == 'auto'):
        raise EngineConfigError(f"batched_masks must be True, False or 'auto', got {merged['batched_masks']!r}")
    if not isinstance(merged['hq_token_only'], bool):
        raise EngineConfigError(f"hq_token_only must be True or False, got {merged['hq_token_only']!r}")
    if merged['hq_token_only'] and merged['backend'] != 'sam_hq':
        raise EngineConfigError(f"hq_token_only=True applies to backend='sam_hq' only, not {merged['backend']!r}")
    if isinstance(merged['rotated_only_sources'], str):
        merged['rotated_only_sources'] = (merged['rotated_only_sources'],)
    merged['rotated_only_sources'] = tuple(merged['rotated_only_sources'])
    if merged['device'] == 'auto':
        import torch
        merged['device'] = 'cuda' if torch.cuda.is_available() else 'cpu'
    # Parse the prompt now, so a typo fails before any model is built.
    if str(merged['prompt']).strip().lower() != 'auto' and merged['backend'] != 'box':
        resolve_prompt_spec(merged['prompt'])
    return merged


class AnnotationEngine:
    """Labels images: one :class:`ObjectMask` per instance, in instance order."""

    def __init__(self, cfg: Optional[Dict[str, Any]] = None, model=None, **overrides) -> None:
        self.cfg = check_engine_config(cfg, overrides)
        backend_cls = backend_class(self.cfg['backend'])
        if model is None:
            self.backend: AnnotationBackend = backend_cls(self.cfg)
        else:
            # An already built model (e.g. shared with a SamPredictor reference) replaces
            # model_type / checkpoint / random_init.
            self.backend = backend_cls(self.cfg, model=model)

    def prompt_for(self, source: str = '') -> PromptSpec:
        """The prompt spec used for images of ``source`` (``'auto'`` resolved by the paper's rule)."""
        return resolve_prompt_spec(self.cfg['prompt'], source, self.cfg['rotated_only_sources'])

    def iter_annotate(self, image: np.ndarray, instances: Sequence, source: str = '',
                      name: str = '') -> Iterator[ObjectMask]:
        """Stream the masks of one image, object by object."""
        req = AnnotateRequest(image=image, instances=list(instances), source=source, name=name)
        req.check()
        for _, mask in self.backend.iter_masks([req]):
            yield mask

    def annotate(self, image: np.ndarray, instances: Sequence, source: str = '',
                 name: str = '') -> List[ObjectMask]:
        """Masks of one image's instances (``image``: ``H x W x 3`` uint8 RGB)."""
        return list(self.iter_annotate(image, instances, source, name))

    def annotate_many(self, requests: Iterable[AnnotateRequest]) -> Iterator[List[ObjectMask]]:
        """One list of masks per request, in order; ``image_batch_size`` images share an encoder pass."""
        group: List[AnnotateRequest] = []
        for req in requests:
            req.check()
            group.append(req)
            if len(group) == self.cfg['image_batch_size']:
                yield from self.backend.annotate(group)
                group = []
        if group:
            yield from self.backend.annotate(group)

    def annotate_record(self, record, image: Optional[np.ndarray] = None) -> List[ObjectMask]:
        """Masks of an :class:`~samrs_mm.structures.record.ImageRecord` (image loaded when not given)."""
        if image is None:
            from ...sources.image_io import load_image
            image = load_image(record)
        return self.annotate(image, record.instances, source=record.source, name=record.image_path)


# Kept for callers written against the first version of this module.
_check_config = check_engine_config


def build_engine(cfg: Optional[Dict[str, Any]] = None, model=None, **overrides) -> AnnotationEngine:
    """Build an :class:`AnnotationEngine` from a config dict and/or keyword overrides.

    ``model`` optionally hands over an already built model of the backend's family (a
    ``Sam``, HQ-SAM ``Sam``, ``SAM2Base``, or SAM 3 interactive model / ``Sam3Image``).
    """
    return AnnotationEngine(cfg, model=model, **overrides)
