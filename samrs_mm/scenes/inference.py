"""Apply a trained model to a whole scene: the work of ``tools/infer_scene.py``.

:class:`SceneInference` runs the tasks of a :class:`~samrs_mm.scenes.models.SceneModel`:

* ``semantic`` (segmentors, SEP with a subset, MTP's semantic branch): the slide windows of
  mmseg (:class:`~samrs_mm.scenes.planning.SlideGrid`; the model's ``test_cfg`` crop / stride
  when it slides, else ``scene.crop_size`` / ``scene.stride``), ``scene.batch_size`` windows per
  model call, accumulated by :class:`~samrs_mm.scenes.slide.StreamingSlide`; the unit of work
  and resume is a *strip* (the rows one window row finishes), kept as ``strips/<k>.png``, and
  ``semantic.tif`` is assembled from the strips at the end (a COG, the scene's grid and CRS).
  The class map equals mmseg's ``slide_inference`` of the scene held whole (docs/scenes.md);
  pixels without data are 255. Ranks take contiguous blocks of strips.
* ``instance`` / ``rotated`` (Mask R-CNN, Oriented R-CNN, MTP's branches): patch windows
  (``scene.patch_size`` / ``scene.gap``, default 1024 / 200), each window's detections shifted
  into the scene and kept per window (``detections/<index>.json``, masks as per-object RLE);
  at the end all detections are merged across seams by class-wise NMS (mmcv's
  ``batched_nms``, as mmdet's and mmrotate's huge-image merges) and written to
  ``instances.gpkg`` (mask outlines, else boxes) / ``rotated.gpkg`` (rotated boxes as polygons).

Pixels are read window by window with the band choice of ``load_image`` and, by default, the
scene's own stretch (``scene.stretch_scope='scene'``), so every window sees the pixels the
scene held whole would give it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .inference_outputs import SceneInferenceOutputs, merge_detections
from .masks import SceneMask
from .models import SceneModel
from .planning import SlideGrid, detection_windows
from .raster import STRETCH_SCOPES, PixelWindow, SceneInputError, SceneRaster, WindowReadError
from .run import SceneRun, UnitOutcome
from .slide import StreamingSlide

__all__ = ['INFER_DEFAULTS', 'SceneInference', 'merge_detections']

INFER_DEFAULTS: Dict[str, Any] = dict(
    crop_size=None,          # slide window (h, w); None: the model's test_cfg when it slides, else 512
    stride=None,             # slide stride (h, w); None: the test_cfg's, else 2/3 of the crop
    batch_size=4,            # windows per model call
    patch_size=1024,         # detector windows
    gap=200,                 # overlap of detector windows
    nms_iou=dict(instance=0.25, rotated=0.1),  # merge across seams: mmdet's / mmrotate's huge-image defaults
    stretch=(2.0, 98.0),     # percentiles of the stretch of non-uint8 rasters
    bands=None,              # 1-based bands (default: the first three)
    stretch_scope='scene',   # 'scene': one stretch for the scene (what the whole image would get); 'window'
    device='auto',
    quicklook=1024,          # long side of quicklook.png; 0: none
    geoparquet=False,        # also instances.parquet / rotated.parquet
)
RECORD_VERSION = 1


def _strip_png(label: np.ndarray) -> bytes:
    import cv2
    ok, data = cv2.imencode('.png', label)
    if not ok:
        raise RuntimeError('cannot encode a strip')
    return data.tobytes()


class SceneInference(SceneInferenceOutputs, SceneRun):
    """Runs ``model`` over ``image`` into ``out_dir`` (see the module docstring).

    Args:
        model: a :class:`~samrs_mm.scenes.models.SceneModel`.
        scene: the ``scene`` section (:data:`INFER_DEFAULTS` keys).
        config_name, checkpoint_name: for the summary.
        rank, world_size, barrier, run_id, progress, log: :class:`~samrs_mm.scenes.run.SceneRun`.
    """

    tool = 'infer_scene'

    def __init__(self, model: SceneModel, image: str, out_dir: str, scene: Optional[Dict[str, Any]] = None,
                 config_name: str = '', checkpoint_name: str = '', rank: int = 0, world_size: int = 1, barrier=None,
                 run_id: Optional[str] = None, progress: bool = True, log=print) -> None:
        super().__init__(out_dir, rank, world_size, barrier, run_id, progress, log)
        unknown = sorted(set(scene or {}) - set(INFER_DEFAULTS))
        if unknown:
            raise SceneInputError(f'unknown scene config key(s) {unknown}; valid keys: {", ".join(INFER_DEFAULTS)}')
        self.scene = dict(INFER_DEFAULTS)
        self.scene.update(scene or {})
        self.scene['nms_iou'] = dict(INFER_DEFAULTS['nms_iou'], **dict(self.scene.get('nms_iou') or {}))
        self._check()
        self.model = model
        self.image_path = image
        self.config_name, self.checkpoint_name = config_name, checkpoint_name
        self.raster = SceneRaster(image, self.scene['bands'], tuple(self.scene['stretch']))
        if not self.raster.georeferenced:
            self.log(f'[{self.tool}] warning: {image} has no CRS: the outputs are in pixel coordinates')
        self.grid = None
        if 'semantic' in model.tasks:
            crop, stride = model.slide_settings(self.scene['crop_size'], self.scene['stride'])
            try:
                self.grid = SlideGrid(self.raster.height, self.raster.width, crop, stride)
            except ValueError as exc:
                raise SceneInputError(f'scene.crop_size / scene.stride: {exc}') from None
            if stride[0] > crop[0] or stride[1] > crop[1]:
                raise SceneInputError(f'scene.stride {stride} is larger than the crop {crop}: some pixels would get '
                                      'no window')
        self.detection_tasks = [t for t in model.tasks if t != 'semantic']
        self.det_windows = detection_windows(self.raster.width, self.raster.height, self.scene['patch_size'],
                                             self.scene['gap']) if self.detection_tasks else []
        settings = dict(config=config_name, checkpoint=checkpoint_name, subset=model.subset, tasks=model.tasks,
                        crop=self.grid and [self.grid.win_h, self.grid.win_w],
                        slide=self.grid and [self.grid.tops[:2], self.grid.lefts[:2]],
                        patch=[self.scene['patch_size'], self.scene['gap']], stretch=list(self.raster.stretch),
                        bands=self.raster.band_indexes, scope=self.scene['stretch_scope'])
        self.fingerprint = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self._limits: Optional[list] = None
        self._limits_known = False
        self.windows_done = 0
        self.detections_now = 0
        self.model_seconds = 0.0
        self._bar = None
        self._num_channels: Optional[int] = None

    def _check(self) -> None:
        scene = self.scene

        def fail(key, valid):
            raise SceneInputError(f'scene.{key}: got {scene[key]!r}; valid: {valid}')
        if not isinstance(scene['batch_size'], int) or scene['batch_size'] < 1:
            fail('batch_size', 'an int >= 1')
        if not isinstance(scene['patch_size'], int) or scene['patch_size'] < 32:
            fail('patch_size', 'an int >= 32')
        if not isinstance(scene['gap'], int) or not 0 <= scene['gap'] < scene['patch_size']:
            fail('gap', 'an int, 0 <= gap < patch_size')
        if scene['stretch_scope'] not in STRETCH_SCOPES:
            fail('stretch_scope', ', '.join(STRETCH_SCOPES))
        for key in ('crop_size', 'stride'):
            value = scene[key]
            if value is not None:
                if isinstance(value, int):
                    scene[key] = value = (value, value)
                if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
                    fail(key, 'None, an int or (h, w) ints > 0')

    # ---- units --------------------------------------------------------------------------------
    @property
    def num_strips(self) -> int:
        """Strips of the semantic task (0 without it)."""
        return self.grid.num_strips if self.grid is not None else 0

    def num_units(self) -> int:
        """Strips, then detector windows."""
        return self.num_strips + len(self.det_windows)

    def my_strips(self) -> List[int]:
        """This rank's strips: one contiguous block (a block's first strip recomputes the rows above it)."""
        n = self.num_strips
        return list(range(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size))

    def my_windows(self) -> List[int]:
        """This rank's detector windows: ``rank, rank + N, ...``."""
        return list(range(self.rank, len(self.det_windows), self.world_size))

    def summary_head(self) -> Dict[str, Any]:
        """Inputs and settings."""
        return dict(tool=self.tool, image=self.image_path, width=self.raster.width, height=self.raster.height,
                    georeferenced=self.raster.georeferenced,
                    crs=self.raster.crs.to_string() if self.raster.georeferenced else None,
                    config=self.config_name, checkpoint=self.checkpoint_name, subset=self.model.subset,
                    tasks=list(self.model.tasks), settings=self.fingerprint,
                    classes={task: self.model.classes(task) for task in self.model.tasks},
                    scene={k: (list(v) if isinstance(v, tuple) else v) for k, v in self.scene.items()})

    def strip_record(self, k: int) -> str:
        """``strips/<k>.json``, written after ``strips/<k>.png``."""
        return self.path('strips', f'{k:06d}.json')

    def detection_record(self, index: int) -> str:
        """``detections/<index>.json``: a window's detections in scene pixels."""
        return self.path('detections', f'{index:06d}.json')

    def _strip_match(self, k: int) -> Dict[str, Any]:
        return dict(version=RECORD_VERSION, settings=self.fingerprint, rows=list(self.grid.strip_rows(k)))

    def _window_match(self, index: int) -> Dict[str, Any]:
        return dict(version=RECORD_VERSION, settings=self.fingerprint, window=list(self.det_windows[index]))

    # ---- pixels -------------------------------------------------------------------------------
    def _scene_limits(self):
        if not self._limits_known:
            self._limits = self.raster.scene_limits() if self.scene['stretch_scope'] == 'scene' else None
            self._limits_known = True
        return self._limits

    def _read(self, window: PixelWindow):
        """``(rgb or None, valid)`` of a window; rgb None when it holds no data."""
        raw = self.raster.read(window)
        valid = self.raster.valid(raw)
        if not valid.any():
            return None, valid
        return self.raster.rgb(raw, self._scene_limits()), valid

    def _tick(self, windows: int, detections: int = 0) -> None:
        self.windows_done += windows
        if self._bar is not None:
            self._bar.update(windows)
            self._bar.set_postfix(detections=self.detections_now, refresh=False)

    # ---- work ---------------------------------------------------------------------------------
    def work(self) -> Iterator[UnitOutcome]:
        """This rank's strips (block) and detector windows; finished ones skipped."""
        strips = self.my_strips()
        windows = self.my_windows()
        todo_strips = [k for k in strips if self.current_record(self.strip_record(k), self._strip_match(k)) is None]
        slide_windows = 0
        for run in _runs(todo_strips):
            first = self.grid.first_row_touching(self.grid.tops[run[0]])
            slide_windows += (run[-1] - first + 1) * len(self.grid.lefts)
        self._bar = self.progress_bar(slide_windows + len(windows), 'win', self.tool)
        try:
            for k in strips:
                if k not in todo_strips:
                    yield UnitOutcome(k, 'resumed')
            for run in _runs(todo_strips):
                yield from self._slide_block(run)
            yield from self._detect_windows(windows)
        finally:
            if self._bar is not None:
                self._bar.close()

    def _slide_block(self, strips: List[int]) -> Iterator[UnitOutcome]:
        """Strips ``strips`` (consecutive) through the streaming slide."""
        grid = self.grid
        stream = StreamingSlide(grid, self._channels(), self.model.decide, first_strip=strips[0])
        failed_until = 0  # rows that an unreadable window of this block reaches
        for k in stream.rows():
            if k > strips[-1]:
                break
            valid = np.zeros((grid.win_h, grid.width), dtype=bool)
            unknown = np.zeros((grid.win_h, grid.width), dtype=bool)
            errors: List[str] = []
            finished = stream.feed_row(k, self._row_logits(k, valid, unknown, errors), valid, unknown)
            if errors:  # (known once the row's windows were read)
                failed_until = grid.tops[k] + grid.win_h
            if finished is None:
                continue
            index, top, label = finished
            if errors or top < failed_until:
                yield UnitOutcome(index, 'failed', '; '.join(errors) or f'strip {index} (rows {top}..'
                                  f'{top + label.shape[0]}) depends on an unreadable window above it')
                continue
            self.write_bytes(self.path('strips', f'{index:06d}.png'), _strip_png(label))
            counts = np.bincount(label.ravel(), minlength=256)
            self.write_json(self.strip_record(index), dict(self._strip_match(index), counts={
                str(c): int(n) for c, n in enumerate(counts) if n}))
            yield UnitOutcome(index, 'done')

    def _channels(self) -> int:
        """Logit channels of the model (one probe window, once)."""
        if self._num_channels is None:
            probe = self.model.semantic_logits([np.zeros((self.grid.win_h, self.grid.win_w, 3), dtype=np.uint8)])
            self._num_channels = int(probe.shape[1])
        return self._num_channels

    def _row_logits(self, k: int, valid: np.ndarray, unknown: np.ndarray, errors: List[str]):
        """The logits of window row ``k``, window by window, computed ``scene.batch_size`` windows at a
        time (only one batch is held); marks valid / unknown pixels and collects read errors on the way."""
        import time
        windows = self.grid.windows(k)
        batch = self.scene['batch_size']
        for start in range(0, len(windows), batch):
            chunk = windows[start:start + batch]
            images: List[Optional[np.ndarray]] = []
            for window in chunk:
                cols = slice(window.x, window.x + window.width)
                try:
                    rgb, ok = self._read(window)
                except WindowReadError as exc:
                    errors.append(str(exc))
                    unknown[:, cols] = True
                    images.append(None)
                    continue
                valid[:, cols] |= ok
                images.append(rgb)
            todo = [i for i, img in enumerate(images) if img is not None]
            logits: Dict[int, torch.Tensor] = {}
            if todo:
                began = time.perf_counter()
                out = self.model.semantic_logits([images[i] for i in todo])
                self.model_seconds += time.perf_counter() - began
                logits = dict(zip(todo, out))
            self._tick(len(chunk))
            for i in range(len(chunk)):
                yield logits.get(i)

    def _detect_windows(self, indices: List[int]) -> Iterator[UnitOutcome]:
        """Detector windows, ``scene.batch_size`` at a time through the model; each window's detections
        shifted into the scene and kept in its record (resumed and nodata windows skip the model)."""
        import time
        pending: List[Tuple[int, np.ndarray]] = []
        for position, index in enumerate(indices):
            unit = self.num_strips + index
            match = self._window_match(index)
            record = self.current_record(self.detection_record(index), match)
            if record is not None:
                self._tick(1)
                yield UnitOutcome(unit, 'nodata' if record.get('status') == 'nodata' else 'resumed')
            else:
                try:
                    rgb, _ = self._read(self.det_windows[index])
                except WindowReadError as exc:
                    rgb = None
                    self._tick(1)
                    yield UnitOutcome(unit, 'failed', str(exc))
                else:
                    if rgb is None:
                        self.write_json(self.detection_record(index), dict(match, status='nodata', tasks={}))
                        self._tick(1)
                        yield UnitOutcome(unit, 'nodata')
                    else:
                        pending.append((index, rgb))
            if pending and (len(pending) == self.scene['batch_size'] or position == len(indices) - 1):
                began = time.perf_counter()
                results = self.model.detect([rgb for _, rgb in pending])
                self.model_seconds += time.perf_counter() - began
                for (index, _), found in zip(pending, results):
                    window = self.det_windows[index]
                    tasks = {task: _shift(found[task], window) for task in self.detection_tasks}
                    count = sum(len(t['scores']) for t in tasks.values())
                    self.write_json(self.detection_record(index), dict(self._window_match(index), status='done',
                                                                       tasks=tasks))
                    self.detections_now += count
                    self._tick(1)
                    yield UnitOutcome(self.num_strips + index, 'done', objects=count)
                pending = []

    def timings(self) -> Dict[str, Any]:
        """Windows and megapixels per second of this run, and the model's share of the time."""
        return dict(windows=self.windows_done, model_seconds=round(self.model_seconds, 3),
                    windows_per_second=round(self.windows_done / self.seconds, 3) if self.seconds else 0.0)


