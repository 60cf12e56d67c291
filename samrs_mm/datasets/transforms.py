"""Augmentations of the SAMRS pre-training recipe that mmseg lacks: rot90 and random gamma."""
from __future__ import annotations

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, CenterCrop
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS


def rot90_homography(k: int, height: int, width: int) -> np.ndarray:
    """The 3 x 3 matrix taking pixel coordinates (edges at integers) of a ``height x width``
    image to those of ``np.rot90(image, k)`` (counter-clockwise on screen)."""
    k %= 4
    if k == 1:
        matrix = [[0, 1, 0], [-1, 0, width], [0, 0, 1]]
    elif k == 2:
        matrix = [[-1, 0, width], [0, -1, height], [0, 0, 1]]
    elif k == 3:
        matrix = [[0, -1, height], [1, 0, 0], [0, 0, 1]]
    else:
        matrix = np.eye(3)
    return np.asarray(matrix, np.float32)


@TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Rotate image and segmentation maps by a random multiple of 90 degrees.

    With probability ``prob`` the sample is rotated counter-clockwise by k * 90 degrees,
    k drawn uniformly from {1, 2, 3}; otherwise it is left alone. Aerial images have no
    "up", so all four orientations are equally plausible.

    Rotated with the image: every key in ``seg_fields`` (mmseg pipelines) and ``gt_seg_map``
    (mmdet pipelines), the instance masks ``gt_masks`` (mmdet ``BitmapMasks``) and boxes
    ``gt_bboxes`` (any mmdet box type); the turn is recorded in ``homography_matrix`` as
    mmdet's geometric transforms do, so the multi-task rotated boxes follow it.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomRot90: prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _choose_k(self) -> int:
        return int(np.random.randint(1, 4)) if np.random.rand() < self.prob else 0

    def transform(self, results: dict) -> dict:
        """Rotate the image and every target it carries by the same k * 90 degrees."""
        k = self._choose_k()
        results['rot90_k'] = k
        if k == 0:
            return results
        height, width = results['img'].shape[:2]
        results['img'] = np.ascontiguousarray(np.rot90(results['img'], k))
        seg_keys = list(results.get('seg_fields', []))
        if 'gt_seg_map' in results and 'gt_seg_map' not in seg_keys:
            seg_keys.append('gt_seg_map')
        for key in seg_keys:
            results[key] = np.ascontiguousarray(np.rot90(results[key], k))
        homography = rot90_homography(k, height, width)
        if results.get('gt_masks', None) is not None:
            results['gt_masks'] = self._rotate_masks(results['gt_masks'], k)
        if results.get('gt_bboxes', None) is not None:
            results['gt_bboxes'].project_(homography)
        previous = results.get('homography_matrix', None)
        results['homography_matrix'] = homography if previous is None else homography @ previous
        results['img_shape'] = results['img'].shape[:2]
        return results

    @staticmethod
    def _rotate_masks(masks, k: int):
        from mmdet.structures.mask import BitmapMasks
        if not isinstance(masks, BitmapMasks):
            raise TypeError(f'RandomRot90 turns bitmap instance masks only, got {type(masks).__name__} '
                            "(load them with LoadAnnotations(poly2mask=True))")
        turned = np.ascontiguousarray(np.rot90(masks.masks, k, axes=(1, 2)))
        return BitmapMasks(turned, *turned.shape[1:])

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class RandomGamma(BaseTransform):
    """Gamma correction with a random gamma drawn uniformly from ``gamma_range``.

    ``out = 255 * (img / 255) ** gamma`` on uint8 images (via a lookup table), applied with
    probability ``prob``. mmseg's ``AdjustGamma`` only has a fixed gamma.
    """

    def __init__(self, gamma_range=(0.8, 1.2), prob: float = 0.5) -> None:
        low, high = gamma_range
        if not 0 < low <= high:
            raise ValueError(f'RandomGamma: need 0 < low <= high, got {gamma_range}')
        self.gamma_range = (float(low), float(high))
        self.prob = prob

    @cache_randomness
    def _choose_gamma(self):
        if np.random.rand() >= self.prob:
            return None
        return float(np.random.uniform(*self.gamma_range))

    def transform(self, results: dict) -> dict:
        """Apply the lookup table of the drawn gamma to ``img``."""
        gamma = self._choose_gamma()
        if gamma is None:
            return results
        table = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError(f'RandomGamma expects a uint8 image, got {img.dtype}')
        results['img'] = cv2.LUT(img, table)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(gamma_range={self.gamma_range}, prob={self.prob})'


@TRANSFORMS.register_module()
class EvalCenterCrop(CenterCrop):
    """mmcv's ``CenterCrop`` for evaluating on centre crops (the paper's Table 9 protocol).

    mmseg resizes predictions back to ``ori_shape`` before scoring; after a plain
    ``CenterCrop`` that is still the uncropped size while the label is cropped. Here the
    crop becomes the image: ``ori_shape`` is set to the crop's size too.
    """

    def transform(self, results: dict) -> dict:
        """Crop image and label maps around the centre; the crop is the new original."""
        results = super().transform(results)
        results['ori_shape'] = results['img'].shape[:2]
        return results
