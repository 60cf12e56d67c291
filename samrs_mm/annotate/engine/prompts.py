"""The SAMRS prompts: CP, H-Box, RH-Box and the mask prompts H-Box-M, R-Box-M, RH-Box-M.

Definitions (SAMRS paper, Sec. 2.3; DESIGN.md section 4):

* ``cp``: the object's centre as one foreground point, no background point. The centre of
  the rotated box when the instance has one, else of the horizontal box.
* ``hbox``: the horizontal box of the record.
* ``rhbox``: the minimum horizontal rectangle around the rotated box.
* ``hbox_mask`` / ``rhbox_mask`` / ``rbox_mask``: SAM's ``256 x 256`` low-resolution mask
  input, ``+1000`` inside the box region and ``-1000`` outside. The map is built in the
  model's input frame (for SAM / HQ-SAM the image resized so its long side is 1024,
  :class:`ResizeLongestSide`, padded to ``1024 x 1024`` with ``-1000``; for SAM 2 / SAM 3
  the image stretched to the ``1024`` / ``1008`` square, :class:`SquareFrame`), then
  resized bilinearly to the model's mask-input size (256; 288 for SAM 3).
  Pixels are inside by the rule of :mod:`samrs_mm.annotate.engine.raster`.

A prompt spec names one basic prompt or a combination joined by ``+`` (``'hbox+cp'``,
``'rhbox+rbox_mask'``, ``'cp+hbox_mask'``): at most one box prompt, at most one mask prompt,
and CP, all fed together for one object as ``SamPredictor.predict`` would take them.
``'auto'`` is the paper's rule: RH-Box for sources that only have rotated boxes, H-Box otherwise.

An instance without a rotated box uses its horizontal box as one (angle 0), so every spec
works on every source; on such instances ``rhbox`` equals ``hbox``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from ...structures.boxes import check_boxes, complete_boxes, hbox_to_quad, hbox_to_rbox, rbox_to_hbox, rbox_to_quad
from .raster import polygon_coverage
from .upsample import blend, linear_taps

__all__ = [
    'BASIC_PROMPTS', 'ROTATED_ONLY_SOURCES', 'MASK_PROMPT_VALUE', 'PromptSpec', 'PromptError',
    'parse_prompt_spec', 'resolve_prompt_spec', 'ObjectGeometry', 'SamPromptBatch',
    'SamPromptBuilder', 'mask_prompt_maps', 'SquareFrame',
]

BASIC_PROMPTS: Tuple[str, ...] = ('cp', 'hbox', 'rhbox', 'hbox_mask', 'rhbox_mask', 'rbox_mask')

# Sources whose annotations are rotated boxes only: the paper labels them with RH-Box
# (FAIR1M -> FAST). Every other source is labelled with H-Box (DOTA -> SOTA, DIOR -> SIOR).
ROTATED_ONLY_SOURCES: Tuple[str, ...] = ('fair1m',)

# Logit magnitude of the mask prompts: +1000 inside the region, -1000 outside and in padding.
MASK_PROMPT_VALUE = 1000.0

# Spellings accepted for each basic prompt (the paper's names, lower-cased, and ours).
_ALIASES: Dict[str, str] = {
    'cp': 'cp', 'center_point': 'cp', 'centre_point': 'cp', 'point': 'cp',
    'hbox': 'hbox', 'h-box': 'hbox', 'h_box': 'hbox',
    'rhbox': 'rhbox', 'rh-box': 'rhbox', 'rh_box': 'rhbox',
    'hbox_mask': 'hbox_mask', 'h-box-m': 'hbox_mask', 'hbox-m': 'hbox_mask', 'hbox_m': 'hbox_mask',
    'rhbox_mask': 'rhbox_mask', 'rh-box-m': 'rhbox_mask', 'rhbox-m': 'rhbox_mask', 'rhbox_m': 'rhbox_mask',
    'rbox_mask': 'rbox_mask', 'r-box-m': 'rbox_mask', 'rbox-m': 'rbox_mask', 'rbox_m': 'rbox_mask',
}


class PromptError(ValueError):
    """A prompt spec or an instance's geometry cannot be turned into a prompt."""


