"""The outputs of a scene's inference, written on rank 0 once every unit is done.

``semantic.tif`` assembled from the strips (a COG in the scene's grid), each detection task's
windows merged across seams by class-wise NMS into ``instances.gpkg`` / ``rotated.gpkg``
(optionally GeoParquet), and ``quicklook.png``. :class:`SceneInferenceOutputs` is the part of
:class:`~samrs_mm.scenes.inference.SceneInference` that reads its records back into these files.
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from .label_raster import LabelRasterWriter
from .masks import SceneMask
from .quicklook import render_quicklook
from .raster import PixelWindow
from .run import UnitOutcome
from .vectors import FeatureWriter, box_polygon, mask_polygon, rotated_polygon, write_geoparquet

__all__ = ['SceneInferenceOutputs', 'DETECTION_COLUMNS', 'merge_detections']

DETECTION_COLUMNS = ('det_id', 'class', 'class_index', 'score', 'window')


def merge_detections(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by class-wise NMS over the detections of every window (highest score first).

    ``boxes`` are ``(N, 4)`` horizontal or ``(N, 5)`` rotated (le90) boxes in scene pixels; the
    merge is mmcv's ``batched_nms`` with ``nms`` / ``nms_rotated``, as mmdet's and mmrotate's
    ``merge_results_by_nms`` call it.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    from mmcv.ops import batched_nms
    nms_type = 'nms_rotated' if boxes.shape[1] == 5 else 'nms'
    _, keep = batched_nms(torch.from_numpy(boxes).float(), torch.from_numpy(scores).float(),
                          torch.from_numpy(labels).long(), dict(type=nms_type, iou_threshold=float(iou)))
    return keep.numpy().astype(np.int64)


def read_strip_png(path: str) -> np.ndarray:
    import cv2
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'{path}: cannot read the strip')
    return label


class SceneInferenceOutputs:
    """Writes a scene's inference files from its strip and window records (mixed into
    ``SceneInference``, whose raster, grid, windows, model and scene settings it reads)."""

    def finalise(self, outcomes: List[UnitOutcome]) -> Dict[str, Any]:
        """semantic.tif from the strips, the merged detections, quicklook.png; the summary's content."""
        from ..annotate.outputs import label_palette
        content: Dict[str, Any] = dict(outputs=[])
        semantic = None
        if self.grid is not None:
            semantic = self.path('semantic.tif')
            classes = self.model.classes('semantic')
            content['semantic'] = self._write_semantic(semantic, label_palette(classes), classes)
            content['outputs'].append('semantic.tif')
        outlines: List[Tuple[int, np.ndarray]] = []
        for task in self.detection_tasks:
            name = 'instances' if task == 'instance' else 'rotated'
            content[task] = self._write_detections(task, name, outlines)
            content['outputs'].append(f'{name}.gpkg')
            if self.scene['geoparquet']:
                write_geoparquet(self.path(f'{name}.gpkg'), self.path(f'{name}.parquet'), self.tmp_dir)
                content['outputs'].append(f'{name}.parquet')
        if self.scene['quicklook']:
            task = self.model.tasks[0]
            palette = label_palette(self.model.classes(task))
            render_quicklook(self.raster, functools.partial(self.write_bytes, self.path('quicklook.png')), semantic,
                             palette, outlines, self.scene['quicklook'])
            content['outputs'].append('quicklook.png')
        counts = self._counts([o for o in outcomes if o.index >= self.num_strips])
        content['windows'] = dict(slide=len(self.grid) if self.grid is not None else 0, strips=self.num_strips,
                                  detection=len(self.det_windows), detection_nodata=counts['nodata'])
        return content

    def _write_semantic(self, path: str, palette, classes: Sequence[str]) -> dict:
        raster = self.raster
        pixels = np.zeros(256, dtype=np.int64)
        missing = 0
        with LabelRasterWriter(path, self.tmp_dir, raster.width, raster.height, raster.crs, raster.transform,
                               palette) as writer:
            for k in range(self.num_strips):
                top, end = self.grid.strip_rows(k)
                window = PixelWindow(0, top, raster.width, end - top)
                if self.current_record(self.strip_record(k), self._strip_match(k)) is None:
                    label = np.full((end - top, raster.width), 255, dtype=np.uint8)
                    missing += 1
                else:
                    label = read_strip_png(self.path('strips', f'{k:06d}.png'))
                pixels += np.bincount(label.ravel(), minlength=256)
                writer.write(window, label)
            writer.finish()
        return dict(pixels={name: int(pixels[i]) for i, name in enumerate(classes)}, unlabeled=int(pixels[255]),
                    strips_missing=missing)

    def _write_detections(self, task: str, name: str, outlines: list) -> dict:
        """Merge the task's detections of every window by class-wise NMS and write ``<name>.gpkg``."""
        boxes, scores, labels, refs = [], [], [], []
        for index in range(len(self.det_windows)):
            record = self.current_record(self.detection_record(index), self._window_match(index))
            if record is None or task not in record.get('tasks', {}):
                continue
            found = record['tasks'][task]
            for j in range(len(found['scores'])):
                boxes.append(found['boxes'][j])
                scores.append(found['scores'][j])
                labels.append(found['labels'][j])
                refs.append((index, j))
        width = 5 if task == 'rotated' else 4
        boxes_np = np.asarray(boxes, dtype=np.float32).reshape(-1, width)
        scores_np = np.asarray(scores, dtype=np.float32)
        labels_np = np.asarray(labels, dtype=np.int64)
        keep = merge_detections(boxes_np, scores_np, labels_np, self.scene['nms_iou'][task])
        classes = self.model.classes(task)
        transform = self.raster.map_transform()
        crs = self.raster.crs.to_wkt() if self.raster.georeferenced else None
        writer = FeatureWriter(self.path(f'{name}.gpkg'), name, crs, self.tmp_dir, DETECTION_COLUMNS)
        per_class: Counter = Counter()
        records = functools.lru_cache(maxsize=64)(self._read_detections)
        try:
            for det_id, i in enumerate(keep.tolist()):
                index, j = refs[i]
                label = int(labels_np[i])
                mask_data = records(index)['tasks'][task].get('masks')
                if task == 'rotated':
                    geometry = rotated_polygon(boxes_np[i].astype(np.float64), transform)
                    outlines.append((label, _rbox_corners(boxes_np[i])))
                elif mask_data is not None and mask_data[j] is not None:
                    geometry = mask_polygon(SceneMask.from_record(mask_data[j]), transform)
                    outlines.append((label, _box_corners(boxes_np[i])))
                else:
                    geometry = box_polygon(boxes_np[i], transform)
                    outlines.append((label, _box_corners(boxes_np[i])))
                writer.add({'det_id': det_id, 'class': classes[label] if label < len(classes) else str(label),
                            'class_index': label, 'score': float(scores_np[i]), 'window': index}, geometry)
                per_class[classes[label] if label < len(classes) else str(label)] += 1
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return dict(detections=len(boxes), kept=len(keep), nms_iou=self.scene['nms_iou'][task],
                    class_counts={c: per_class.get(c, 0) for c in classes})

    def _read_detections(self, index: int) -> dict:
        with open(self.detection_record(index), encoding='utf-8') as f:
            return json.load(f)


def _box_corners(hbox) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in hbox)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])


def _rbox_corners(rbox) -> np.ndarray:
    from ..structures.boxes import rbox_to_quad
    return rbox_to_quad(np.asarray(rbox, dtype=np.float64))

