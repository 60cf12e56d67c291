"""A released file -> an mmengine checkpoint of the model its config builds, checked key for key.

:func:`load_release` reads the file (a truncated or foreign file is one :class:`ReleaseError`),
:func:`release_weights` finds the weights (``state_dict``, DDP / DataParallel ``module.``
removed), :func:`convert_released` recognises the format, maps every key and compares the
result with the model of the format's config, built without allocating its weights
(:func:`model_shapes`): every key of that model present with its shape, nothing else. Only
then is anything written (:func:`save_converted`, atomically). Any mismatch is one line.
"""
from __future__ import annotations

import os.path as osp
import re
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch.overrides import TorchFunctionMode

from .formats import TRAINING_STATE, ReleasedFormat, ReleaseError, recognise
from .mapping import map_released_state_dict

__all__ = ['ConvertedRelease', 'load_release', 'release_weights', 'ParametersOnMeta', 'model_shapes', 'build_config',
           'check_against_model', 'convert_released', 'save_converted']

# the parts of a released model that DataParallel wraps one by one (SAMRS's non-distributed runs)
_WRAPPED_PARTS = re.compile(r'^(encoder|decoder|semseghead(_\d)?|semsegdecoder|inssegdecoder|rotdetdecoder)\.module\.')


@dataclass
class ConvertedRelease:
    """The converted weights and what the conversion did."""
    format: ReleasedFormat
    state_dict: 'OrderedDict[str, torch.Tensor]'
    dropped: Dict[str, str]  # released key -> reason
    training_state: List[str]  # the file's other entries (optimizer, scheduler, ...), not converted
    source_meta: Dict[str, object] = field(default_factory=dict)  # epoch / iteration of the file


def load_release(path: str) -> object:
    """The unpickled content of a released file; :class:`ReleaseError` if it is not a checkpoint.

    The file is the user's own download from the authors' links, trusted like the official
    checkpoints (it pickles numpy arrays: ``loss_pretrain``); safe types are tried first.
    """
    from samrs_mm.compat import trusted_torch_load

    if not osp.isfile(path):
        raise ReleaseError('no such file')
    try:
        return trusted_torch_load(path, map_location='cpu')
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, ImportError, AttributeError,
            ModuleNotFoundError, IndexError, KeyError, TypeError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReleaseError(f'not a readable PyTorch checkpoint (truncated or another kind of file): {detail}') from None
    except Exception as error:  # unpickling arbitrary bytes raises anything (UnpicklingError, ...)
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReleaseError(f'not a readable PyTorch checkpoint: {type(error).__name__}: {detail}') from None