@dataclass(frozen=True)
class PromptSpec:
    """Which prompts are fed together for each object.

    ``box`` is ``'hbox'``, ``'rhbox'`` or None; ``mask`` the region of the mask prompt
    (``'hbox'``, ``'rhbox'``, ``'rbox'``) or None; ``point`` whether CP is fed.
    """

    box: Optional[str] = None
    point: bool = False
    mask: Optional[str] = None

    def __post_init__(self):
        if self.box not in (None, 'hbox', 'rhbox'):
            raise PromptError(f'box prompt must be hbox or rhbox, got {self.box!r}')
        if self.mask not in (None, 'hbox', 'rhbox', 'rbox'):
            raise PromptError(f'mask prompt region must be hbox, rhbox or rbox, got {self.mask!r}')
        if self.box is None and not self.point and self.mask is None:
            raise PromptError('a prompt spec needs at least one prompt')

    @property
    def name(self) -> str:
        """Canonical spelling: box, then ``cp``, then the mask prompt, joined by ``+``."""
        parts = []
        if self.box:
            parts.append(self.box)
        if self.point:
            parts.append('cp')
        if self.mask:
            parts.append(f'{self.mask}_mask')
        return '+'.join(parts)

    @property
    def basic(self) -> Tuple[str, ...]:
        """The basic prompts of this spec, in canonical order."""
        return tuple(self.name.split('+'))

    def __str__(self) -> str:
        return self.name


def parse_prompt_spec(text) -> PromptSpec:
    """Parse ``'hbox'``, ``'RH-Box+CP'``, ``'rhbox+rbox_mask'`` ... into a :class:`PromptSpec`.

    ``'auto'`` depends on the source: use :func:`resolve_prompt_spec` for it.
    """
    if isinstance(text, PromptSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f'a prompt spec must be a non-empty string, got {text!r}')
    box, point, mask = None, False, None
    for raw in text.split('+'):
        key = raw.strip().lower().replace(' ', '')
        if key == 'auto':
            raise PromptError("'auto' cannot be combined and needs the source: use resolve_prompt_spec")
        if key not in _ALIASES:
            raise PromptError(f'unknown prompt {raw.strip()!r} in {text!r}; basic prompts are '
                              f'{", ".join(BASIC_PROMPTS)} (or the paper names CP, H-Box, RH-Box, '
                              f'H-Box-M, RH-Box-M, R-Box-M), combined with "+"')
        basic = _ALIASES[key]
        if basic == 'cp':
            if point:
                raise PromptError(f'CP appears twice in {text!r}')
            point = True
        elif basic.endswith('_mask'):
            if mask is not None:
                raise PromptError(f'{text!r} has two mask prompts; SAM takes one mask input per object')
            mask = basic[:-len('_mask')]
        else:
            if box is not None:
                raise PromptError(f'{text!r} has two box prompts; SAM takes one box per object')
            box = basic
    return PromptSpec(box=box, point=point, mask=mask)


def resolve_prompt_spec(text, source: str = '',
                        rotated_only_sources: Iterable[str] = ROTATED_ONLY_SOURCES) -> PromptSpec:
    """Parse a spec, turning ``'auto'`` into the paper's rule for ``source``.

    ``'auto'``: RH-Box when ``source`` (a reader name such as ``'fair1m'``) is one of
    ``rotated_only_sources``, else H-Box.
    """
    if isinstance(text, str) and text.strip().lower() == 'auto':
        rotated_only = {s.lower() for s in rotated_only_sources}
        return PromptSpec(box='rhbox' if (source or '').lower() in rotated_only else 'hbox')
    return parse_prompt_spec(text)


