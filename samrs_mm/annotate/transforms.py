"""``SAMAnnotate``: the labelling engine as a data-pipeline step (mmseg, mmdet, mmrotate).

It reads the image and its boxes from the results dict and adds SAM masks, so a detection
dataset can feed instance or semantic segmentation training on the fly, or be inspected
in a notebook, with the exact engine that ``tools/samrs_annotate.py`` runs offline.

Registered in ``mmseg.registry.TRANSFORMS`` and, when mmdet is installed, in
``mmdet.registry.TRANSFORMS`` under the same name. In mmseg or mmdet configs write
``dict(type='SAMAnnotate', ...)``; in mmrotate configs (default scope ``mmrotate``) write
``dict(type='mmdet.SAMAnnotate', ...)`` as mmrotate does for mmdet's own transforms.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS

from ..structures import boxes as G
from ..structures.record import Instance
from .outputs import OVERLAP_RULES, compose_semantic

__all__ = ['SAMAnnotate', 'boxes_to_instances']


def _box_array(boxes) -> np.ndarray:
    """``(N, D)`` float64 array of boxes given as mmdet/mmrotate box objects, tensors or arrays."""
    if hasattr(boxes, 'tensor'):  # mmdet BaseBoxes (HorizontalBoxes, RotatedBoxes, QuadriBoxes)
        boxes = boxes.tensor
    if hasattr(boxes, 'detach'):
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2:
        raise ValueError(f'gt_bboxes must be (N, 4), (N, 5) or (N, 8), got shape {arr.shape}')
    return arr


def boxes_to_instances(boxes, labels=None, box_type: Optional[str] = None) -> List[Instance]:
    """Engine instances from pipeline boxes.

    ``box_type`` ``'hbox'`` (``x1, y1, x2, y2``), ``'rbox'`` (``cx, cy, w, h, theta`` in radians,
    mmrotate's ``le90``) or ``'qbox'`` (four corners); None infers it from the box width
    (4, 5 or 8 values). Labels become ``class_index``.
    """
    arr = _box_array(boxes)
    kind = box_type or {4: 'hbox', 5: 'rbox', 8: 'qbox'}.get(arr.shape[1])
    if kind is None:
        raise ValueError(f'cannot tell the box type of {arr.shape[1]}-value boxes; pass box_type')
    labels = np.zeros(len(arr), dtype=np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if len(labels) != len(arr):
        raise ValueError(f'{len(arr)} boxes but {len(labels)} labels')
    if kind not in ('hbox', 'rbox', 'qbox'):
        raise ValueError(f"box_type must be 'hbox', 'rbox' or 'qbox', got {kind!r}")
    instances = []
    for i, (box, label) in enumerate(zip(arr, labels)):
        where = f'gt_bboxes[{i}]'
        given = {'hbox': dict(hbox=box), 'rbox': dict(rbox=box), 'qbox': dict(quad=box)}[kind]
        geo = G.complete_boxes(**given, path=where)
        instances.append(Instance(class_name=str(int(label)), hbox=geo.hbox, rbox=geo.rbox, quad=geo.quad,
                                  class_index=int(label), origin=where))
    return instances


class SAMAnnotate(BaseTransform):
    """Add SAM masks of the boxes in ``gt_bboxes`` as ``gt_masks`` and/or ``gt_seg_map``.

    Required keys: ``img`` (``H x W x 3`` uint8), ``gt_bboxes`` (mmdet ``HorizontalBoxes``,
    mmrotate ``RotatedBoxes`` / ``QuadriBoxes``, or an ``(N, 4|5|8)`` array);
    ``gt_bboxes_labels`` (needed for ``gt_seg_map``).

    Added keys: ``gt_masks`` (mmdet ``BitmapMasks``, or an ``(N, H, W)`` uint8 array without
    mmdet), ``gt_seg_map`` (uint8, label of the object on top, ``ignore_index`` elsewhere;
    added to ``seg_fields`` so later mmseg transforms move it with the image),
    ``gt_mask_scores`` (SAM's predicted IoU per object, float32).

    Args:
        engine (dict): engine config (see docs/annotate_engine.md), e.g.
            ``dict(backend='segment_anything', model_type='vit_h', checkpoint='sam_vit_h_4b8939.pth')``,
            another SAM family (``backend='sam2'``, ``'sam_hq'``, ``'sam3'`` with its
            ``model_type``) or ``dict(backend='box')``. The engine is built on first use in each process;
            with SAM on a GPU keep the dataloader's ``num_workers=0``.
        prompt (str, optional): prompt spec overriding ``engine['prompt']``.
        source (str): source name for ``prompt='auto'`` (``'fair1m'`` gives RH-Box).
        channel_order (str): ``'bgr'`` (mmcv's ``LoadImageFromFile`` default) or ``'rgb'``.
        box_type (str, optional): ``'hbox'``, ``'rbox'`` or ``'qbox'``; inferred when None.
        with_masks (bool): add ``gt_masks``.
        with_seg (bool): add ``gt_seg_map``.
        overlap (str): overlap rule of ``gt_seg_map`` (:data:`~samrs_mm.annotate.outputs.OVERLAP_RULES`).
        ignore_index (int): value of uncovered pixels in ``gt_seg_map``.
    """

    def __init__(self, engine: Optional[Dict] = None, prompt: Optional[str] = None, source: str = '',
                 channel_order: str = 'bgr', box_type: Optional[str] = None, with_masks: bool = True,
                 with_seg: bool = True, overlap: str = 'small_on_top', ignore_index: int = 255) -> None:
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        if overlap not in OVERLAP_RULES:
            raise ValueError(f'overlap must be one of {OVERLAP_RULES}, got {overlap!r}')
        if not (with_masks or with_seg):
            raise ValueError('SAMAnnotate with with_masks=False and with_seg=False would add nothing')
        self.engine_cfg = dict(engine or dict(backend='segment_anything'))
        if prompt is not None:
            self.engine_cfg['prompt'] = prompt
        # Fail at config time on unknown keys or prompts, not on the first image.
        from .engine import check_engine_config
        check_engine_config(self.engine_cfg)
        self.source = source
        self.channel_order = channel_order
        self.box_type = box_type
        self.with_masks = with_masks
        self.with_seg = with_seg
        self.overlap = overlap
        self.ignore_index = int(ignore_index)
        self._engine = None

    @property
    def engine(self):
        """The engine, built on first use."""
        if self._engine is None:
            from .engine import build_engine
            self._engine = build_engine(self.engine_cfg)
        return self._engine

    def __getstate__(self):
        # Worker processes build their own engine; never pickle a model.
        state = self.__dict__.copy()
        state['_engine'] = None
        return state

    def transform(self, results: dict) -> dict:
        """Label the boxes of one sample."""
        where = results.get('img_path', '<sample>')
        if 'gt_bboxes' not in results:
            raise KeyError(f'{where}: SAMAnnotate needs gt_bboxes; put LoadAnnotations(with_bbox=True) '
                           '(mmdet/mmrotate) before it')
        img = results['img']
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'{where}: SAMAnnotate needs an H x W x 3 uint8 image, got '
                             f'{getattr(img, "dtype", type(img))} {getattr(img, "shape", "")}')
        rgb = np.ascontiguousarray(img[..., ::-1] if self.channel_order == 'bgr' else img)
        labels = results.get('gt_bboxes_labels')
        if labels is None and self.with_seg:
            raise KeyError(f'{where}: gt_seg_map needs gt_bboxes_labels (or set with_seg=False)')
        instances = boxes_to_instances(results['gt_bboxes'], labels, self.box_type)
        height, width = rgb.shape[:2]
        masks = self.engine.annotate(rgb, instances, source=self.source, name=str(where)) if instances else []
        if self.with_masks:
            results['gt_masks'] = self._mask_structure(masks, height, width)
        if self.with_seg:
            results['gt_seg_map'] = compose_semantic(masks, [inst.class_index for inst in instances], height,
                                                     width, self.overlap, self.ignore_index)
            seg_fields = results.setdefault('seg_fields', [])
            if 'gt_seg_map' not in seg_fields:
                seg_fields.append('gt_seg_map')
        results['gt_mask_scores'] = np.array([m.score for m in masks], dtype=np.float32)
        return results

    @staticmethod
    def _mask_structure(masks, height: int, width: int):
        """``BitmapMasks`` of the masks (an ``(N, H, W)`` uint8 array without mmdet)."""
        array = np.zeros((len(masks), height, width), dtype=np.uint8)
        for i, m in enumerate(masks):
            if m.area:
                array[i] = m.decode()
        try:
            from mmdet.structures.mask import BitmapMasks
        except ImportError:
            return array
        return BitmapMasks(array, height, width)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(engine={self.engine_cfg}, source={self.source!r}, '
                f'channel_order={self.channel_order!r}, with_masks={self.with_masks}, '
                f'with_seg={self.with_seg}, overlap={self.overlap!r})')


MMSEG_TRANSFORMS.register_module(module=SAMAnnotate)
try:
    from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
except ImportError:  # mmdet is optional for mmseg-only users
    MMDET_TRANSFORMS = None
else:
    MMDET_TRANSFORMS.register_module(module=SAMAnnotate)