def release_weights(content: object) -> Tuple['OrderedDict[str, torch.Tensor]', List[str], Dict[str, object]]:
    """``(state_dict, training-state entries, {epoch, iteration})`` of a released file's content."""
    if not isinstance(content, Mapping):
        raise ReleaseError(f'holds a {type(content).__name__}, not a checkpoint dict')
    state, others = content, []
    for key in ('state_dict', 'model'):
        if isinstance(content.get(key), Mapping):
            state = content[key]
            others = sorted(str(k) for k in content if k != key)
            break
    tensors = OrderedDict((k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
    if not tensors or len(tensors) != len(state):
        what = 'no tensors' if not tensors else f'{len(state) - len(tensors)} non-tensor entries among its weights'
        raise ReleaseError(f'not a model checkpoint: {what} (expected a state dict under "state_dict" or "model")')
    if all(k.startswith('module.') for k in tensors):
        tensors = OrderedDict((k[len('module.'):], v) for k, v in tensors.items())
    tensors = OrderedDict((_WRAPPED_PARTS.sub(r'\1.', k), v) for k, v in tensors.items())
    meta = {k: content[k] for k in ('epoch', 'iteration') if isinstance(content.get(k), int)}
    unknown = [k for k in others if k not in TRAINING_STATE]
    if unknown:
        raise ReleaseError(f'has entries no released file has beside its weights: {", ".join(unknown[:5])}')
    return tensors, others, meta


class ParametersOnMeta(TorchFunctionMode):
    """Tensor factories without an explicit device create meta tensors (no memory, no time);
    the small ones module constructors compute with (``arange``, ``linspace``) stay real."""

    _FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.randn, torch.rand, torch.empty_strided}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._FACTORIES and kwargs.get('device') is None:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


def build_config(config: str, cfg_options: Optional[dict] = None):
    """The mmengine ``Config`` of ``config`` with ``cfg_options`` merged, its imports and scope set."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def model_shapes(cfg) -> Dict[str, Tuple[int, ...]]:
    """``key -> shape`` of the state dict of ``cfg.model``, built with its weights on the meta
    device (a ViT-L or InternImage-XL costs no memory and a fraction of a second)."""
    from mmengine.registry import MODELS

    # the libraries' deprecation notes about stock heads are noise for a key check
    with ParametersOnMeta(), warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        model = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


_POSITION_TABLE = re.compile(r'backbone\.(pos_embed|layers\.\d+\.attn\.rel_pos_[hw])$')


def _size_hint(key: str, got: Tuple[int, ...], want: Tuple[int, ...], patch: int = 16) -> str:
    """For a position table trained at another input size: which ``img_size`` fits the file."""
    if not _POSITION_TABLE.match(key):
        return ''
    side = int(round(got[1] ** 0.5)) if key.endswith('pos_embed') else (got[0] + 1) // 2
    return (f'; the file is for {side * patch} x {side * patch} inputs: add --cfg-options '
            f'model.backbone.img_size={side * patch} (here and to tools/test.py)')


def check_against_model(state_dict: Mapping[str, torch.Tensor], target: Mapping[str, Tuple[int, ...]],
                        config: str, backbone_only: bool = False, allowed_missing: Sequence[str] = (),
                        origin: Optional[Mapping[str, str]] = None) -> None:
    """Raise :class:`ReleaseError` unless ``state_dict`` holds exactly the model's keys and shapes
    (``origin``: converted key -> released key, to name the file's keys in the message)."""
    origin = origin or {}

    def named(key):
        return f'{origin[key]} (-> {key})' if key in origin else key

    if backbone_only:
        target = {k: v for k, v in target.items() if k.startswith('backbone.')}
    missing = [k for k in target if k not in state_dict and not any(re.match(p, k) for p in allowed_missing)]
    extra = [k for k in state_dict if k not in target]
    if extra:
        raise ReleaseError(f'{len(extra)} key(s) of the file have no place in the model of {config}: '
                           f'{", ".join(named(k) for k in extra[:4])}')
    if missing:
        raise ReleaseError(f'the file lacks {len(missing)} tensor(s) the model of {config} has: '
                           f'{", ".join(missing[:4])}' + (' ...' if len(missing) > 4 else ''))
    wrong = [(k, tuple(v.shape), target[k]) for k, v in state_dict.items() if tuple(v.shape) != target[k]]
    if wrong:
        key, got, want = wrong[0]
        raise ReleaseError(f'{len(wrong)} tensor(s) do not fit the model of {config}, e.g. {named(key)}: file '
                           f'{got} vs model {want}{_size_hint(key, got, want)}')


# MAE files lack RVSA's window heads, relative positions and the feature pyramid: these start
# from their initialisation when the file initialises a ViT-B + RVSA.
_MAE_FRESH = (r'backbone\.layers\.\d+\.attn\.(offset_head|scale_head|angle_head|rel_pos_[hw]|'
              r'relative_position_bias_table)', r'backbone\.pyramid\.')


def convert_released(content: object, config_root: str, cfg_options: Optional[dict] = None) -> ConvertedRelease:
    """Recognise, map and check the content of a released file (see the module docstring).

    ``config_root``: the repository root the formats' config paths are relative to.
    """
    state, training_state, meta = release_weights(content)
    fmt = recognise(state)
    config = osp.join(config_root, fmt.config)
    target = model_shapes(build_config(config, cfg_options))
    mapped = map_released_state_dict(state, fmt, target_keys=target)
    check_against_model(mapped.state_dict, target, fmt.config, backbone_only=fmt.backbone_only,
                        allowed_missing=_MAE_FRESH if fmt.kind == 'mae' else (), origin=mapped.origin)
    return ConvertedRelease(fmt, mapped.state_dict, mapped.dropped, training_state, meta)


def save_converted(result: ConvertedRelease, dst: str, source: str) -> None:
    """Write ``{'state_dict', 'meta'}`` to ``dst`` atomically (a kill leaves no partial file)."""
    from samrs_mm.fileio import atomic_open

    reasons: Dict[str, List[str]] = {}
    for key, reason in result.dropped.items():
        reasons.setdefault(reason, []).append(key)
    meta = dict(converted_from=osp.basename(source), released_format=result.format.name,
                released_title=result.format.title, config=result.format.config,
                left_out=reasons, training_state_left_out=result.training_state, **result.source_meta)
    with atomic_open(dst, 'wb') as handle:
        torch.save(dict(state_dict=result.state_dict, meta=meta), handle)
