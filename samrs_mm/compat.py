"""Runtime fixes for the pinned, unmaintained OpenMMLab stack on current torch / numpy / Python.

Each fix corresponds to a breakage listed in DESIGN.md section 2, was fixed upstream but
never released, and is applied once by :func:`apply_all` (called at ``import samrs_mm``,
before mmseg / mmdet are imported). Every fix is idempotent: applying it twice changes
nothing. Nothing else lives in this module.

* :func:`fix_checkpoint_loading`: torch >= 2.6 loads with ``weights_only=True`` by default,
  which rejects mmengine's own checkpoints (numpy scalars, ``HistoryBuffer``), so
  ``--resume`` breaks. Local checkpoints are loaded safely with an allow-list first and
  fully unpickled only when that fails (the file is the user's own, hence trusted).
* :func:`fix_package_utils`: setuptools >= 82 has no ``pkg_resources``; mmengine's
  ``is_installed`` / ``get_installed_path`` / ``package2module`` use it, which breaks
  ``mmdet::`` / ``mmseg::`` base configs and ``mmengine.hub``. Re-implemented with
  ``importlib.metadata``.
* :func:`fix_adjust_hue`: under numpy 2 (NEP 50) ``np.uint8(negative)`` overflows in
  ``mmcv.adjust_hue``; the shift is computed modulo 256 as intended.
* :func:`fix_cpu_distributed`: mmengine calls ``torch.cuda.set_device`` unconditionally
  when launched by torchrun, and wraps models with ``device_ids=[LOCAL_RANK]``, which DDP
  refuses for CPU modules. Without a GPU the process group uses gloo and the DDP wrapper
  gets ``device_ids=None``.
* :func:`import_mmrotate`: mmrotate 1.0.0rc1 asserts ``mmdet <= 3.1.0`` and imports
  ``collections.Sequence`` (gone in Python 3.10). Imported lazily, only where rotated boxes
  are needed.
* :func:`fix_mmrotate_eval_workers` (applied by :func:`import_mmrotate`): ``DOTAMetric``'s
  mAP computes TP / FP in a *spawned* process pool, whose fresh interpreters import mmrotate
  without the fix above and die on its version assert (evaluation hangs or fails). Workers
  are forked instead (they inherit the imported modules), or run in-process where the
  platform cannot fork.
"""
from __future__ import annotations

import collections
import collections.abc
import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import os.path as osp
import pickle
from typing import Any, Callable, List

import numpy as np
import torch

_PATCHED_FLAG = '__samrs_mm_patched__'


def _is_patched(func: Callable) -> bool:
    """Tell whether ``func`` is one of our replacements (so re-applying is a no-op)."""
    return getattr(func, _PATCHED_FLAG, False)


def _mark(func: Callable) -> Callable:
    setattr(func, _PATCHED_FLAG, True)
    return func


# --------------------------------------------------------------------------- checkpoints
def _checkpoint_safe_globals() -> List[Any]:
    """Types found in mmengine checkpoints that are safe to rebuild under ``weights_only``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed: List[Any] = [HistoryBuffer, np.ndarray, np.dtype, collections.OrderedDict]
    # numpy moved its internals to numpy._core in 2.0; pickles name either path.
    for module_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        allowed += [getattr(module, name) for name in ('scalar', '_reconstruct') if hasattr(module, name)]
    # Concrete dtype classes (numpy >= 1.25), e.g. numpy.dtypes.Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return allowed


def trusted_torch_load(file: Any, map_location: Any = None) -> Any:
    """Load a checkpoint the user trusts: safe allow-listed unpickling first, full as fallback.

    Mirrors what newer mmengine does: most mmengine checkpoints load with
    ``weights_only=True`` once numpy scalars and ``HistoryBuffer`` are allowed; anything
    else (arbitrary objects in ``meta``) falls back to the pre-2.6 behaviour.
    """
    if 'weights_only' not in torch.load.__code__.co_varnames:  # torch < 1.13
        return torch.load(file, map_location=map_location)
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    try:
        if safe_globals is None:
            return torch.load(file, map_location=map_location, weights_only=True)
        with safe_globals(_checkpoint_safe_globals()):
            return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        if hasattr(file, 'seek'):
            file.seek(0)
        return torch.load(file, map_location=map_location, weights_only=False)


def fix_checkpoint_loading() -> None:
    """Make mmengine's local-file checkpoint loader work with torch >= 2.6 defaults."""
    from mmengine.runner import checkpoint as ckpt_module
    registered = ckpt_module.CheckpointLoader._schemes.get('')
    if registered is not None and _is_patched(registered):
        return

    @_mark
    def load_from_local(filename, map_location=None):
        """Load a checkpoint from a local path (torch >= 2.6 aware)."""
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return trusted_torch_load(filename, map_location=map_location)

    ckpt_module.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    ckpt_module.load_from_local = load_from_local


