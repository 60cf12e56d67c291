"""Fill small holes and remove small specks in low-resolution mask logits, as SAM 2 / SAM 3 predictors do.

``SAM2Transforms.postprocess_masks`` (SAM 2's ``SAM2ImagePredictor``, SAM 3's interactive
predictor) can clean the decoder's low-resolution logits before resizing them to the image:

* holes: connected regions of non-positive logits (``<= threshold``) of at most
  ``max_hole_area`` low-res pixels become ``threshold + 10``;
* specks: connected regions of positive logits of at most ``max_sprinkle_area`` pixels
  (after the hole filling) become ``threshold - 10``.

Regions are 8-connected (pixels touching by a corner belong together), as the components
those predictors use (``skimage.measure.label`` on CPU, their CUDA / Triton kernels on a
GPU); a region touching the border is a region like any other. SAM 2's predictor does
neither by default; SAM 3's fills holes up to 256 pixels (``max_hole_area=256``).

:func:`connected_components` labels the regions on the host, per object, on the ``h x w``
low-res map only (288 x 288 for SAM 3), with ``scipy.ndimage.label``, and returns what
``sam3.perflib.connected_components`` returns (labels, and each pixel's region area).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

__all__ = ['clean_low_res', 'connected_components']

_EIGHT = np.ones((3, 3), dtype=bool)


def connected_components(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """8-connected regions of a ``B x H x W`` or ``B x 1 x H x W`` mask (non-zero = inside).

    Returns ``(labels, areas)`` of the input's shape and device: labels 1..n per map (0
    outside), and for every inside pixel the area of its region (0 outside), as
    ``sam3.perflib.connected_components.connected_components`` does.
    """
    from scipy import ndimage
    planes = mask.reshape(-1, *mask.shape[-2:]).cpu().numpy() != 0
    labels = np.zeros(planes.shape, dtype=np.int64)
    areas = np.zeros(planes.shape, dtype=np.int64)
    for k, plane in enumerate(planes):
        lab, count = ndimage.label(plane, structure=_EIGHT)
        sizes = np.bincount(lab.ravel(), minlength=count + 1)
        sizes[0] = 0
        labels[k], areas[k] = lab, sizes[lab]
    as_tensor = dict(device=mask.device)
    return (torch.as_tensor(labels, **as_tensor).view(mask.shape), torch.as_tensor(areas, **as_tensor).view(mask.shape))


def _small_regions(mask: torch.Tensor, max_area: float) -> torch.Tensor:
    """Pixels of ``mask`` (bool) in 8-connected regions of at most ``max_area`` pixels."""
    labels, areas = connected_components(mask)
    return (labels > 0) & (areas <= max_area)


def clean_low_res(low_res: torch.Tensor, threshold: float = 0.0, max_hole_area: float = 0.0,
                  max_sprinkle_area: float = 0.0) -> torch.Tensor:
    """``B x h x w`` logits with small holes filled and small specks removed (see the module docstring).

    Returns ``low_res`` itself when both areas are 0; else a new tensor on its device.
    """
    if max_hole_area <= 0 and max_sprinkle_area <= 0:
        return low_res
    out = low_res.float()
    if max_hole_area > 0:
        out = torch.where(_small_regions(out <= threshold, max_hole_area), out.new_tensor(threshold + 10.0), out)
    if max_sprinkle_area > 0:
        out = torch.where(_small_regions(out > threshold, max_sprinkle_area), out.new_tensor(threshold - 10.0), out)
    return out
