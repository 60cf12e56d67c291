"""The ``segment_anything`` backend, and the pipeline every SAM-family backend shares.

Per group of images: the images go through the family's own preprocessing (for SAM
``ResizeLongestSide.apply_image`` and ``Sam.preprocess``) and through the image encoder
together (``image_batch_size``; for SAM's ViT, global attention a few heads at a time,
:mod:`~samrs_mm.annotate.engine.encoder`); then, image by image, the prompts of its objects are
decoded in batches by the family's :class:`~samrs_mm.annotate.engine.decoder.PromptBatchDecoder`
(prompt batch size fixed or measured, :mod:`~samrs_mm.annotate.engine.batch_size`), and each
object's mask is produced only on the window where it can be non-zero
(:mod:`~samrs_mm.annotate.engine.upsample`) and turned into COCO RLE at once
(:mod:`~samrs_mm.annotate.engine.rle`), object by object (CPU) or for the whole prompt batch in a
few kernels with one copy to the host (GPU, :mod:`~samrs_mm.annotate.engine.chunk_masks`).
Nothing of image size is ever held for more than one object. The model calls run with
TF32 off (``allow_tf32``, :mod:`~samrs_mm.annotate.engine.precision`), so that float32 on a GPU
stays faithful.

Each object's mask equals ``SamPredictor.predict(..., multimask_output=M)`` for that object
alone (``M`` = ``multimask_output``; with ``M`` true, the candidate with the highest
predicted IoU, as SAM's authors suggest), up to float rounding at the 0 threshold; see
docs/annotate_engine.md for the measured tolerance.

:class:`SamBackend` is also the base of the other families' backends (``sam_hq``,
``sam2``, ``sam3``): they replace the model building, the input frame, the encoder call,
the decoder class and the post-processing geometry (the ``_family_*`` hooks below), and
keep everything else.
"""
from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from typing import Dict, Iterator, Sequence, Tuple

import numpy as np
import torch

from ...structures.mask_quality import stability_score
from ...structures.rle import empty_rle
from ..engine.backend import AnnotateRequest, AnnotationBackend, ObjectMask, register_backend
from ..engine.batch_size import PromptBatchSizer
from ..engine.chunk_masks import ChunkMaskEncoder
from ..engine.decoder import PromptBatchDecoder
from ..engine.encoder import ChunkedImageEncoder
from ..engine.precision import tf32_scope
from ..engine.prompts import ObjectGeometry, PromptSpec, SamPromptBuilder, resolve_prompt_spec
from ..engine.rle import window_to_rle
from ..engine.upsample import WindowedMaskUpsampler
from .models import build_sam_model

__all__ = ['SamBackend', 'decoder_bytes_per_prompt']

# Bound on a mask bucket's working set (ChunkMaskEncoder.bucket_cost elements): 256 MiB of
# float32 on a GPU; 16 MiB on CPU, where batching is only used when asked for.
_MASK_BUCKET_ELEMENTS = {'cuda': 1 << 26, 'cpu': 1 << 22}

_DTYPES = {'float32': None, 'fp32': None, 'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16,
           'float16': torch.float16, 'fp16': torch.float16}


def decoder_bytes_per_prompt(sam, element_size: int = 4, prompt_encoder=None, mask_decoder=None) -> int:
    """Estimated activation memory of one prompt in a SAM-family mask decoder.

    About 16 live ``N x C`` tensors of the two-way transformer and the upscaling path
    (``N`` image tokens, ``C`` decoder width) plus the four ``16N`` mask logits. ``sam`` is a
    ``Sam``; other families pass their ``prompt_encoder`` and ``mask_decoder`` modules.
    """
    prompt_encoder = prompt_encoder if prompt_encoder is not None else sam.prompt_encoder
    mask_decoder = mask_decoder if mask_decoder is not None else sam.mask_decoder
    h, w = prompt_encoder.image_embedding_size
    n, c = h * w, mask_decoder.transformer_dim
    return int(element_size * (16 * n * c + 64 * n))