def _origin(instance, index: int, where: str) -> str:
    """Human-readable place of an instance for error messages."""
    own = getattr(instance, 'origin', '') or ''
    return own or f'{where or "<image>"} instance #{index}'


@dataclass
class ObjectGeometry:
    """Box geometry of all objects of one image, in image pixels (see ``sources/record.py``).

    ``rbox`` is always filled: taken from the instance, else the min-area rectangle of its
    quad, else its horizontal box at angle 0. ``has_rotated`` tells which objects had one.
    """

    hbox: np.ndarray
    rbox: np.ndarray
    has_rotated: np.ndarray
    quad: np.ndarray

    def __len__(self) -> int:
        return len(self.hbox)

    @classmethod
    def from_instances(cls, instances: Sequence, height: int, width: int,
                       where: str = '') -> 'ObjectGeometry':
        """Collect and check the boxes of ``instances`` (record :class:`Instance` objects).

        Raises :class:`~samrs_mm.structures.boxes.BoxError` naming the instance's origin (file
        and line) for non-finite or inverted boxes and for boxes that lie completely outside
        the image.
        """
        n = len(instances)
        hbox = np.zeros((n, 4))
        rbox = np.zeros((n, 5))
        quad = np.zeros((n, 4, 2))
        has_rotated = np.zeros(n, dtype=bool)
        for i, inst in enumerate(instances):
            origin = _origin(inst, i, where)
            boxes = complete_boxes(inst.hbox, getattr(inst, 'quad', None), getattr(inst, 'rbox', None),
                                   path=origin)
            # A point-sized box is still a prompt SAM can take.
            check_boxes(boxes, width=width, height=height, allow_zero_size=True, path=origin)
            hbox[i] = boxes.hbox
            has_rotated[i] = boxes.rbox is not None
            # Objects without a rotated box take their hbox at angle 0 for the rotated prompts.
            rbox[i] = boxes.rbox if has_rotated[i] else hbox_to_rbox(boxes.hbox)
            quad[i] = boxes.quad if boxes.quad is not None else rbox_to_quad(rbox[i])
        return cls(hbox=hbox, rbox=rbox, has_rotated=has_rotated, quad=quad)

    def centers(self) -> np.ndarray:
        """CP of every object: rotated-box centre where known, else horizontal-box centre, ``(N, 2)``."""
        hcenter = (self.hbox[:, :2] + self.hbox[:, 2:]) / 2
        return np.where(self.has_rotated[:, None], self.rbox[:, :2], hcenter)

    def boxes(self, kind: str) -> np.ndarray:
        """Horizontal boxes ``(N, 4)``: the record's ``'hbox'`` or the ``'rhbox'`` around the rotated box."""
        if kind == 'hbox':
            return self.hbox
        if kind == 'rhbox':
            # Objects without a rotated box keep their hbox exactly (no float round trip).
            return np.where(self.has_rotated[:, None], rbox_to_hbox(self.rbox), self.hbox)
        raise PromptError(f'unknown box kind {kind!r}')

    def polygons(self, kind: str) -> np.ndarray:
        """Region polygons ``(N, 4, 2)``: ``'hbox'``, ``'rhbox'``, ``'rbox'`` or the source ``'quad'``."""
        if kind in ('hbox', 'rhbox'):
            return hbox_to_quad(self.boxes(kind))
        if kind == 'rbox':
            return np.where(self.has_rotated[:, None, None], rbox_to_quad(self.rbox), hbox_to_quad(self.hbox))
        if kind == 'quad':
            return self.quad
        raise PromptError(f'unknown region kind {kind!r}')


