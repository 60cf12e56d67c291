"""The ``sam3`` backend: SAM 3 masks from box and point prompts, faithful to its interactive-instance predictor.

SAM 3 answers box and point prompts with a SAM 2-style head (the tracker's prompt encoder
and mask decoder) on features of its own vision backbone; ``Sam3Processor.set_image`` +
``Sam3Image.predict_inst`` (``SAM3InteractiveImagePredictor.predict``) is the reference.
The backend is :class:`~samrs_mm.annotate.families.sam2.Sam2Backend` with SAM 3's frames and
steps:

* **Input frame.** ``Sam3Processor``'s transform: the uint8 image resized to a 1008 x 1008
  square on the device (``torchvision.transforms.v2``, antialiased), scaled to [0, 1] and
  normalised with mean = std = 0.5; coordinates divided by the image width / height and
  multiplied by 1008 in float32. Mask prompts are built in the 1008 square and resized to
  the decoder's 288 x 288 mask input (a factor 3.5; taps at weights 1/4 and 3/4).
* **Encoder.** ``backbone.forward_image`` (ViT + dual neck), the SAM 2-style outputs with
  the decoder's ``conv_s0`` / ``conv_s1`` applied, as ``Sam3Processor.set_image`` does;
  ``no_mem_embed`` added as ``predict_inst`` does; several images at once.
* **Decoder.** As SAM 2 (:class:`~samrs_mm.annotate.engine.decoder.Sam2PromptBatchDecoder`),
  72 x 72 image tokens, 288 x 288 low-res logits.
* **Post-processing.** The predictor fills holes of at most ``max_hole_area`` (256)
  low-res pixels before the one-step resize (:func:`~samrs_mm.annotate.engine.lowres_cleanup.clean_low_res`,
  with the predictor's own settings), then thresholds at its ``mask_threshold`` (0).

Each object's mask equals ``model.predict_inst(state, ..., multimask_output=M)`` for that
object alone, within the tolerance of docs/annotate_engine.md. ``model`` may be the
:class:`~samrs_mm.annotate.families.architectures.Sam3InteractiveModel` the engine builds or a full
``Sam3Image`` built with ``enable_inst_interactivity=True``.

Importing ``sam3.model_builder`` switches TF32 on process-wide on Ampere and later GPUs;
the engine's model calls still run with its own ``allow_tf32`` setting (default off).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..engine.backend import register_backend
from ..engine.lowres_cleanup import clean_low_res
from .sam2 import Sam2Backend, sam2_features

__all__ = ['Sam3Backend']


@register_backend('sam3')
class Sam3Backend(Sam2Backend):
    """SAM 3 labelling from box / point / mask prompts (see the module docstring)."""

    family = 'sam3'

    @property
    def predictor(self):
        """The model's ``SAM3InteractiveImagePredictor`` (its post-processing settings are followed)."""
        predictor = getattr(self.sam, 'inst_interactive_predictor', None)
        if predictor is None:
            raise ValueError('the SAM 3 model has no interactive-instance predictor: build it with '
                             'enable_inst_interactivity=True')
        return predictor

    @property
    def heads_model(self):
        """SAM 3's tracker: the SAM heads and ``_prepare_backbone_features``."""
        return self.predictor.model

    def _family_image_encoder(self):
        return self.sam.backbone.forward_image

    def _family_inputs(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        from torchvision.transforms import v2
        if not hasattr(self, '_sam3_transform'):
            from sam3.model.sam3_image_processor import Sam3Processor
            self._sam3_transform = Sam3Processor(self.sam, resolution=self.heads_model.image_size,
                                                 device=self.device).transform
        # As Sam3Processor.set_image: uint8 CHW on the device, then its transform.
        return torch.stack([self._sam3_transform(v2.functional.to_image(image).to(self.device))
                            for image in images])

    def _family_encode(self, inputs: torch.Tensor) -> dict:
        out = self.image_encoder(inputs)['sam2_backbone_out']
        decoder = self.heads_model.sam_mask_decoder
        out['backbone_fpn'][0] = decoder.conv_s0(out['backbone_fpn'][0])
        out['backbone_fpn'][1] = decoder.conv_s1(out['backbone_fpn'][1])
        return sam2_features(self.heads_model, out, add_no_mem_embed=True)

    def _family_clean_low_res(self, low_res: torch.Tensor) -> torch.Tensor:
        transforms = self.predictor._transforms
        return clean_low_res(low_res, self.mask_threshold, transforms.max_hole_area, transforms.max_sprinkle_area)

    @property
    def mask_threshold(self) -> float:
        """The interactive predictor's ``mask_threshold`` (0.0)."""
        return float(self.predictor.mask_threshold)
