"""Build the SAM family models: official architectures, small test architectures, and their weights.

Four families, each named like its engine backend:

=====================  ===========================================  ==========================
family                 model types                                  package
=====================  ===========================================  ==========================
``segment_anything``   ``vit_h``, ``vit_l``, ``vit_b``, ``tiny_test``  ``segment_anything`` 1.0
``sam_hq``             ``vit_h``, ``vit_l``, ``vit_b``, ``vit_tiny``,  ``segment_anything_hq`` 0.3
                       ``tiny_test``
``sam2``               ``hiera_t``, ``hiera_s``, ``hiera_b+``,         ``sam2`` 1.1.0 (SAM 2.1)
                       ``hiera_l``, ``tiny_test``
``sam3``               ``sam3``, ``tiny_test``                        ``sam3`` 0.1.4
=====================  ===========================================  ==========================

Weights come from a checkpoint file, or from the official file of the model type when the
caller passes ``checkpoint='official'`` together with ``download=True``, or are random when
the caller sets ``random_init=True`` (for tests and timing only: random weights give
meaningless masks). Nothing is downloaded unless asked. A checkpoint that does not fit the
architecture is refused with an error that names the file and, when it recognises the
file, the family and size it belongs to ("it looks like a SAM 2.1 hiera_l checkpoint").

The builders live in :mod:`.architectures`; further variants plug in with
:func:`register_sam_model`. A ``segment_anything`` builder returns a
:class:`segment_anything.modeling.Sam` (any encoder, same prompt encoder / mask decoder
interface) and works with the whole engine.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Callable, Dict, Optional

import torch

from . import architectures as fm

__all__ = ['SAM_FAMILIES', 'FAMILY_NAMES', 'SAM_CHECKPOINT_URLS', 'OFFICIAL_CHECKPOINTS', 'SAM_MODEL_TYPES',
           'model_types', 'register_sam_model', 'build_sam_model', 'build_tiny_test_sam', 'describe_checkpoint',
           'SamBuildError']

SAM_FAMILIES = ('segment_anything', 'sam_hq', 'sam2', 'sam3')
# How the families are called in messages and tables.
FAMILY_NAMES = {'segment_anything': 'SAM', 'sam_hq': 'HQ-SAM', 'sam2': 'SAM 2.1', 'sam3': 'SAM 3'}

_HQ_URL = 'https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_{}.pth'
_SAM21_URL = 'https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_{}.pt'
# The official weight file of each family's model types (its basename is the file's name).
OFFICIAL_CHECKPOINTS: Dict[str, Dict[str, str]] = {
    'segment_anything': {
        'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
        'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
        'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
    },
    'sam_hq': {t: _HQ_URL.format(t) for t in ('vit_h', 'vit_l', 'vit_b', 'vit_tiny')},
    'sam2': {'hiera_t': _SAM21_URL.format('tiny'), 'hiera_s': _SAM21_URL.format('small'),
             'hiera_b+': _SAM21_URL.format('base_plus'), 'hiera_l': _SAM21_URL.format('large')},
    # Gated on the Hugging Face hub: downloaded with huggingface_hub (your token), see _download.
    'sam3': {'sam3': 'https://huggingface.co/facebook/sam3/resolve/main/sam3.pt'},
}
# Kept under its first name: the segment_anything table.
SAM_CHECKPOINT_URLS: Dict[str, str] = OFFICIAL_CHECKPOINTS['segment_anything']

_REGISTRY: Dict[str, Dict[str, Callable[[], 'torch.nn.Module']]] = {
    'segment_anything': {
        'vit_h': fm.official_sam('vit_h'), 'vit_l': fm.official_sam('vit_l'), 'vit_b': fm.official_sam('vit_b'),
        'tiny_test': fm.build_tiny_test_sam,
    },
    'sam_hq': {
        'vit_h': fm.official_sam_hq('vit_h'), 'vit_l': fm.official_sam_hq('vit_l'),
        'vit_b': fm.official_sam_hq('vit_b'), 'vit_tiny': fm.official_sam_hq('vit_tiny'),
        'tiny_test': fm.build_tiny_test_sam_hq,
    },
    'sam2': {
        'hiera_t': fm.official_sam2('t'), 'hiera_s': fm.official_sam2('s'), 'hiera_b+': fm.official_sam2('b+'),
        'hiera_l': fm.official_sam2('l'), 'tiny_test': fm.build_tiny_test_sam2,
    },
    'sam3': {'sam3': fm.official_sam3, 'tiny_test': fm.build_tiny_test_sam3},
}
SAM_MODEL_TYPES = tuple(_REGISTRY['segment_anything'])

# Kept under its first name.
build_tiny_test_sam = fm.build_tiny_test_sam


class SamBuildError(ValueError):
    """A SAM model cannot be built as asked (bad model type, checkpoint or flags)."""


def _check_family(family: str) -> None:
    if family not in _REGISTRY:
        raise SamBuildError(f'unknown SAM family {family!r}; choose one of {", ".join(_REGISTRY)}')


def model_types(family: str = 'segment_anything') -> tuple:
    """Model types registered for ``family``."""
    _check_family(family)
    return tuple(_REGISTRY[family])


def register_sam_model(name: str, builder: Callable[[], 'torch.nn.Module'], url: Optional[str] = None,
                       force: bool = False, family: str = 'segment_anything') -> None:
    """Make ``model_type=name`` of ``family`` build ``builder()`` (no weights); ``url``: its official checkpoint."""
    _check_family(family)
    if name in _REGISTRY[family] and not force:
        raise SamBuildError(f'{FAMILY_NAMES[family]} model type {name!r} is already registered '
                            f'(pass force=True to replace it)')
    _REGISTRY[family][name] = builder
    if url:
        OFFICIAL_CHECKPOINTS[family][name] = url
    global SAM_MODEL_TYPES
    SAM_MODEL_TYPES = tuple(_REGISTRY['segment_anything'])


# ----------------------------------------------------------------------------- weight files
def _load_state_dict(path: str) -> dict:
    """Read a checkpoint file into a state dict, with errors that name the file."""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise SamBuildError(f'cannot read SAM checkpoint {path}: {type(err).__name__}: {err}') from err
    if isinstance(state, dict) and 'model' in state and isinstance(state['model'], dict):
        state = state['model']  # SAM 2 / SAM 3 files and some fine-tuned checkpoints wrap the weights
    if not isinstance(state, dict) or not state:
        raise SamBuildError(f'SAM checkpoint {path} does not hold a state dict')
    return state


# Image-encoder width of the ViT models (SAM, HQ-SAM) and (width, blocks) of SAM 2.1's Hiera trunks.
_VIT_WIDTH = {1280: 'vit_h', 1024: 'vit_l', 768: 'vit_b'}
_HIERA = {(96, 12): 'hiera_t', (96, 16): 'hiera_s', (112, 24): 'hiera_b+', (144, 48): 'hiera_l'}


def describe_checkpoint(state: dict) -> Optional[str]:
    """Which family and model type a state dict looks like (e.g. ``'a SAM 2.1 hiera_l checkpoint'``), or None."""
    keys = state.keys()
    if any(k.startswith(('detector.', 'tracker.')) for k in keys) or any(
            k.startswith('inst_interactive_predictor.model.sam_mask_decoder.') for k in keys):
        return 'a SAM 3 checkpoint'
    trunk = state.get('image_encoder.trunk.patch_embed.proj.weight')
    if trunk is not None:
        blocks = {int(m.group(1)) for k in keys for m in [re.match(r'image_encoder\.trunk\.blocks\.(\d+)\.', k)] if m}
        size = _HIERA.get((int(trunk.shape[0]), len(blocks)))
        # SAM 2.1 added the no-object spatial embedding; SAM 2.0 files lack it.
        version = 'SAM 2.1' if 'no_obj_embed_spatial' in state else 'SAM 2.0'
        return (f'a {version} checkpoint (Hiera width {int(trunk.shape[0])}, {len(blocks)} blocks)' if size is None
                else f'a {version} {size} checkpoint')
    hq = 'mask_decoder.hf_token.weight' in state
    family = 'an HQ-SAM' if hq else 'a SAM'
    patch = state.get('image_encoder.patch_embed.proj.weight')
    if patch is not None and int(patch.shape[0]) in _VIT_WIDTH:
        return f'{family} {_VIT_WIDTH[int(patch.shape[0])]} checkpoint'
    if any(k.startswith('image_encoder.patch_embed.seq.') for k in keys):
        return f'{family} vit_tiny (TinyViT) checkpoint'
    if any(k.startswith('mask_decoder.') for k in keys):
        return f'{family} checkpoint'
    return None


def _check_fits(state: dict, model, family: str, model_type: str, path: str) -> None:
    """Raise a clear error when ``state`` belongs to another family or architecture."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or mismatched):
        return
    looks = describe_checkpoint(state)
    hint = f'; it looks like {looks}' if looks else ''
    details = []
    for label, keys in (('missing', missing), ('unexpected', unexpected), ('shape-mismatched', mismatched)):
        if keys:
            details.append(f'{len(keys)} {label} keys (e.g. {keys[0]})')
    raise SamBuildError(f'SAM checkpoint {path} does not fit {FAMILY_NAMES[family]} model_type={model_type!r}: '
                        f'{", ".join(details)}{hint}')