def mask_prompt_maps(polygons: np.ndarray, original_size: Tuple[int, int], input_size: Tuple[int, int],
                     padded_size: int = 1024, mask_size: int = 256) -> np.ndarray:
    """Mask inputs ``(B, mask_size, mask_size)`` float32 for polygons in the image frame.

    Equal, value for value, to: rasterise each polygon (scaled into the model input frame,
    ``input_size / original_size`` per axis, as the family's coordinate transform scales
    points) on the ``input_size`` grid with +1000 inside and -1000 outside, pad to
    ``padded_size`` with -1000, and resize bilinearly (``align_corners=False``, no
    antialias, as ``F.interpolate`` and ``cv2.INTER_LINEAR``) to ``mask_size``. Each output
    cell reads two frame pixels per axis (the taps ATen computes), so only those pixels'
    centres are tested against the polygon and blended with ATen's weights and order; no
    ``padded_size`` canvas is allocated. For SAM's ``1024 -> 256`` (factor 4) the taps are
    frame pixels ``4c + 1`` and ``4c + 2`` with weight 1/2; SAM 3's ``1008 -> 288``
    (factor 3.5) reads pixels at weights 1/4 and 3/4. With +-1000 inputs and these weights
    every value is exact in float32.
    """
    polygons = np.asarray(polygons, dtype=np.float64)
    old_h, old_w = original_size
    new_h, new_w = input_size
    scale = np.array([new_w / old_w, new_h / old_h])
    axes = []
    for limit in (new_h, new_w):
        src0, src1, w0, w1 = linear_taps(padded_size, mask_size)
        # The frame pixels the resize reads, and where each tap finds its pixel among them.
        pixels = np.unique(np.concatenate([src0, src1]))
        axes.append((pixels, pixels + 0.5, pixels < limit, np.searchsorted(pixels, src0),
                     np.searchsorted(pixels, src1), torch.from_numpy(w0), torch.from_numpy(w1)))
    (ry, cy, ok_y, y0, y1, wy0, wy1), (rx, cx, ok_x, x0, x1, wx0, wx1) = axes
    value = np.float32(MASK_PROMPT_VALUE)
    maps = np.empty((len(polygons), mask_size, mask_size), dtype=np.float32)
    for b, poly in enumerate(polygons):
        frame_poly = poly * scale
        frame = np.full((len(ry), len(rx)), -value, dtype=np.float32)
        # Only pixels inside the resized image (not the padding) and near the polygon matter.
        xs_ok = ok_x & (cx >= frame_poly[:, 0].min() - 1) & (cx <= frame_poly[:, 0].max() + 1)
        ys_ok = ok_y & (cy >= frame_poly[:, 1].min() - 1) & (cy <= frame_poly[:, 1].max() + 1)
        xi, yi = np.flatnonzero(xs_ok), np.flatnonzero(ys_ok)
        if xi.size and yi.size:
            inside = polygon_coverage(frame_poly, cx[xi], cy[yi])
            frame[np.ix_(yi, xi)] = np.where(inside, value, -value)
        t = torch.from_numpy(frame)
        # Width first, then height, as ATen's bilinear kernels blend.
        wide = blend(t[:, x0], t[:, x1], wx0, wx1)
        maps[b] = blend(wide[y0], wide[y1], wy0[:, None], wy1[:, None]).numpy()
    return maps


class SquareFrame:
    """The input frame of SAM 2 and SAM 3: the image stretched to a ``resolution`` square, no padding.

    Offers the methods of ``segment_anything``'s ``ResizeLongestSide`` that
    :class:`SamPromptBuilder` uses. Coordinates are mapped as ``SAM2Transforms.transform_coords``
    maps them (``normalize=True``): float32, ``x / W`` and ``y / H``, then times the
    resolution, so each prompt equals, bit for bit, what those predictors feed their prompt
    encoder.
    """

    def __init__(self, resolution: int) -> None:
        self.target_length = int(resolution)

    @staticmethod
    def get_preprocess_shape(oldh: int, oldw: int, long_side_length: int) -> Tuple[int, int]:
        """The image's size in the frame: the whole square."""
        return long_side_length, long_side_length

    def apply_coords(self, coords: np.ndarray, original_size: Tuple[int, ...]) -> np.ndarray:
        """``(..., 2)`` image-frame ``(x, y)`` points in the model frame, float32."""
        height, width = original_size
        t = torch.as_tensor(np.asarray(coords), dtype=torch.float32).clone()
        t[..., 0] = t[..., 0] / width
        t[..., 1] = t[..., 1] / height
        return (t * self.target_length).numpy()

    def apply_boxes(self, boxes: np.ndarray, original_size: Tuple[int, ...]) -> np.ndarray:
        """``(B, 4)`` xyxy boxes in the model frame, float32."""
        boxes = np.asarray(boxes)
        return self.apply_coords(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)


