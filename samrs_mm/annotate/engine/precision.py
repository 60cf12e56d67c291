"""TF32 on or off for SAM's float32 convolutions and matrix products, for one block of code only.

On Ampere and later GPUs PyTorch may run float32 convolutions (cuDNN, on by default) and
matrix products (cuBLAS, off by default) in TF32, with a 10-bit mantissa. cuDNN also picks
its algorithm per input shape, so a batch of prompts and one prompt at a time get different
TF32 roundings: measured on an H100 with PyTorch's defaults, the engine's low-res logits
differed from ``SamPredictor``'s by 1e-4 (mask IoU 0.9998); with TF32 off by 2.4e-7, as on
CPU (docs/annotate_engine.md, "TF32"). :func:`tf32_scope` sets the flags for the model calls
and puts the process's own settings back afterwards, so the engine never changes them
process-wide.

PyTorch >= 2.9 keeps these settings twice, in the legacy flags (``allow_tf32``,
``float32_matmul_precision``) and in the ``fp32_precision`` tree, and raises when the two
disagree. The flags are therefore set through the legacy setters (which update both) and
restored field by field, and a flag already in the wanted state is not touched at all.
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, Optional

import torch

__all__ = ['tf32_scope', 'tf32_state', 'describe_tf32']

# PyTorch >= 2.9: the per-backend, per-operation fp32_precision settings.
_NEW_API = (hasattr(torch._C, '_get_fp32_precision_getter') and hasattr(torch.backends.cudnn, 'conv')
            and hasattr(torch.backends.cuda.matmul, 'fp32_precision'))


def _raw(backend: str, op: str) -> str:
    """Stored ``fp32_precision`` of one (backend, op) node (``'none'`` = inherited)."""
    return torch._C._get_fp32_precision_getter(backend, op)


def _resolved(op: str) -> str:
    """Effective CUDA precision of ``op`` (``'conv'`` or ``'matmul'``), inheritance applied."""
    for backend, node in (('cuda', op), ('cuda', 'all'), ('generic', 'all')):
        value = _raw(backend, node)
        if value != 'none':
            return value
    return 'ieee'


def tf32_state() -> Dict[str, bool]:
    """Whether TF32 is allowed now: ``{'conv': cuDNN convolutions, 'matmul': cuBLAS matmul}``."""
    if _NEW_API:
        return {'conv': _resolved('conv') == 'tf32', 'matmul': _resolved('matmul') == 'tf32'}
    return {'conv': bool(torch.backends.cudnn.allow_tf32), 'matmul': bool(torch.backends.cuda.matmul.allow_tf32)}


def describe_tf32(allow: Optional[bool]) -> str:
    """One line for logs: what ``allow_tf32`` does and the process's own settings."""
    state = tf32_state()
    process = f"process settings: conv {'TF32' if state['conv'] else 'float32'}, " \
              f"matmul {'TF32' if state['matmul'] else 'float32'}"
    if allow is None:
        return f'allow_tf32=None: the process settings apply ({process})'
    return (f"allow_tf32={allow}: cuDNN conv and cuBLAS matmul in {'TF32' if allow else 'full float32'} "
            f'during the model calls ({process}, restored after each call)')


def _try(getter):
    """A legacy getter's value, or None where PyTorch refuses to read a mixed legacy/new state."""
    try:
        return getter()
    except RuntimeError:
        return None


@contextlib.contextmanager
def tf32_scope(allow: Optional[bool]) -> Iterator[None]:
    """Run the block with TF32 allowed (True) or not (False) for CUDA conv and matmul.

    None leaves every setting as it is. Only flags that differ from the wanted state are
    changed, and they are restored on exit (also on errors). CPU kernels ignore these flags.
    """
    if allow is None:
        yield
        return
    now = tf32_state()
    restore = []
    try:
        if now['conv'] != allow:
            restore.append(_set_conv(allow))
        if now['matmul'] != allow:
            restore.append(_set_matmul(allow))
        yield
    finally:
        for undo in reversed(restore):
            undo()


def _set_conv(allow: bool):
    """Set cuDNN's TF32 flag for convolutions; return the function that restores it."""
    if not _NEW_API:
        old = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = allow

        def undo_legacy():
            torch.backends.cudnn.allow_tf32 = old
        return undo_legacy
    old_flag = _try(torch._C._get_cudnn_allow_tf32)
    old = {op: _raw('cuda', op) for op in ('conv', 'rnn')}
    # The legacy setter keeps the legacy flag and the tree consistent; the explicit 'ieee'
    # wins over a 'tf32' inherited from the 'cuda' or 'generic' node.
    torch._C._set_cudnn_allow_tf32(allow)
    for op in old:
        torch._C._set_fp32_precision_setter('cuda', op, 'tf32' if allow else 'ieee')

    def undo():
        if old_flag is not None:
            torch._C._set_cudnn_allow_tf32(old_flag)
        for op, value in old.items():
            torch._C._set_fp32_precision_setter('cuda', op, value)
    return undo


def _set_matmul(allow: bool):
    """Set cuBLAS's TF32 flag for float32 matmul; return the function that restores it."""
    if not _NEW_API:
        old = torch.get_float32_matmul_precision()
        torch.backends.cuda.matmul.allow_tf32 = allow

        def undo_legacy():
            torch.set_float32_matmul_precision(old)
        return undo_legacy
    old_precision = _try(torch.get_float32_matmul_precision)
    old = {backend: _raw(backend, 'matmul') for backend in ('cuda', 'mkldnn')}
    # Sets float32_matmul_precision and the 'cuda' matmul node together (cuBLAS checks both).
    torch._C._set_cublas_allow_tf32(allow)
    if not allow:
        # 'highest' next to a reduced oneDNN matmul node is a state PyTorch refuses to read.
        torch._C._set_fp32_precision_setter('mkldnn', 'matmul', 'ieee')

    def undo():
        if old_precision is not None:
            torch.set_float32_matmul_precision(old_precision)  # also rewrites both matmul nodes
        for backend, value in old.items():
            torch._C._set_fp32_precision_setter(backend, 'matmul', value)
    return undo