# ------------------------------------------------------------------------ package utils
def _distribution(package: str):
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@_mark
def is_installed(package: str) -> bool:
    """Tell whether a distribution (or importable module) named ``package`` exists."""
    if _distribution(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


@_mark
def package2module(package: str) -> str:
    """Return the top-level module name of an installed distribution."""
    dist = _distribution(package)
    if dist is None:
        raise importlib.metadata.PackageNotFoundError(package)
    top_level = dist.read_text('top_level.txt')
    if top_level and top_level.strip():
        return top_level.split()[0]
    # Wheels built by newer backends may lack top_level.txt: infer from RECORD.
    for file in dist.files or []:
        parts = file.parts
        if len(parts) > 1 and parts[1] == '__init__.py':
            return parts[0]
    raise ValueError(f'can not infer the module name of {package}')


@_mark
def get_installed_path(package: str) -> str:
    """Return the directory of an installed package (as mmengine's original did)."""
    dist = _distribution(package)
    if dist is None:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise importlib.metadata.PackageNotFoundError(package)
        if spec.origin is None:
            raise RuntimeError(f'{package} is a namespace package, which is invalid for '
                               '`get_install_path`')
        return osp.dirname(spec.origin)
    module_name = package if importlib.util.find_spec(package) is not None else package2module(package)
    spec = importlib.util.find_spec(module_name)
    if spec is not None and spec.origin is not None:
        # Correct for editable installs too, unlike the dist's location.
        return osp.dirname(spec.origin)
    return osp.join(str(dist.locate_file('')), module_name)


def fix_package_utils() -> None:
    """Replace mmengine's pkg_resources-based helpers wherever they were bound by name."""
    targets = {
        'mmengine.utils.package_utils': ('is_installed', 'get_installed_path', 'package2module'),
        'mmengine.utils': ('is_installed', 'get_installed_path'),
        'mmengine.config.config': ('is_installed', 'get_installed_path'),
        'mmengine.hub.hub': ('get_installed_path',),
    }
    replacements = {'is_installed': is_installed, 'get_installed_path': get_installed_path,
                    'package2module': package2module}
    for module_name, names in targets.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, replacements[name])


# ---------------------------------------------------------------------------- adjust_hue
@_mark
def adjust_hue(img: np.ndarray, hue_factor: float, backend: str | None = None) -> np.ndarray:
    """``mmcv.adjust_hue`` with the hue shift taken modulo 256 (numpy 2 safe).

    Same contract and results as mmcv 2.1.0 under numpy 1: the hue channel (0..255, the
    ``_FULL`` HSV convention) is shifted by ``int(hue_factor * 255)`` with wrap-around.
    """
    import cv2
    from mmcv.image import photometric
    from PIL import Image

    if backend is None:
        backend = photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported.'
                         "Supported backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    # numpy 1 wrapped np.uint8(-25.5) to 231; numpy 2 refuses. Do the wrap explicitly.
    shift = np.uint8(int(hue_factor * 255) % 256)

    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over='ignore'):
            np_h += shift
        merged = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v)).convert(pil_image.mode)
        return np.array(merged, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv)
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += shift
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def fix_adjust_hue() -> None:
    """Install :func:`adjust_hue` everywhere mmcv exposes it."""
    import mmcv
    import mmcv.image
    from mmcv.image import photometric
    for module in (mmcv, mmcv.image, photometric):
        module.adjust_hue = adjust_hue