def _download(family: str, model_type: str) -> dict:
    """The official weights of ``model_type`` (cached by torch.hub, or by huggingface_hub for gated files)."""
    url = OFFICIAL_CHECKPOINTS[family][model_type]
    try:
        match = re.match(r'https://huggingface\.co/([^/]+/[^/]+)/resolve/main/(.+)$', url)
        if family == 'sam3' and match:
            # Gated repository: huggingface_hub sends the user's token (huggingface-cli login).
            from huggingface_hub import hf_hub_download
            return _load_state_dict(hf_hub_download(repo_id=match.group(1), filename=match.group(2)))
        state = torch.hub.load_state_dict_from_url(url, map_location='cpu')
    except SamBuildError:
        raise
    except Exception as err:  # noqa: BLE001 - network errors vary by platform
        raise SamBuildError(f'could not download {url}: {err}') from err
    if isinstance(state, dict) and isinstance(state.get('model'), dict):
        state = state['model']
    return state


def build_sam_model(model_type: str = 'vit_h', checkpoint: Optional[str] = None, random_init: bool = False,
                    seed: int = 0, download: bool = False, device='cpu',
                    family: str = 'segment_anything') -> 'torch.nn.Module':
    """Build a model of a SAM family in eval mode on ``device``.

    Args:
        model_type: one of :func:`model_types` of ``family`` (``'vit_h'``, ``'hiera_l'``,
            ``'tiny_test'``, ...).
        checkpoint: path of a checkpoint file, or ``'official'`` for the official weights of
            ``model_type`` (needs ``download=True``; cached by ``torch.hub``).
        random_init: build with random weights; required when ``checkpoint`` is None, and
            refused together with a checkpoint.
        seed: seed of the random weights (the global RNG state is left untouched).
        download: allow downloading ``checkpoint='official'``.
        family: ``'segment_anything'``, ``'sam_hq'``, ``'sam2'`` or ``'sam3'``.
    """
    _check_family(family)
    name = FAMILY_NAMES[family]
    registry = _REGISTRY[family]
    urls = OFFICIAL_CHECKPOINTS[family]
    if model_type not in registry:
        raise SamBuildError(f'unknown {name} model_type {model_type!r}; choose one of {", ".join(registry)}')
    if checkpoint and random_init:
        raise SamBuildError('give either a checkpoint or random_init=True, not both')
    if not checkpoint and not random_init:
        raise SamBuildError(f'no {name} checkpoint given for model_type={model_type!r}: pass the path of '
                            f'the weights (official: {urls.get(model_type, "n/a")}), '
                            f"checkpoint='official' with download=True, or random_init=True for "
                            f'random weights (tests and timing only)')
    state = None
    if checkpoint == 'official':
        if model_type not in urls:
            raise SamBuildError(f'{name} model_type {model_type!r} has no official checkpoint')
        if not download:
            raise SamBuildError(f"checkpoint='official' downloads {urls[model_type]}: "
                                f'pass download=True to allow it, or give a local path')
        state = _download(family, model_type)
        checkpoint = urls[model_type]
    elif checkpoint:
        checkpoint = osp.expanduser(str(checkpoint))
        if not osp.isfile(checkpoint):
            raise SamBuildError(f'{name} checkpoint not found: {checkpoint} (cwd {os.getcwd()})')
        state = _load_state_dict(checkpoint)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = registry[model_type]()
    if state is not None:
        if family == 'sam3':
            state = fm.sam3_state_from_release(state)
        _check_fits(state, model, family, model_type, checkpoint)
        model.load_state_dict(state)
    return model.eval().to(device)
