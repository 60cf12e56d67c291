"""The ``sam2`` backend: SAM 2.1 masks, faithful to ``SAM2ImagePredictor.predict``.

What differs from SAM, and how the shared pipeline of
:class:`~samrs_mm.annotate.families.sam.SamBackend` handles it:

* **Input frame.** ``SAM2Transforms`` stretches the image to a 1024 x 1024 square
  (``torchvision`` resize, antialiased, on the CPU; ImageNet normalisation), without
  padding; point and box coordinates are divided by the image width / height and multiplied
  by 1024 in float32 (:class:`~samrs_mm.annotate.engine.prompts.SquareFrame`). Mask prompts are
  built in that square frame and resized to 256 x 256 as for SAM.
* **Encoder.** ``SAM2Base.forward_image`` (Hiera trunk + FPN neck, the two high-resolution
  maps projected by the decoder's ``conv_s0`` / ``conv_s1``), ``no_mem_embed`` added to the
  lowest-resolution map, exactly as ``set_image_batch``; several images at once.
* **Decoder.** :class:`~samrs_mm.annotate.engine.decoder.Sam2PromptBatchDecoder`: boxes become two
  corner points before the other points, the first block's image side is shared, the
  high-resolution maps join the upscaling, and the single-mask output falls back to the best
  multimask output when its stability score is below 0.98 (``build_sam2``'s default).
* **Post-processing.** One bilinear resize from 256 x 256 to the image size
  (``SAM2Transforms.postprocess_masks``), windowed and exact as SAM's two steps
  (:class:`~samrs_mm.annotate.engine.upsample.WindowedMaskUpsampler` with ``padded_size=None``);
  threshold 0. The predictor's optional hole / speck clean-up is off by default
  (``max_hole_area = max_sprinkle_area = 0``), as here.

Each object's mask equals ``SAM2ImagePredictor(model).predict(..., multimask_output=M)``
for that object alone, within the tolerance of docs/annotate_engine.md.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..engine.backend import register_backend
from ..engine.decoder import Sam2PromptBatchDecoder
from ..engine.prompts import SquareFrame
from ..engine.upsample import WindowedMaskUpsampler
from .sam import SamBackend

__all__ = ['Sam2Backend', 'sam2_features']


def sam2_features(model, backbone_out: dict, add_no_mem_embed: bool) -> dict:
    """``{'image_embed', 'high_res_feats'}`` of a batch, as ``SAM2ImagePredictor.set_image_batch`` keeps them.

    ``model`` is a ``SAM2Base`` (or SAM 3's tracker): its ``_prepare_backbone_features``
    flattens the levels; ``no_mem_embed`` is added to the lowest-resolution one.
    """
    _, vision_feats, _, feat_sizes = model._prepare_backbone_features(backbone_out)
    if add_no_mem_embed:
        vision_feats[-1] = vision_feats[-1] + model.no_mem_embed
    batch = vision_feats[-1].shape[1]
    feats = [f.permute(1, 2, 0).view(batch, -1, *size) for f, size in zip(vision_feats, feat_sizes)]
    return {'image_embed': feats[-1], 'high_res_feats': feats[:-1]}


@register_backend('sam2')
class Sam2Backend(SamBackend):
    """SAM 2.1 labelling (see the module docstring)."""

    family = 'sam2'

    @property
    def heads_model(self):
        """The module holding the SAM heads and ``_prepare_backbone_features`` (``SAM2Base``)."""
        return self.sam

    def _family_transform(self):
        return SquareFrame(self.heads_model.image_size)

    def _family_decoder(self):
        return Sam2PromptBatchDecoder(self.heads_model)

    def _family_image_encoder(self):
        return self.sam.forward_image

    def _family_inputs(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        from sam2.utils.transforms import SAM2Transforms
        if not hasattr(self, '_sam2_transforms'):
            self._sam2_transforms = SAM2Transforms(resolution=self.sam.image_size, mask_threshold=0.0)
        # As set_image(_batch): ToTensor, resize and normalise on the host, then to the device.
        return self._sam2_transforms.forward_batch(list(images)).to(self.device)

    def _family_encode(self, inputs: torch.Tensor) -> dict:
        return sam2_features(self.sam, self.image_encoder(inputs), self.sam.directly_add_no_mem_embed)

    @staticmethod
    def _family_features_of(features: dict, k: int) -> dict:
        return {'image_embed': features['image_embed'][k:k + 1],
                'high_res_feats': [f[k:k + 1] for f in features['high_res_feats']]}

    def _family_upsampler(self, input_size, original_size) -> WindowedMaskUpsampler:
        # SAM2Transforms.postprocess_masks: one resize, low-res straight to the image size.
        return WindowedMaskUpsampler(self.mask_input_size, None, None, original_size, self.mask_threshold)

    @property
    def mask_threshold(self) -> float:
        """``SAM2ImagePredictor``'s default ``mask_threshold`` (0.0)."""
        return 0.0