# ----------------------------------------------------------------- CPU distributed runs
def _accelerator_available() -> bool:
    from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def fix_cpu_distributed() -> None:
    """Let torchrun-launched mmengine runs work on machines without any accelerator."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as ddp_module

    if not _is_patched(dist_utils._init_dist_pytorch):
        original_init = dist_utils._init_dist_pytorch

        @_mark
        @functools.wraps(original_init)
        def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
            if _accelerator_available():
                return original_init(backend, init_backend=init_backend, **kwargs)
            if backend != 'gloo':
                logging.getLogger('samrs_mm').warning(
                    'no GPU available: using the gloo backend instead of %s', backend)
            torch.distributed.init_process_group(backend='gloo', **kwargs)

        dist_utils._init_dist_pytorch = _init_dist_pytorch

    ddp_class = ddp_module.MMDistributedDataParallel
    if not _is_patched(ddp_class.__init__):
        original_ddp_init = ddp_class.__init__

        @_mark
        @functools.wraps(original_ddp_init)
        def __init__(self, module, detect_anomalous_params=False, **kwargs):
            # DDP refuses device_ids for CPU modules; the runner always passes LOCAL_RANK.
            on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
            if on_cpu and kwargs.get('device_ids') is not None:
                kwargs['device_ids'] = None
                kwargs.pop('output_device', None)
            original_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

        ddp_class.__init__ = __init__


# ---------------------------------------------------------------------------- mmrotate
def import_mmrotate():
    """Import mmrotate 1.0.0rc1 beside mmdet 3.3.0 on Python >= 3.10 and return the module.

    mmrotate asserts ``mmdet <= 3.1.0`` at import (it works with 3.3.0; checked) and
    ``mmrotate.models`` does ``from collections import Sequence``. The version is reported
    as 3.1.0 only while mmrotate's ``__init__`` runs.
    """
    if not hasattr(collections, 'Sequence'):
        collections.Sequence = collections.abc.Sequence  # type: ignore[attr-defined]
    import sys
    if 'mmrotate' in sys.modules:
        return sys.modules['mmrotate']
    import mmdet
    real_version = mmdet.__version__
    mmdet.__version__ = '3.1.0'
    try:
        module = importlib.import_module('mmrotate')
    finally:
        mmdet.__version__ = real_version
    fix_mmrotate_eval_workers()
    return module


class _InProcessPool:
    """The part of ``multiprocessing.Pool`` mmrotate's mAP uses, run in this process."""

    def starmap(self, func, iterable):
        """``[func(*args) for args in iterable]``."""
        return [func(*args) for args in iterable]

    def close(self):
        """Nothing to release."""


class _EvalWorkerContext:
    """Stands in for ``multiprocessing.get_context`` in mmrotate's mean_ap module."""

    def __init__(self, method=None):
        import multiprocessing
        self.forks = 'fork' in multiprocessing.get_all_start_methods()
        self.context = multiprocessing.get_context('fork') if self.forks else None

    def Pool(self, processes=None):  # noqa: N802 (multiprocessing's name)
        """A forked pool where the platform forks, else an in-process one."""
        return self.context.Pool(processes) if self.forks else _InProcessPool()


def fix_mmrotate_eval_workers() -> None:
    """Keep ``eval_rbbox_map`` (DOTAMetric) off spawned workers (see the module docstring)."""
    from mmrotate.evaluation.functional import mean_ap
    if getattr(mean_ap.get_context, _PATCHED_FLAG, False):
        return
    mean_ap.get_context = _mark(_EvalWorkerContext)


# ---------------------------------------------------------------------------- all fixes
def apply_all() -> None:
    """Apply every runtime fix once (idempotent); called at ``import samrs_mm``."""
    fix_package_utils()
    fix_checkpoint_loading()
    fix_adjust_hue()
    fix_cpu_distributed()
