"""A trained model of the package, loaded for scene inference: what it predicts and how windows enter it.

:class:`SceneModel` builds the model of any config of the package in its own package's
registry (``default_scope``: mmseg segmentors, the SEP / MTP models; mmdet's Mask R-CNN;
mmrotate's Oriented R-CNN), loads the checkpoint strictly (a file that does not fit the model
is refused, naming the first keys, instead of silently loading nothing), and offers

* :attr:`tasks`: ``'semantic'`` (segmentors, MTP's semantic branch), ``'instance'`` (mmdet
  detectors, MTP's instance branch), ``'rotated'`` (mmrotate detectors, MTP's rotated branch);
* :meth:`semantic_logits`: the logits of a batch of equal-size windows through the model's
  own data preprocessor (normalisation, channel order) and ``encode_decode``, with the
  window metainfo mmseg's ``slide_inference`` gives its crops, so every window's logits are
  those slide inference computes for it;
* :meth:`detect`: the detections of a batch of windows through the preprocessor and
  ``predict`` (``rescale=True``, at the scene's resolution), per task as numpy arrays.

Models with one head per SAMRS subset (SEP's ``MultiHeadDecodeHead``, MTP) need ``subset``.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .raster import SceneInputError

__all__ = ['SceneModel', 'TASKS']

TASKS = ('semantic', 'instance', 'rotated')


def _registry(scope: str):
    if scope == 'mmrotate':
        from ..compat import import_mmrotate
        import_mmrotate()
        from mmrotate.registry import MODELS
        return MODELS
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        return MODELS
    if scope in ('mmseg', None):
        from mmseg.registry import MODELS
        return MODELS
    raise SceneInputError(f'default_scope {scope!r}: infer_scene runs mmseg, mmdet and mmrotate models')


class SceneModel:
    """A model of ``cfg`` (an mmengine Config) with the weights of ``checkpoint`` (see the module docstring)."""

    def __init__(self, cfg, checkpoint: str, subset: Optional[str] = None, device: str = 'auto') -> None:
        import os.path as osp

        from mmengine.registry import init_default_scope
        from mmengine.runner import load_checkpoint

        from ..launch import adapt_config_to_device
        if not osp.isfile(checkpoint):
            raise SceneInputError(f'checkpoint not found: {checkpoint}')
        self.cfg = cfg
        self.scope = cfg.get('default_scope', 'mmseg')
        registry = _registry(self.scope)
        init_default_scope(self.scope)
        adapt_config_to_device(cfg)
        model_cfg = cfg.model
        if model_cfg.get('pretrained') is not None:
            model_cfg.pretrained = None  # the checkpoint has every weight
        try:
            with warnings.catch_warnings():
                # mmseg's loss builders warn about their own deprecations on every build
                warnings.simplefilter('ignore', UserWarning)
                model = registry.build(model_cfg)
        except Exception as exc:  # noqa: BLE001 - a config that cannot build is a usage error here
            raise SceneInputError(f'cannot build the model of the config ({type(exc).__name__}: '
                                  f'{str(exc).splitlines()[0] if str(exc) else ""})') from None
        try:
            checkpoint_data = load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
        except (RuntimeError, KeyError) as exc:
            text = ' '.join(str(exc).split())
            raise SceneInputError(f'{checkpoint} does not fit the model of the config: {text[:300]}') from None
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.meta = (checkpoint_data or {}).get('meta', {}) if isinstance(checkpoint_data, dict) else {}
        self.subset = self._choose_subset(subset)
        self.tasks = self._tasks()

    # ---- what the model is --------------------------------------------------------------------
    def _multitask(self) -> bool:
        from ..models.multitask import MultiTaskEncoderDecoder
        return isinstance(self.model, MultiTaskEncoderDecoder)

    def _subset_names(self) -> Sequence[str]:
        names = getattr(self.model, 'subset_names', None)
        if names is None:
            names = getattr(getattr(self.model, 'decode_head', None), 'subset_names', None)
        return tuple(names or ())

    def _choose_subset(self, subset: Optional[str]) -> Optional[str]:
        names = self._subset_names()
        if not names:
            if subset is not None:
                raise SceneInputError(f'--subset {subset}: this model has a single head (no SAMRS subsets)')
            return None
        subset = subset or (self.model.test_cfg or {}).get('subset')
        if subset is None:
            raise SceneInputError(f'this model has one head per subset: choose one with --subset '
                                  f'(valid: {", ".join(names)})')
        if subset not in names:
            raise SceneInputError(f'--subset: got {subset!r}; valid: {", ".join(names)}')
        from mmengine.config import ConfigDict
        self.model.test_cfg = ConfigDict(dict(self.model.test_cfg or {}, subset=subset))
        return subset

    def _tasks(self) -> List[str]:
        from mmseg.models.segmentors import BaseSegmentor
        if self._multitask():
            return [task for task in TASKS if self.model.active(task)]
        if isinstance(self.model, BaseSegmentor):
            return ['semantic']
        from mmdet.models.detectors import BaseDetector
        if isinstance(self.model, BaseDetector):
            return ['rotated' if self.scope == 'mmrotate' else 'instance']
        raise SceneInputError(f'{type(self.model).__name__}: infer_scene runs segmentors and detectors')

    def classes(self, task: str) -> List[str]:
        """Class names of ``task``'s outputs, in label order (subset list, checkpoint or config metainfo)."""
        from ..structures.classes import SAMRS_CLASS_LISTS
        if self.subset is not None and self.subset in SAMRS_CLASS_LISTS:
            return list(SAMRS_CLASS_LISTS[self.subset])
        meta_classes = (self.meta.get('dataset_meta') or {}).get('classes')
        if meta_classes:
            return [str(c) for c in meta_classes]
        for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
            dataset = (self.cfg.get(loader) or {}).get('dataset') or {}
            classes = (dataset.get('metainfo') or {}).get('classes') or self._registered_classes(dataset.get('type'))
            if classes:
                return [str(c) for c in classes]
        count = self.num_classes(task)
        return [f'class_{i}' for i in range(count)]

    def _registered_classes(self, dataset_type) -> Optional[Sequence[str]]:
        """The ``METAINFO`` classes of a dataset class named in the config, if it has them."""
        if not isinstance(dataset_type, str):
            return None
        from mmengine.registry import DATASETS
        try:
            with DATASETS.switch_scope_and_registry(self.scope) as registry:
                cls = registry.get(dataset_type)
        except Exception:  # noqa: BLE001 - a dataset that cannot be found just gives no names
            return None
        return (getattr(cls, 'METAINFO', None) or {}).get('classes')

    def num_classes(self, task: str) -> int:
        """Output classes of ``task``."""
        if task == 'semantic':
            if self.subset is not None:
                counts = getattr(self.model, 'class_counts', None) or self.model.decode_head.class_counts
                return int(counts[self.subset])
            return int(self.model.decode_head.num_classes)
        head = getattr(self.model, task, self.model).roi_head.bbox_head
        return int(getattr(head, 'num_classes', 0))

    @property
    def background(self) -> bool:
        """MTP's background class 0 (its semantic labels are shifted by one)."""
        return bool(getattr(self.model, 'background', False))

    def slide_settings(self, crop=None, stride=None):
        """``(crop, stride)`` as ``(h, w)`` pairs: the model's slide test_cfg, else the given ones, else 512 / 341."""
        test_cfg = self.model.test_cfg or {}
        if crop is None and test_cfg.get('mode') == 'slide':
            crop, stride = test_cfg.get('crop_size'), stride or test_cfg.get('stride')
        crop = tuple(crop or (512, 512))
        stride = tuple(stride or tuple(max(1, (2 * c) // 3) for c in crop))
        return (int(crop[0]), int(crop[1])), (int(stride[0]), int(stride[1]))

    # ---- windows in, outputs out --------------------------------------------------------------
    def _inputs(self, images: Sequence[np.ndarray], samples=None):
        """The preprocessor's batch of RGB windows (BGR in, as ``LoadImageFromFile`` gives images)."""
        tensors = [torch.from_numpy(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))) for img in images]
        preprocessor = self.model.data_preprocessor
        # mmseg pads test inputs only when its preprocessor has a test_cfg; windows are never
        # padded (slide inference crops the scene, it does not pad its crops).
        saved = getattr(preprocessor, 'test_cfg', None)
        with contextlib.ExitStack() as stack:
            if saved:
                preprocessor.test_cfg = None
                stack.callback(setattr, preprocessor, 'test_cfg', saved)
            data = preprocessor(dict(inputs=tensors, data_samples=samples), False)
        return data['inputs'], data['data_samples']

    @torch.no_grad()
    def semantic_logits(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """``(N, C, h, w)`` float32 logits of equal-size windows (CPU tensor)."""
        height, width = images[0].shape[:2]
        inputs, _ = self._inputs(images)
        size = torch.Size([height, width])
        metas = [dict(img_shape=size, ori_shape=(height, width), pad_shape=(height, width)) for _ in images]
        if self.subset is not None:
            for meta in metas:
                meta['subset'] = self.subset
        return self.model.encode_decode(inputs, metas).float().cpu()

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        """Classes of averaged logits ``(C, h, w)`` as mmseg's ``postprocess_result`` decides them (uint8)."""
        if logits.shape[0] > 1:
            label = logits.argmax(dim=0)
        else:
            label = (logits.sigmoid() > self.model.decode_head.threshold)[0].long()
        if self.background:
            label = torch.where(label == 0, torch.full_like(label, 255), label - 1)
        return label.to(torch.uint8)

    @torch.no_grad()
    def detect(self, images: Sequence[np.ndarray]) -> List[Dict[str, dict]]:
        """Per window ``{task: dict(boxes, scores, labels[, masks])}`` in window pixels (numpy)."""
        samples = [self._sample(img.shape[:2]) for img in images]
        inputs, samples = self._inputs(images, samples)
        results = self.model.predict(inputs, samples) if self._multitask() else \
            self.model.predict(inputs, samples, rescale=True)
        out = []
        for sample in results:
            found = {}
            for task in self.tasks:
                if task == 'semantic':
                    continue
                field = 'pred_rotated_instances' if (task == 'rotated' and self._multitask()) else 'pred_instances'
                found[task] = _instances(getattr(sample, field))
            out.append(found)
        return out

    def _sample(self, shape):
        height, width = int(shape[0]), int(shape[1])
        meta = dict(img_shape=(height, width), ori_shape=(height, width), scale_factor=(1.0, 1.0))
        if self._multitask():
            from ..datasets.multitask_sample import MultiTaskDataSample
            sample = MultiTaskDataSample(metainfo=dict(meta, subset=self.subset))
        else:
            from mmdet.structures import DetDataSample
            sample = DetDataSample(metainfo=meta)
        return sample


def _instances(pred) -> dict:
    """Numpy arrays of an ``InstanceData`` of predictions (boxes as a plain ``(N, 4|5)`` array)."""
    boxes = pred.bboxes
    boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
    found = dict(boxes=boxes.detach().float().cpu().numpy(), scores=pred.scores.detach().float().cpu().numpy(),
                 labels=pred.labels.detach().cpu().numpy().astype(np.int64))
    if 'masks' in pred:
        masks = pred.masks
        masks = masks.masks if hasattr(masks, 'masks') else masks
        found['masks'] = masks.detach().cpu().numpy().astype(bool) if torch.is_tensor(masks) else \
            np.asarray(masks, dtype=bool)
    return found