@register_backend('segment_anything')
class SamBackend(AnnotationBackend):
    """SAM labelling (see the module docstring). Built from the engine config.

    Subclasses (the other families) set :attr:`family` and override the ``_family_*``
    hooks; the engine config keys mean the same for all of them.
    """

    #: name of the family in :mod:`~samrs_mm.annotate.families.models`
    family = 'segment_anything'

    def __init__(self, cfg: dict, model=None) -> None:
        """Build the model from ``cfg``, or use ``model`` (already built, e.g. shared with a reference predictor)."""
        super().__init__(cfg)
        self.device = torch.device(cfg['device'])
        if cfg['dtype'] not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {cfg['dtype']!r}")
        self.autocast_dtype = _DTYPES[cfg['dtype']]
        if model is None:
            model = build_sam_model(cfg['model_type'], checkpoint=cfg['checkpoint'],
                                    random_init=cfg['random_init'], seed=cfg['random_seed'],
                                    download=cfg['download'], device=self.device, family=self.family)
        else:
            model = model.eval().to(self.device)
        self.sam = model
        chunk = cfg.get('encoder_heads_per_chunk', 'auto')
        if chunk == 'auto':
            # CPU: bounded memory at no measurable cost; GPU: the stock (fastest) path.
            chunk = 1 if self.device.type == 'cpu' else None
        if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
            raise ValueError(f"encoder_heads_per_chunk must be 'auto', None or an int >= 1, got {chunk!r}")
        self.heads_per_chunk = chunk
        # The family's input frame (prompt coordinates, mask inputs), decoder and encoder.
        self.transform = self._family_transform()
        self.decoder = self._family_decoder()
        self.image_encoder = self._family_image_encoder()
        self.multimask_output = bool(cfg['multimask_output'])
        self.allow_tf32 = cfg.get('allow_tf32', False)
        batched = cfg.get('batched_masks', 'auto')
        # Per object on CPU: measured slower batched there (gathers), see docs/annotate_engine.md.
        self.batched_masks = self.device.type != 'cpu' if batched == 'auto' else bool(batched)
        self.mask_bucket_elements = _MASK_BUCKET_ELEMENTS.get(self.device.type, _MASK_BUCKET_ELEMENTS['cuda'])
        self.sizer = PromptBatchSizer(cfg['prompt_batch_size'], self._max_prompt_batch())
        self._upsamplers: 'OrderedDict[Tuple, WindowedMaskUpsampler]' = OrderedDict()
        # Seconds spent in each stage, for progress summaries and benchmarks.
        self.timings: Dict[str, float] = {'encoder': 0.0, 'decoder': 0.0, 'masks': 0.0}

    # ------------------------------------------------------------------ family hooks
    def _family_transform(self):
        """The input frame: ``ResizeLongestSide`` for SAM (prompts, mask inputs, image resize)."""
        from segment_anything.utils.transforms import ResizeLongestSide
        return ResizeLongestSide(self.sam.image_encoder.img_size)

    def _family_decoder(self) -> PromptBatchDecoder:
        """The batched decoder of the family."""
        return PromptBatchDecoder(self.sam)

    def _family_image_encoder(self):
        """The image encoder call (SAM's ViT with chunked global attention)."""
        return ChunkedImageEncoder(self.sam.image_encoder, self.heads_per_chunk)

    def _family_inputs(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """The encoder's input batch, each image prepared exactly as the family's predictor prepares it."""
        inputs = []
        for image in images:
            resized = self.transform.apply_image(image)
            tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
            inputs.append(self.sam.preprocess(tensor))
        return torch.cat(inputs, dim=0)

    def _family_encode(self, inputs: torch.Tensor):
        """Encoder output of a batch of prepared images (for SAM: ``n x C x h x w`` embeddings)."""
        return self.image_encoder(inputs)

    @staticmethod
    def _family_features_of(features, k: int):
        """Image ``k``'s features out of a batch's (what the decoder's ``set_image`` takes)."""
        return features[k:k + 1]

    def _family_upsampler(self, input_size, original_size) -> WindowedMaskUpsampler:
        """Post-processing geometry: SAM's two steps, through the padded 1024 frame."""
        lowres = self.mask_input_size
        return WindowedMaskUpsampler(lowres, self.transform.target_length, input_size, original_size,
                                     self.mask_threshold)

    def _family_clean_low_res(self, low_res: torch.Tensor) -> torch.Tensor:
        """Changes the predictor makes to the low-res logits before upsampling (none for SAM)."""
        return low_res

    @property
    def mask_threshold(self) -> float:
        """The predictor's mask threshold (0.0)."""
        return float(self.sam.mask_threshold)

    @property
    def mask_input_size(self) -> int:
        """Side of the decoder's low-res logits and of its mask inputs (256; 288 for SAM 3)."""
        return int(self.decoder.prompt_encoder.mask_input_size[0])

    # ------------------------------------------------------------------ shared pipeline
    def _max_prompt_batch(self) -> int:
        """Largest prompt batch whose decoder activations fit the memory budget."""
        budget_mb = self.cfg.get('max_decoder_memory_mb')
        if budget_mb is None:
            if self.device.type == 'cuda':
                free, total = torch.cuda.mem_get_info(self.device)
                budget_mb = min(free / 2, total / 4) / 2 ** 20
            else:
                budget_mb = 1024
        element = 2 if self.autocast_dtype is not None and self.device.type == 'cuda' else 4
        per_prompt = decoder_bytes_per_prompt(None, element, self.decoder.prompt_encoder, self.decoder.decoder)
        return max(1, int(budget_mb * 2 ** 20 // per_prompt))

    def autocast(self):
        """Autocast context for the configured dtype (a no-op for float32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def tf32(self):
        """TF32 setting of the model calls (``allow_tf32``); the process's flags are restored on exit."""
        return tf32_scope(self.allow_tf32)

    @contextlib.contextmanager
    def model_context(self):
        """Everything the model calls run under: the ``allow_tf32`` setting and autocast."""
        with self.tf32(), self.autocast():
            yield

    def _sync(self) -> None:
        """Wait for queued device work, so timings measure it."""
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def encode(self, images: Sequence[np.ndarray]):
        """Encoder features of RGB uint8 images, exactly as the family's predictor prepares them.

        For SAM an ``n x C x h x w`` tensor (``SamPredictor.features`` of each image); other
        families return their own structure (see their backends).
        """
        inputs = self._family_inputs(images)
        start = time.perf_counter()
        with self.model_context():
            features = self._family_encode(inputs)
        self._sync()
        self.timings['encoder'] += time.perf_counter() - start
        return features

    def _upsampler(self, input_size, original_size) -> WindowedMaskUpsampler:
        """Cached mask post-processor for one image geometry."""
        key = (tuple(input_size), tuple(original_size))
        if key not in self._upsamplers:
            self._upsamplers[key] = self._family_upsampler(input_size, original_size)
            while len(self._upsamplers) > 8:
                self._upsamplers.popitem(last=False)
        return self._upsamplers[key]

    def spec_for(self, req: AnnotateRequest) -> PromptSpec:
        """The prompt spec of a request (resolves ``'auto'`` by its source)."""
        return resolve_prompt_spec(self.cfg['prompt'], req.source, self.cfg['rotated_only_sources'])

    def prompt_builder(self, spec: PromptSpec, geometry: ObjectGeometry, original_size) -> SamPromptBuilder:
        """Prompts of one image's objects in the family's input frame."""
        return SamPromptBuilder(spec, geometry, original_size, self.transform, self.mask_input_size)

    def iter_masks(self, requests: Sequence[AnnotateRequest]) -> Iterator[Tuple[int, ObjectMask]]:
        """Masks of a group of images; images without instances skip the encoder."""
        prepared = []
        for pos, req in enumerate(requests):
            height, width = req.image.shape[:2]
            # Check every instance before spending encoder time on the group.
            geometry = ObjectGeometry.from_instances(req.instances, height, width, req.name)
            if len(geometry):
                prepared.append((pos, req, geometry, self.spec_for(req)))
        if not prepared:
            return
        features = self.encode([req.image for _, req, _, _ in prepared])
        for k, (pos, req, geometry, spec) in enumerate(prepared):
            for mask in self._decode_image(self._family_features_of(features, k), req, geometry, spec):
                yield pos, mask

    def _decode_image(self, features, req: AnnotateRequest, geometry: ObjectGeometry,
                      spec: PromptSpec) -> Iterator[ObjectMask]:
        """Decode all objects of one image in prompt batches and stream their masks."""
        height, width = req.image.shape[:2]
        builder = self.prompt_builder(spec, geometry, (height, width))
        upsampler = self._upsampler(builder.input_size, (height, width))
        self.decoder.set_image(features)
        encoder = ChunkMaskEncoder(upsampler, self.mask_bucket_elements) if self.batched_masks else None
        key = spec.name
        start, total = 0, len(builder)
        while start < total:
            size = self.sizer.next_size(key)
            stop = min(total, start + size)
            t0 = time.perf_counter()
            batch = builder.batch(start, stop, self.device)
            with self.model_context():
                low_res, iou = self.decoder.decode(batch, self.multimask_output)
            low_res, scores = self._select(low_res.float(), iou.float())
            low_res = self._family_clean_low_res(low_res)
            # SAM's stability score on the logits the mask comes from (no extra model call),
            # over the low-res cells that cover the image.
            rows, cols = upsampler.valid_lowres()
            stability = stability_score(low_res[:, :rows, :cols], upsampler.threshold).tolist()
            if encoder is None:
                extents = upsampler.positive_extents(low_res)
                scores = scores.cpu().numpy()
            self._sync()
            t1 = time.perf_counter()
            self.timings['decoder'] += t1 - t0
            if stop - start == size:
                self.sizer.record(key, size, t1 - t0)
            if encoder is not None:
                # The whole batch at once: a few kernels per size bucket, one copy to the host.
                results = encoder.encode(low_res, scores)
                self.timings['masks'] += time.perf_counter() - t1
                for j, (rle, area, bbox, score) in enumerate(results):
                    yield ObjectMask(index=start + j, rle=rle, score=score, area=area, bbox=bbox, prompt=key,
                                     stability=stability[j])
                start = stop
                continue
            for j in range(stop - start):
                t2 = time.perf_counter()
                window = upsampler.window_mask(low_res[j], extents[j])
                if window.empty:
                    rle, area, bbox = empty_rle(height, width), 0, (0.0, 0.0, 0.0, 0.0)
                else:
                    rle, area, bbox = window_to_rle(window.mask, window.top, window.left, height, width)
                # Only our own work counts, not the consumer's between two yields.
                self.timings['masks'] += time.perf_counter() - t2
                yield ObjectMask(index=start + j, rle=rle, score=float(scores[j]), area=area, bbox=bbox,
                                 prompt=key, stability=stability[j])
            start = stop

    @staticmethod
    def _select(low_res: torch.Tensor, iou: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One low-res map ``B x h x w`` and score per prompt: the only one, or the best-scored of several."""
        if low_res.shape[1] == 1:
            return low_res[:, 0], iou[:, 0]
        best = iou.argmax(dim=1)
        rows = torch.arange(low_res.shape[0], device=low_res.device)
        return low_res[rows, best], iou[rows, best]
