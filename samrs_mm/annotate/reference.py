"""Check the engine against ``segment_anything.SamPredictor``, object by object.

The engine's contract (docs/annotate_engine.md, "Faithfulness") is that each object's mask
equals what ``SamPredictor.predict`` returns for that object alone, with the same model and
image, except for floating-point ties at the 0 threshold. :func:`compare_with_predictor`
measures exactly that on any image, so tests, the GPU check script and users with their
own hardware and weights can verify it:

* the decoder's low-resolution logits of the engine (its batched, shared-work decoder) and
  of the predictor are compared on the same image embedding (largest absolute difference);
* the final masks are compared pixel by pixel; at every pixel where they differ the
  predictor's full-resolution logit is read: a tie is a pixel whose reference logit lies
  within the tolerance of 0.

The tolerance is relative to the size of the logits: ``rel_tol * max(1, max |low-res logit|)``.

The reference always runs in float32, without autocast: an engine configured with
``dtype='bfloat16'`` is compared with SAM's float32 masks (it is not expected to pass the
float32 tolerance; ``mask_iou`` says how close it stays). It runs with the engine's TF32
setting (``allow_tf32``, default off): on a GPU, TF32 convolutions alone make batched and
single-prompt logits differ by about 1e-4 (docs/annotate_engine.md, "TF32").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np
import torch

from .prompts import ObjectGeometry, SamPromptBuilder

__all__ = ['FaithfulnessReport', 'compare_with_predictor', 'DEFAULT_REL_TOL', 'TABLE_HEADER']

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


@torch.no_grad()
def compare_with_predictor(engine, image: np.ndarray, instances: Sequence, source: str = '',
                           rel_tol: float = DEFAULT_REL_TOL, predictor=None) -> FaithfulnessReport:
    """Compare ``engine`` (``segment_anything`` backend) with ``SamPredictor`` on one image.

    Pass a ``predictor`` whose image is already set (same model; set it inside
    ``engine.backend.tf32()`` on a GPU) to save the encoder run when checking several specs
    on one image.
    """
    from segment_anything import SamPredictor
    backend = engine.backend
    if not hasattr(backend, 'decoder'):
        raise ValueError('compare_with_predictor needs the segment_anything backend')
    masks = engine.annotate(image, instances, source=source)
    spec = engine.prompt_for(source)
    height, width = image.shape[:2]
    geometry = ObjectGeometry.from_instances(instances, height, width)
    builder = SamPromptBuilder(spec, geometry, (height, width), backend.transform,
                               backend.sam.prompt_encoder.mask_input_size[0])
    if predictor is None:
        predictor = SamPredictor(backend.sam)
        with backend.tf32():
            predictor.set_image(image)  # float32 reference, whatever the engine's dtype

    # The engine's decoder in its own batches, on the predictor's embedding (the masks
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

    report = FaithfulnessReport(prompt=spec.name, objects=len(masks))
    diffs_at = []
    for i, m in enumerate(masks):
        with backend.tf32():
            logits, scores, low = predictor.predict(**builder.predictor_kwargs(i),
                                                    multimask_output=backend.multimask_output,
                                                    return_logits=True)
        best = int(np.argmax(scores)) if backend.multimask_output else 0
        ref_logits = logits[best].astype(np.float32)
        ref_low = torch.as_tensor(low[best]).float()
        report.logit_scale = max(report.logit_scale, float(ref_low.abs().max()))
        report.max_lowres_diff = max(report.max_lowres_diff, float((ours_low[i] - ref_low).abs().max()))
        report.max_score_diff = max(report.max_score_diff, abs(float(ours_scores[i]) - float(scores[best])))
        report.max_score_diff = max(report.max_score_diff, abs(m.score - float(scores[best])))
        ref_mask = ref_logits > backend.sam.mask_threshold
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
