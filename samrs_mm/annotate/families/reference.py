"""Check the engine against each SAM family's own predictor, object by object.

The engine's contract (docs/annotate_engine.md, "Faithfulness") is that each object's mask
equals what the family's predictor returns for that object alone, with the same model and
image, except for floating-point ties at the 0 threshold. The references
(:func:`reference_predictor`):

* ``segment_anything``: ``SamPredictor.set_image`` + ``predict``;
* ``sam_hq``: ``segment_anything_hq``'s ``SamPredictor`` with the engine's ``hq_token_only``;
* ``sam2``: ``SAM2ImagePredictor.set_image`` + ``predict``;
* ``sam3``: ``Sam3Processor.set_image`` + ``Sam3Image.predict_inst`` (its
  ``SAM3InteractiveImagePredictor``).

:func:`compare_with_predictor` measures the contract on any image, so tests, the GPU check
script and users with their own hardware and weights can verify it:

* the decoder's low-resolution logits of the engine (its batched, shared-work decoder) and
  of the predictor are compared on the same image embedding (largest absolute difference);
* the final masks are compared pixel by pixel; at every pixel where they differ the
  predictor's full-resolution logit is read: a tie is a pixel whose reference logit lies
  within the tolerance of 0.

The tolerance is relative to the size of the logits: ``rel_tol * max(1, max |low-res logit|)``.
SAM 2 and SAM 3 predictors return their low-res logits clamped to [-32, 32] (their masks
come from the unclamped ones); the engine's are compared clamped the same way.

The reference always runs in float32, without autocast: an engine configured with
``dtype='bfloat16'`` is compared with SAM's float32 masks (it is not expected to pass the
float32 tolerance; ``mask_iou`` says how close it stays). It runs with the engine's TF32
setting (``allow_tf32``, default off): on a GPU, TF32 convolutions alone make batched and
single-prompt logits differ by about 1e-4 (docs/annotate_engine.md, "TF32").
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import torch

from ..engine.prompts import ObjectGeometry

__all__ = ['FaithfulnessReport', 'compare_with_predictor', 'reference_predictor', 'ReferencePredictor',
           'DEFAULT_REL_TOL', 'TABLE_HEADER']

# float32 tolerance: batching changes the order of float32 sums inside the decoder; we
# measured differences below 1e-6 of the logit range (docs/annotate_engine.md).
DEFAULT_REL_TOL = 1e-5


@dataclass
class FaithfulnessReport:
    """Result of :func:`compare_with_predictor` for one image and prompt spec."""

    prompt: str
    objects: int = 0
    objects_differing: int = 0
    pixels_differing: int = 0
    mask_pixels: int = 0
    max_lowres_diff: float = 0.0
    max_logit_at_diff: float = 0.0
    max_score_diff: float = 0.0
    intersection: int = 0
    union: int = 0
    logit_scale: float = 1.0
    tolerance: float = 0.0
    differing_objects: List[int] = field(default_factory=list)

    @property
    def mask_iou(self) -> float:
        """Pixel IoU of all engine masks against all reference masks (1.0 = identical)."""
        return self.intersection / self.union if self.union else 1.0

    @property
    def passed(self) -> bool:
        """True when every difference is a tie within the tolerance."""
        return (self.max_lowres_diff <= self.tolerance and self.max_logit_at_diff <= self.tolerance
                and self.max_score_diff <= self.tolerance)

    def row(self) -> str:
        """One Markdown table row (see :data:`TABLE_HEADER`)."""
        return (f'| {self.prompt} | {self.objects} | {self.objects_differing} | {self.pixels_differing} '
                f'/ {self.mask_pixels} | {self.max_lowres_diff:.2e} | {self.max_logit_at_diff:.2e} | '
                f'{self.max_score_diff:.2e} | {self.mask_iou:.6f} | {self.tolerance:.1e} | '
                f'{"yes" if self.passed else "NO"} |')


TABLE_HEADER = ('| prompt | objects | objects with differing pixels | differing / mask pixels | '
                'max low-res logit diff | max abs ref. logit at differing pixels | max IoU-score diff | '
                'mask IoU vs ref. | tolerance | faithful |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')


class ReferencePredictor:
    """A family's predictor with one image set, answering one object's prompts at a time.

    ``features`` is the image's encoder output in the engine's format (to feed the engine's
    decoder the predictor's own embedding); :meth:`predict` returns the predictor's
    full-resolution logits ``C x H x W``, scores ``C`` and low-res logits ``C x h x w``.
    """

    #: the predictor's clamp of the low-res logits it returns (None: not clamped)
    low_res_clamp = None

    def __init__(self, backend, image: Optional[np.ndarray] = None, predictor=None) -> None:
        """Set ``image`` on a new predictor of the backend's model, or take ``predictor`` (its image already set)."""
        self.backend = backend
        if predictor is not None:
            self.predictor = predictor
            return
        with backend.tf32():  # float32 reference, whatever the engine's dtype
            self._set_image(image)

    def _set_image(self, image: np.ndarray) -> None:
        from segment_anything import SamPredictor
        self.predictor = SamPredictor(self.backend.sam)
        self.predictor.set_image(image)

    @property
    def features(self):
        """The image's features as the engine's decoder takes them."""
        return self.predictor.features

    def _predict(self, kwargs: dict, multimask_output: bool):
        return self.predictor.predict(**kwargs, multimask_output=multimask_output, return_logits=True)

    def predict(self, kwargs: dict, multimask_output: bool):
        """``(logits, scores, low_res)`` as numpy arrays for one object's ``predictor_kwargs``."""
        with self.backend.tf32():
            return self._predict(kwargs, multimask_output)


class HQReferencePredictor(ReferencePredictor):
    """``segment_anything_hq.SamPredictor`` with the engine's ``hq_token_only``."""

    def _set_image(self, image):
        from segment_anything_hq import SamPredictor
        self.predictor = SamPredictor(self.backend.sam)
        self.predictor.set_image(image)

    @property
    def features(self):
        return self.predictor.features, self.predictor.interm_features

    def _predict(self, kwargs, multimask_output):
        return self.predictor.predict(**kwargs, multimask_output=multimask_output, return_logits=True,
                                      hq_token_only=self.backend.decoder.hq_token_only)


class Sam2ReferencePredictor(ReferencePredictor):
    """``SAM2ImagePredictor`` (its default post-processing settings)."""

    low_res_clamp = 32.0

    def _set_image(self, image):
        from sam2.sam2_image_predictor import SAM2ImagePredictor
        self.predictor = SAM2ImagePredictor(self.backend.sam)
        self.predictor.set_image(image)

    @property
    def features(self):
        return self.predictor._features


class Sam3ReferencePredictor(ReferencePredictor):
    """``Sam3Processor.set_image`` + ``Sam3Image.predict_inst`` (SAM 3's interactive-instance predictor)."""

    low_res_clamp = 32.0

    def _set_image(self, image):
        from PIL import Image
        from sam3.model.sam3_image_processor import Sam3Processor
        model = self.backend.sam
        processor = Sam3Processor(model, resolution=self.backend.heads_model.image_size, device=self.backend.device)
        # A PIL image: Sam3Processor reads the size of numpy arrays from their last two axes.
        self.state = processor.set_image(Image.fromarray(image))

    @property
    def features(self):
        from .sam2 import sam2_features
        out = self.state['backbone_out']['sam2_backbone_out']
        return sam2_features(self.backend.heads_model, out, add_no_mem_embed=True)

    def _predict(self, kwargs, multimask_output):
        from sam3.model.sam3_image import Sam3Image
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            # Sam3Image.predict_inst, also for the engine's lean Sam3InteractiveModel (same attributes).
            out = Sam3Image.predict_inst(self.backend.sam, self.state, **kwargs, multimask_output=multimask_output,
                                         return_logits=True)
        for w in caught:
            if 'Skipping the post-processing step' in str(w.message):
                # The predictor fell back to no hole filling (on CPU: scikit-image missing); the
                # engine always fills, so the two would differ for a reason that is not the engine's.
                raise RuntimeError("SAM 3's predictor skipped its hole filling here ("
                                   f'{str(w.message).splitlines()[0]}); install scikit-image (its CPU '
                                   'connected components) to compare with it')
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return out


_REFERENCES = {'segment_anything': ReferencePredictor, 'sam_hq': HQReferencePredictor,
               'sam2': Sam2ReferencePredictor, 'sam3': Sam3ReferencePredictor}


def reference_predictor(engine, image: np.ndarray) -> ReferencePredictor:
    """The engine family's reference predictor with ``image`` set (encoded once, reusable for several specs)."""
    family = getattr(engine.backend, 'family', None)
    if family not in _REFERENCES:
        raise ValueError(f'no reference predictor for backend {engine.cfg["backend"]!r}; the SAM families are '
                         f'{", ".join(_REFERENCES)}')
    return _REFERENCES[family](engine.backend, image)


@torch.no_grad()
def compare_with_predictor(engine, image: np.ndarray, instances: Sequence, source: str = '',
                           rel_tol: float = DEFAULT_REL_TOL, predictor=None) -> FaithfulnessReport:
    """Compare ``engine`` (a SAM-family backend) with the family's predictor on one image.

    Pass a ``predictor`` from :func:`reference_predictor` (or, for ``segment_anything``, a
    ``SamPredictor`` whose image is set with the same model; set it inside
    ``engine.backend.tf32()`` on a GPU) to save the encoder run when checking several specs
    on one image.
    """
    backend = engine.backend
    if not hasattr(backend, 'decoder'):
        raise ValueError('compare_with_predictor needs a SAM-family backend')
    if predictor is None:
        predictor = reference_predictor(engine, image)
    elif not isinstance(predictor, ReferencePredictor):
        predictor = ReferencePredictor(backend, predictor=predictor)  # a SamPredictor with its image set
    masks = engine.annotate(image, instances, source=source)
    spec = engine.prompt_for(source)
    height, width = image.shape[:2]
    geometry = ObjectGeometry.from_instances(instances, height, width)
    builder = backend.prompt_builder(spec, geometry, (height, width))

    # The engine's decoder in its own batches, on the predictor's features (the masks
    # below already cover the engine's own encoder path): isolates the decoder's logits.
    backend.decoder.set_image(predictor.features)
    size = backend.sizer.chosen(spec.name) or 8
    ours_low, ours_scores = [], []
    for start in range(0, len(builder), size):
        with backend.model_context():
            low, iou = backend.decoder.decode(builder.batch(start, min(len(builder), start + size), backend.device),
                                              backend.multimask_output)
        low, iou = backend._select(low.float(), iou.float())
        ours_low.append(low.cpu())
        ours_scores.append(iou.cpu())
    ours_low = torch.cat(ours_low) if ours_low else torch.zeros(0)
    ours_scores = torch.cat(ours_scores) if ours_scores else torch.zeros(0)
    if predictor.low_res_clamp is not None:
        ours_low = ours_low.clamp(-predictor.low_res_clamp, predictor.low_res_clamp)

    report = FaithfulnessReport(prompt=spec.name, objects=len(masks))
    diffs_at = []
    for i, m in enumerate(masks):
        logits, scores, low = predictor.predict(builder.predictor_kwargs(i), backend.multimask_output)
        best = int(np.argmax(scores)) if len(scores) > 1 else 0
        ref_logits = logits[best].astype(np.float32)
        ref_low = torch.as_tensor(low[best]).float()
        report.logit_scale = max(report.logit_scale, float(ref_low.abs().max()))
        report.max_lowres_diff = max(report.max_lowres_diff, float((ours_low[i] - ref_low).abs().max()))
        report.max_score_diff = max(report.max_score_diff, abs(float(ours_scores[i]) - float(scores[best])))
        report.max_score_diff = max(report.max_score_diff, abs(m.score - float(scores[best])))
        ref_mask = ref_logits > backend.mask_threshold
        ours = m.decode()
        report.mask_pixels += int(ref_mask.sum())
        report.intersection += int((ours & ref_mask).sum())
        report.union += int((ours | ref_mask).sum())
        differ = ours != ref_mask
        if differ.any():
            report.objects_differing += 1
            report.differing_objects.append(i)
            report.pixels_differing += int(differ.sum())
            diffs_at.append(float(np.abs(ref_logits[differ]).max()))
    report.max_logit_at_diff = max(diffs_at, default=0.0)
    report.tolerance = rel_tol * report.logit_scale
    return report
