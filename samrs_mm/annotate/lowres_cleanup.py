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

Labelling runs on the host, per object, on the ``h x w`` low-res map only (288 x 288 for
SAM 3), with ``scipy.ndimage.label`` (or ``skimage.measure.label`` where scipy is missing).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ['clean_low_res', 'label_regions']

_EIGHT = np.ones((3, 3), dtype=bool)


def label_regions(mask: np.ndarray):
    """8-connected regions of a 2-D bool array: ``(labels, number)``, labels 1..number, 0 = outside."""
    try:
        from scipy import ndimage
    except ImportError:  # the label function SAM 3 itself uses on CPU
        from skimage.measure import label
        return label(mask, connectivity=2, return_num=True)
    return ndimage.label(mask, structure=_EIGHT)


def _small_regions(mask: np.ndarray, max_area: float) -> np.ndarray:
    """Pixels of ``mask`` in 8-connected regions of at most ``max_area`` pixels."""
    labels, count = label_regions(mask)
    if count == 0:
        return np.zeros_like(mask)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    small = areas <= max_area
    small[0] = False
    return small[labels]


def clean_low_res(low_res: torch.Tensor, threshold: float = 0.0, max_hole_area: float = 0.0,
                  max_sprinkle_area: float = 0.0) -> torch.Tensor:
    """``B x h x w`` logits with small holes filled and small specks removed (see the module docstring).

    Returns ``low_res`` itself when both areas are 0; else a new tensor on its device. Only
    the thresholded maps go to the host, and only the changed pixels' mask comes back.
    """
    if max_hole_area <= 0 and max_sprinkle_area <= 0:
        return low_res
    out = low_res.float()
    if max_hole_area > 0:
        background = (out <= threshold).cpu().numpy()
        holes = np.stack([_small_regions(m, max_hole_area) for m in background])
        out = torch.where(torch.from_numpy(holes).to(out.device), out.new_tensor(threshold + 10.0), out)
    if max_sprinkle_area > 0:
        foreground = (out > threshold).cpu().numpy()
        specks = np.stack([_small_regions(m, max_sprinkle_area) for m in foreground])
        out = torch.where(torch.from_numpy(specks).to(out.device), out.new_tensor(threshold - 10.0), out)
    return out
