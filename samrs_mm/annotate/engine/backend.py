"""What every labelling backend takes and gives, and the registry that names backends.

A backend turns one or more images with their detection instances into one
:class:`ObjectMask` per instance (same order). Backends register under a name with
:func:`register_backend` and are built from the engine's config dict
(:mod:`samrs_mm.annotate.engine`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type

import numpy as np

__all__ = ['ObjectMask', 'AnnotateRequest', 'AnnotationBackend', 'ANNOTATION_BACKENDS', 'backend_names',
           'backend_class', 'register_backend']


@dataclass
class ObjectMask:
    """The mask of one instance, compact: COCO RLE plus the numbers writers need.

    Attributes:
        index: position of the instance in the request's instance list.
        rle: compressed COCO RLE of the full-image mask, ``{'size': [H, W], 'counts': str}``.
        score: SAM's predicted IoU of the mask (1.0 for the ``box`` backend).
        area: number of mask pixels.
        bbox: COCO ``(x, y, w, h)`` of the mask (``pycocotools.mask.toBbox``), zeros if empty.
        prompt: the prompt spec (or box region) that produced the mask, e.g. ``'hbox'``.
        stability: SAM's stability score of the mask's low-resolution logits
            (:func:`~samrs_mm.structures.mask_quality.stability_score`); None without logits
            (the ``box`` backend).
    """

    index: int
    rle: Dict
    score: float
    area: int
    bbox: Tuple[float, float, float, float]
    prompt: str
    stability: Optional[float] = None

    @property
    def empty(self) -> bool:
        """True when the mask has no pixel."""
        return self.area == 0

    def decode(self) -> np.ndarray:
        """The full-image mask as an ``(H, W)`` bool array."""
        from ...structures.rle import decode
        return decode(self.rle)


@dataclass
class AnnotateRequest:
    """One image to label: ``image`` is ``H x W x 3`` uint8 RGB; ``instances`` are record
    :class:`~samrs_mm.structures.record.Instance` objects (or anything with ``hbox`` and
    optional ``rbox`` / ``quad`` / ``origin``); ``source`` is the reader name (drives
    ``prompt='auto'``); ``name`` identifies the image in error messages (its path)."""

    image: np.ndarray
    instances: Sequence = field(default_factory=list)
    source: str = ''
    name: str = ''

    def check(self) -> None:
        """Raise a ValueError naming the image when it is not ``H x W x 3`` uint8."""
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            desc = (f'{img.dtype} array of shape {img.shape}' if isinstance(img, np.ndarray)
                    else type(img).__name__)
            raise ValueError(f'{self.name or "<image>"}: the engine takes H x W x 3 uint8 RGB images, got '
                             f'{desc} (samrs_mm.sources.image_io.load_image converts other rasters)')
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise ValueError(f'{self.name or "<image>"}: empty image of shape {img.shape}')


class AnnotationBackend:
    """Base of the labelling backends: config in, one :class:`ObjectMask` per instance out.

    A backend that decodes prompts in batches sets ``sizer`` to its
    :class:`~samrs_mm.annotate.engine.batch_size.PromptBatchSizer`; the runner then decides an
    ``'auto'`` size once per work dir and keeps it for resumes and other ranks.
    """

    sizer = None

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg

    def iter_masks(self, requests: Sequence[AnnotateRequest]) -> Iterator[Tuple[int, ObjectMask]]:
        """Masks of a group of images (encoded together), as ``(request position, mask)`` pairs.

        Masks come request by request, each request's in instance order, one at a time, so
        a consumer can write them out as they arrive.
        """
        raise NotImplementedError

    def annotate(self, requests: Sequence[AnnotateRequest]) -> List[List[ObjectMask]]:
        """Masks of a group of images, one list per request."""
        out: List[List[ObjectMask]] = [[] for _ in requests]
        for pos, mask in self.iter_masks(requests):
            out[pos].append(mask)
        return out


ANNOTATION_BACKENDS: Dict[str, Type[AnnotationBackend]] = {}
# The package whose import registers the SAM families' backends. The engine does not import
# it at load time (the families are built from the engine's parts, so they sit downstream);
# it is loaded by name on the first lookup, as mmengine registries load their ``locations``.
FAMILIES_PACKAGE = 'samrs_mm.annotate.families'


def _load_families() -> None:
    import importlib
    importlib.import_module(FAMILIES_PACKAGE)


def backend_names() -> List[str]:
    """Names of every registered backend (the SAM families' included), in registration order."""
    _load_families()
    return list(ANNOTATION_BACKENDS)


def backend_class(name: str) -> Type[AnnotationBackend]:
    """The backend class registered as ``name`` (``KeyError`` naming the valid ones otherwise)."""
    if name not in ANNOTATION_BACKENDS:
        _load_families()
    try:
        return ANNOTATION_BACKENDS[name]
    except KeyError:
        raise KeyError(f'unknown annotation backend {name!r}; registered: {", ".join(ANNOTATION_BACKENDS)}') from None


def register_backend(name: str) -> Callable[[Type[AnnotationBackend]], Type[AnnotationBackend]]:
    """Class decorator: make ``backend=name`` in the engine config build this class."""
    def deco(cls):
        if name in ANNOTATION_BACKENDS and ANNOTATION_BACKENDS[name] is not cls:
            raise ValueError(f'annotation backend {name!r} is already registered')
        ANNOTATION_BACKENDS[name] = cls
        return cls
    return deco
