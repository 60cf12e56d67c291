"""COCO RLE of the engine's mask windows, which may live on a CUDA device.

The encoding itself is :mod:`samrs_mm.structures.rle`; what the engine adds is the scan of a
window that is a CUDA tensor on its device (:func:`scan_window_torch`), so only the run
boundaries are copied to the host.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch

from ...structures.rle import Bbox, WindowScan, check_window, encode_window, rle_from_scan

__all__ = ['window_to_rle', 'scan_window_torch']


def window_to_rle(window, top: int, left: int, height: int, width: int) -> Tuple[Dict, int, Bbox]:
    """:func:`~samrs_mm.structures.rle.encode_window` of a numpy array or a torch tensor on any device.

    A CUDA window is scanned on its device; CPU tensors and arrays take the numpy path.
    """
    if isinstance(window, torch.Tensor):
        if window.is_cuda:
            check_window(window.shape, top, left, height, width)
            return rle_from_scan(scan_window_torch(window.bool(), top, left, height), height, width)
        window = window.numpy()
    return encode_window(window, top, left, height, width)


def scan_window_torch(window: torch.Tensor, top: int, left: int, height: int) -> Optional[WindowScan]:
    """:func:`~samrs_mm.structures.rle.scan_window` on the window's device; returns host numbers."""
    rows = torch.nonzero(window.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(window.any(dim=0)).flatten()
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    tight = window[r0:r1, c0:c1]
    y0, x0, ncols = top + r0, left + c0, c1 - c0
    block = torch.zeros((ncols, height), dtype=torch.bool, device=window.device)
    block[:, y0:y0 + tight.shape[0]] = tight.t()
    flat = block.view(-1)
    change = (torch.nonzero(flat[1:] != flat[:-1]).flatten() + 1).cpu().numpy()
    return WindowScan(change, bool(flat[0]), flat.numel(), x0, y0, ncols, r1 - r0, int(tight.sum()))