def _runs(indices: List[int]) -> List[List[int]]:
    """Consecutive runs of sorted ``indices``."""
    runs: List[List[int]] = []
    for i in indices:
        if runs and runs[-1][-1] + 1 == i:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _shift(found: dict, window: PixelWindow) -> dict:
    """A window's detections in scene pixels, json-ready (masks as per-object RLE)."""
    from ..structures.rle import encode
    boxes = np.asarray(found['boxes'], dtype=np.float64).copy()
    boxes[:, 0] += window.x
    boxes[:, 1] += window.y
    if boxes.shape[1] == 4:
        boxes[:, 2] += window.x
        boxes[:, 3] += window.y
    # Exact values (the float32 box plus an integer offset is exact in float64 and rounds back to
    # the float32 sum), so the merge sees what mmdet's / mmrotate's in-memory merges see.
    out = dict(boxes=boxes.tolist(), scores=[float(s) for s in found['scores']],
               labels=[int(v) for v in found['labels']])
    if 'masks' in found:
        masks = []
        for mask in found['masks']:
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if rows.size == 0:
                masks.append(None)
                continue
            local = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            masks.append(SceneMask(window.x + int(cols[0]), window.y + int(rows[0]), encode(local),
                                   int(local.sum())).as_record())
        out['masks'] = masks
    return out
