"""The ``box`` backend: each object's mask is its box region, filled. No model.

A real baseline for the prompt ablation (how much SAM adds over the box itself) and a way
to produce labels on machines without SAM weights. The region follows the ``prompt``
setting of the engine config: ``'hbox'``, ``'rhbox'``, ``'rbox'`` (the rotated box; the
horizontal box for instances without one), ``'quad'`` (the source's quadrilateral as
given), a mask prompt name (``'rbox_mask'`` fills its region) or ``'auto'`` (the paper's
rule, H-Box or RH-Box by source). Pixels are filled by the rule of
:mod:`samrs_mm.annotate.engine.raster`.
"""
from __future__ import annotations

from typing import Iterator, Sequence, Tuple

from ...structures.rle import encode_window
from .backend import AnnotateRequest, AnnotationBackend, ObjectMask, register_backend
from .prompts import ObjectGeometry, PromptError, resolve_prompt_spec
from .raster import fill_polygon

__all__ = ['BoxBackend', 'box_region']

_REGIONS = ('hbox', 'rhbox', 'rbox', 'quad')


def box_region(prompt: str, source: str = '', rotated_only_sources=('fair1m',)) -> str:
    """Region the ``box`` backend fills for a ``prompt`` setting: hbox, rhbox, rbox or quad."""
    key = str(prompt).strip().lower()
    if key in _REGIONS:
        return key
    spec = resolve_prompt_spec(prompt, source, rotated_only_sources)
    if spec.point or (spec.box and spec.mask) or (spec.box is None and spec.mask is None):
        raise PromptError(f'the box backend fills one region; {prompt!r} is not one of '
                          f'{", ".join(_REGIONS)} or a single box / box-mask prompt')
    return spec.box or spec.mask


@register_backend('box')
class BoxBackend(AnnotationBackend):
    """Fills each object's box region (see the module docstring)."""

    def __init__(self, cfg: dict) -> None:
        super().__init__(cfg)
        box_region(cfg.get('prompt', 'auto'))  # a bad setting fails at build time, not on the first image

    def iter_masks(self, requests: Sequence[AnnotateRequest]) -> Iterator[Tuple[int, ObjectMask]]:
        """Filled regions of every instance, request by request."""
        for pos, req in enumerate(requests):
            height, width = req.image.shape[:2]
            region = box_region(self.cfg.get('prompt', 'auto'), req.source,
                                self.cfg.get('rotated_only_sources', ('fair1m',)))
            geometry = ObjectGeometry.from_instances(req.instances, height, width, req.name)
            for i, poly in enumerate(geometry.polygons(region)):
                window, top, left = fill_polygon(poly, height, width)
                rle, area, bbox = encode_window(window, top, left, height, width)
                yield pos, ObjectMask(index=i, rle=rle, score=1.0, area=area, bbox=bbox, prompt=region)