@dataclass
class SamPromptBatch:
    """Prompts of a slice of objects in SAM's input frame, as ``SamPredictor.predict_torch`` takes them."""

    point_coords: Optional[torch.Tensor]
    point_labels: Optional[torch.Tensor]
    boxes: Optional[torch.Tensor]
    mask_inputs: Optional[torch.Tensor]

    def __len__(self) -> int:
        for t in (self.point_coords, self.boxes, self.mask_inputs):
            if t is not None:
                return t.shape[0]
        return 0


class SamPromptBuilder:
    """Builds SAM-family prompts for the objects of one image, one slice at a time.

    ``transform`` is the family's input frame: ``ResizeLongestSide`` (SAM, HQ-SAM) or
    :class:`SquareFrame` (SAM 2, SAM 3). Coordinates go through the same calls as the
    family's predictor, so each object's prompt equals, value for value, what the predictor
    builds from :meth:`predictor_kwargs`. Mask inputs are built per slice only, so memory
    stays bounded for images with thousands of objects.
    """

    def __init__(self, spec: PromptSpec, geometry: ObjectGeometry, original_size: Tuple[int, int],
                 transform, mask_size: int = 256) -> None:
        self.spec = spec
        self.geometry = geometry
        self.original_size = tuple(int(v) for v in original_size)
        self.transform = transform
        self.mask_size = mask_size
        self.padded_size = int(transform.target_length)
        self.input_size = transform.get_preprocess_shape(self.original_size[0], self.original_size[1],
                                                         transform.target_length)
        # Image-frame arrays of every object; cheap (a few numbers per object).
        self.points = geometry.centers() if spec.point else None
        self.boxes = geometry.boxes(spec.box) if spec.box else None
        self.polygons = geometry.polygons(spec.mask) if spec.mask else None

    def __len__(self) -> int:
        return len(self.geometry)

    def batch(self, start: int, stop: int, device) -> SamPromptBatch:
        """Prompts of objects ``start:stop`` as tensors on ``device``."""
        coords = labels = boxes = masks = None
        if self.points is not None:
            pts = self.transform.apply_coords(self.points[start:stop, None, :], self.original_size)
            coords = torch.as_tensor(pts, dtype=torch.float, device=device)
            labels = torch.ones(coords.shape[:2], dtype=torch.int, device=device)
        if self.boxes is not None:
            bx = self.transform.apply_boxes(self.boxes[start:stop], self.original_size)
            boxes = torch.as_tensor(bx, dtype=torch.float, device=device)
        if self.polygons is not None:
            maps = mask_prompt_maps(self.polygons[start:stop], self.original_size, self.input_size,
                                    self.padded_size, self.mask_size)
            masks = torch.as_tensor(maps, device=device)[:, None]
        return SamPromptBatch(coords, labels, boxes, masks)

    def predictor_kwargs(self, index: int) -> dict:
        """Arguments of ``SamPredictor.predict`` that give object ``index`` the same prompts."""
        kwargs = {}
        if self.points is not None:
            kwargs['point_coords'] = self.points[index:index + 1].copy()
            kwargs['point_labels'] = np.ones(1, dtype=np.int64)
        if self.boxes is not None:
            kwargs['box'] = self.boxes[index].copy()
        if self.polygons is not None:
            kwargs['mask_input'] = mask_prompt_maps(self.polygons[index:index + 1], self.original_size,
                                                    self.input_size, self.padded_size, self.mask_size)
        return kwargs

