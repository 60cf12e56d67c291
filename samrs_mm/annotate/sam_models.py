"""Build Segment Anything models: the official ViT-H / ViT-L / ViT-B and a small test architecture.

Weights come from a checkpoint file, or from the official download URL when the caller
passes ``checkpoint='official'`` together with ``download=True``, or are random when the
caller sets ``random_init=True`` (for tests and timing only: random weights give
meaningless masks). Nothing is downloaded unless asked.

Further SAM variants plug in with :func:`register_sam_model`: a builder that returns a
:class:`segment_anything.modeling.Sam` (any encoder, same prompt encoder / mask decoder
interface) works with the whole engine.
"""
from __future__ import annotations

import os
import os.path as osp
from functools import partial
from typing import Callable, Dict, Optional

import torch

__all__ = ['SAM_CHECKPOINT_URLS', 'SAM_MODEL_TYPES', 'register_sam_model', 'build_sam_model',
           'build_tiny_test_sam', 'SamBuildError']

SAM_CHECKPOINT_URLS: Dict[str, str] = {
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
}

# Image-encoder width of each official model, to name the right model type when a
# checkpoint does not fit the one asked for.
_ENCODER_WIDTH = {1280: 'vit_h', 1024: 'vit_l', 768: 'vit_b'}


class SamBuildError(ValueError):
    """A SAM model cannot be built as asked (bad model type, checkpoint or flags)."""


def build_tiny_test_sam() -> 'torch.nn.Module':
    """A small SAM with SAM's exact interfaces and frames, for CPU tests.

    Same 1024 input frame, 16-pixel patches, 64 x 64 image embedding and 256 x 256
    low-resolution masks as the official models (so prompts, padding and mask
    post-processing are exercised exactly), but a 2-block, 32-wide encoder and a 32-wide
    decoder. Built from ``segment_anything``'s own modules; only meaningful with random weights.
    """
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
    dim = 32
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=1024, patch_size=16, embed_dim=dim, depth=2, num_heads=2, mlp_ratio=2,
            out_chans=dim, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True, window_size=14, global_attn_indexes=(1,)),
        prompt_encoder=PromptEncoder(
            embed_dim=dim, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
            mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=dim, mlp_dim=64, num_heads=2),
            transformer_dim=dim, iou_head_depth=3, iou_head_hidden_dim=dim),
    )
    return sam.eval()


def _official_builder(model_type: str) -> Callable[[], 'torch.nn.Module']:
    """Builder of an official architecture, without weights (they are loaded separately)."""
    def build():
        from segment_anything import sam_model_registry
        return sam_model_registry[model_type](checkpoint=None)
    return build


_REGISTRY: Dict[str, Callable[[], 'torch.nn.Module']] = {
    'vit_h': _official_builder('vit_h'),
    'vit_l': _official_builder('vit_l'),
    'vit_b': _official_builder('vit_b'),
    'tiny_test': build_tiny_test_sam,
}
SAM_MODEL_TYPES = tuple(_REGISTRY)


def register_sam_model(name: str, builder: Callable[[], 'torch.nn.Module'], url: Optional[str] = None,
                       force: bool = False) -> None:
    """Make ``model_type=name`` build ``builder()`` (a ``Sam`` without weights); ``url`` is its official checkpoint."""
    if name in _REGISTRY and not force:
        raise SamBuildError(f'SAM model type {name!r} is already registered (pass force=True to replace it)')
    _REGISTRY[name] = builder
    if url:
        SAM_CHECKPOINT_URLS[name] = url
    global SAM_MODEL_TYPES
    SAM_MODEL_TYPES = tuple(_REGISTRY)


def _load_state_dict(path: str) -> dict:
    """Read a checkpoint file into a state dict, with errors that name the file."""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise SamBuildError(f'cannot read SAM checkpoint {path}: {type(err).__name__}: {err}') from err
    if isinstance(state, dict) and 'model' in state and isinstance(state['model'], dict):
        state = state['model']  # some fine-tuned checkpoints wrap the weights
    if not isinstance(state, dict) or not state:
        raise SamBuildError(f'SAM checkpoint {path} does not hold a state dict')
    return state


def _check_fits(state: dict, model, model_type: str, path: str) -> None:
    """Raise a clear error when ``state`` belongs to another architecture."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or mismatched):
        return
    hint = ''
    patch = state.get('image_encoder.patch_embed.proj.weight')
    if patch is not None and int(patch.shape[0]) in _ENCODER_WIDTH:
        hint = f'; it looks like a {_ENCODER_WIDTH[int(patch.shape[0])]} checkpoint'
    details = []
    for label, keys in (('missing', missing), ('unexpected', unexpected), ('shape-mismatched', mismatched)):
        if keys:
            details.append(f'{len(keys)} {label} keys (e.g. {keys[0]})')
    raise SamBuildError(f'SAM checkpoint {path} does not fit model_type={model_type!r}: '
                        f'{", ".join(details)}{hint}')


def build_sam_model(model_type: str = 'vit_h', checkpoint: Optional[str] = None, random_init: bool = False,
                    seed: int = 0, download: bool = False, device='cpu') -> 'torch.nn.Module':
    """Build a SAM in eval mode on ``device``.

    Args:
        model_type: ``'vit_h'``, ``'vit_l'``, ``'vit_b'``, ``'tiny_test'`` or a registered type.
        checkpoint: path of a checkpoint file, or ``'official'`` for the official weights of
            ``model_type`` (needs ``download=True``; cached by ``torch.hub``).
        random_init: build with random weights; required when ``checkpoint`` is None, and
            refused together with a checkpoint.
        seed: seed of the random weights (the global RNG state is left untouched).
        download: allow downloading ``checkpoint='official'``.
    """
    if model_type not in _REGISTRY:
        raise SamBuildError(f'unknown SAM model_type {model_type!r}; choose one of {", ".join(_REGISTRY)}')
    if checkpoint and random_init:
        raise SamBuildError('give either a checkpoint or random_init=True, not both')
    if not checkpoint and not random_init:
        raise SamBuildError(f'no SAM checkpoint given for model_type={model_type!r}: pass the path of '
                            f'the weights (official: {SAM_CHECKPOINT_URLS.get(model_type, "n/a")}), '
                            f"checkpoint='official' with download=True, or random_init=True for "
                            f'random weights (tests and timing only)')
    state = None
    if checkpoint == 'official':
        if model_type not in SAM_CHECKPOINT_URLS:
            raise SamBuildError(f'model_type {model_type!r} has no official checkpoint')
        if not download:
            raise SamBuildError(f"checkpoint='official' downloads {SAM_CHECKPOINT_URLS[model_type]}: "
                                f'pass download=True to allow it, or give a local path')
        try:
            state = torch.hub.load_state_dict_from_url(SAM_CHECKPOINT_URLS[model_type], map_location='cpu')
        except Exception as err:  # noqa: BLE001 - network errors vary by platform
            raise SamBuildError(f'could not download {SAM_CHECKPOINT_URLS[model_type]}: {err}') from err
        checkpoint = SAM_CHECKPOINT_URLS[model_type]
    elif checkpoint:
        checkpoint = osp.expanduser(str(checkpoint))
        if not osp.isfile(checkpoint):
            raise SamBuildError(f'SAM checkpoint not found: {checkpoint} (cwd {os.getcwd()})')
        state = _load_state_dict(checkpoint)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _REGISTRY[model_type]()
    if state is not None:
        _check_fits(state, model, model_type, checkpoint)
        model.load_state_dict(state)
    return model.eval().to(device)
