"""The ``sam_hq`` backend: HQ-SAM masks, faithful to ``segment_anything_hq``'s ``SamPredictor``.

HQ-SAM is SAM (same ViT encoder, same input frame, same prompt encoder and two-step
post-processing) with a decoder that has one more output token, the HQ token, whose mask is
computed on features that also read the output of the encoder's first global-attention
block. So the backend is :class:`~samrs_mm.annotate.families.sam.SamBackend` with:

* the encoder returning that block's output as well (``ChunkedImageEncoder(interm=True)``,
  global attention still chunked over heads on CPU);
* :class:`~samrs_mm.annotate.engine.decoder.HQPromptBatchDecoder`: the first block's image side
  shared as for SAM, the HQ feature map computed once per image instead of once per call;
* ``hq_token_only`` from the engine config (False: SAM's mask plus the HQ mask, the
  predictor's default; True: the HQ mask alone). With ``multimask_output=True`` HQ-SAM's own
  decoder picks the best of SAM's three masks by predicted IoU before adding the HQ mask.

Each object's mask equals ``SamPredictor.predict(..., multimask_output=M,
hq_token_only=H)`` of ``segment_anything_hq`` for that object alone, within the tolerance of
docs/annotate_engine.md.
"""
from __future__ import annotations

from ..engine.backend import register_backend
from ..engine.decoder import HQPromptBatchDecoder
from ..engine.encoder import ChunkedImageEncoder
from .sam import SamBackend

__all__ = ['SamHQBackend']


@register_backend('sam_hq')
class SamHQBackend(SamBackend):
    """HQ-SAM labelling (see the module docstring)."""

    family = 'sam_hq'

    def _family_transform(self):
        from segment_anything_hq.utils.transforms import ResizeLongestSide
        return ResizeLongestSide(self.sam.image_encoder.img_size)

    def _family_decoder(self):
        return HQPromptBatchDecoder(self.sam, hq_token_only=self.cfg.get('hq_token_only', False))

    def _family_image_encoder(self):
        return ChunkedImageEncoder(self.sam.image_encoder, self.heads_per_chunk, interm=True)

    @staticmethod
    def _family_features_of(features, k: int):
        embedding, interm = features
        return embedding[k:k + 1], [t[k:k + 1] for t in interm]
