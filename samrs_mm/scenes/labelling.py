"""Label a whole scene from its boxes with the annotate engine: the work of ``tools/annotate_scene.py``.

:class:`SceneLabeller` takes an annotate config (``engine``, ``writer``, ``runner`` as in
configs/annotate/, plus an optional ``scene`` section, :data:`SCENE_DEFAULTS`), a raster and
its boxes, and

1. plans the windows (:func:`~samrs_mm.scenes.planning.plan_label_windows`): every box in
   exactly one window that holds it whole with context;
2. labels the windows of its shard through the engine (any backend; ``image_batch_size``
   windows per encoder pass), each window read from the raster on its own and made RGB as
   ``load_image`` would make the same pixels saved as a patch; a window's result (every
   object's mask as a :class:`~samrs_mm.scenes.masks.SceneMask`) is its resume record
   ``windows/<index>.json``;
3. on rank 0, once every window is done: paints ``semantic.tif`` tile by tile in the overlap
   rule's order (seams leave no trace: each object is painted from its one mask), and writes
   ``instances.gpkg`` (one row per labelled box), optionally ``instances.parquet``, the COCO
   json in pixel coordinates, ``quicklook.png`` and ``summary.json``.

Windows that hold only nodata are skipped and counted (their boxes too), a window whose
pixels cannot be read is named and counted as failed while the others go on (exit status 1;
a rerun redoes it), and everything else of :class:`~samrs_mm.scenes.run.SceneRun` holds.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .boxes import BOX_TYPES, SceneBoxes, read_boxes
from .label_outputs import SceneLabelOutputs
from .masks import from_window_mask
from .planning import LabelWindow, plan_label_windows
from .raster import STRETCH_SCOPES, SceneInputError, SceneRaster, WindowReadError
from .run import SceneRun, UnitOutcome

__all__ = ['SCENE_DEFAULTS', 'SceneLabeller', 'scene_section']

SCENE_DEFAULTS: Dict[str, Any] = dict(
    class_list=None,        # None: the config's source.class_list (else 'sota')
    class_field=None,       # field of the vector boxes holding the class (--class-field)
    class_map=None,         # {name in the boxes: name in the class list}
    skip_unknown=False,     # skip (and count) boxes of classes outside the list
    lenient=False,          # skip (and count) unusable geometries instead of stopping
    box_type='auto',        # 'auto' (axis-aligned -> hbox, else min. rotated rectangle), 'hbox', 'rbox'
    layer=None,             # layer of a multi-layer vector file
    window_size=1024,       # the model's input: windows of this many pixels
    gap=200,                # overlap of the window grid (objects up to gap - 2 * context fit on every seam)
    context=32,             # pixels around a box its window must also hold
    stretch_scope='window',  # 'window': each window stretched as load_image stretches a patch; 'scene'
    geoparquet=False,       # also write instances.parquet
    coco=True,              # also write instances_coco.json (pixel coordinates)
    quicklook=1024,         # long side of quicklook.png; 0: none
)
RECORD_VERSION = 1


def scene_section(cfg: Dict[str, Any], defaults: Dict[str, Any]) -> Dict[str, Any]:
    """The config's ``scene`` section over ``defaults``; unknown keys are refused, naming the valid ones."""
    return _section(cfg, 'scene', defaults)


def _section(cfg: Dict[str, Any], key: str, defaults: Dict[str, Any]) -> Dict[str, Any]:
    """A config section over its defaults, by the annotate runner's rule (a misspelt key is refused)."""
    from ..annotate.runner.config import AnnotateConfigError, with_defaults
    try:
        return with_defaults(cfg, key, defaults)
    except AnnotateConfigError as exc:
        raise SceneInputError(str(exc)) from None


def _check_scene(scene: Dict[str, Any]) -> None:
    def fail(key, valid):
        raise SceneInputError(f'scene.{key}: got {scene[key]!r}; valid: {valid}')

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(scene['window_size']) or scene['window_size'] < 16:
        fail('window_size', 'an int >= 16')
    if not is_int(scene['gap']) or not 0 <= scene['gap'] < scene['window_size']:
        fail('gap', f'an int, 0 <= gap < window_size ({scene["window_size"]})')
    if not is_int(scene['context']) or scene['context'] < 0:
        fail('context', 'an int >= 0')
    if scene['stretch_scope'] not in STRETCH_SCOPES:
        fail('stretch_scope', ', '.join(STRETCH_SCOPES))
    if scene['box_type'] not in BOX_TYPES:
        fail('box_type', ', '.join(BOX_TYPES))
    if not is_int(scene['quicklook']) or scene['quicklook'] < 0:
        fail('quicklook', 'an int >= 0 (long side in pixels; 0: no quicklook)')


class SceneLabeller(SceneLabelOutputs, SceneRun):
    """Labels one scene into ``out_dir`` (see the module docstring).

    Args:
        cfg: the annotate config as a plain dict (``engine``, optional ``writer``, ``runner``,
            ``source`` (for its ``class_list``), ``scene``).
        image: the raster; ``boxes``: the boxes file; ``class_field``: overrides ``scene.class_field``.
        engine: an already built engine (tests); else built from ``cfg['engine']`` when needed.
        rank, world_size, barrier, run_id, log: see :class:`~samrs_mm.scenes.run.SceneRun`.
    """

    tool = 'annotate_scene'

    def __init__(self, cfg: Dict[str, Any], image: str, boxes: str, out_dir: str, class_field: Optional[str] = None,
                 engine=None, rank: int = 0, world_size: int = 1, barrier=None, run_id: Optional[str] = None,
                 log=print) -> None:
        from ..annotate.engine import ENGINE_DEFAULTS, check_engine_config
        from ..annotate.runner import RUNNER_DEFAULTS, WRITER_DEFAULTS, settings_fingerprint
        from ..sources.class_maps import resolve_class_list
        self.scene = scene_section(cfg, SCENE_DEFAULTS)
        _check_scene(self.scene)
        if class_field is not None:
            self.scene['class_field'] = class_field
        runner = _section(cfg, 'runner', RUNNER_DEFAULTS)
        super().__init__(out_dir, rank, world_size, barrier, run_id, progress=bool(runner.get('progress', True)),
                         log=log)
        self.writer_cfg = _section(cfg, 'writer', WRITER_DEFAULTS)
        from ..annotate.outputs import OVERLAP_RULES
        if self.writer_cfg['overlap'] not in OVERLAP_RULES:
            raise SceneInputError(f"writer.overlap: got {self.writer_cfg['overlap']!r}; valid: "
                                  f"{', '.join(OVERLAP_RULES)}")
        engine_cfg = dict(cfg.get('engine') or {})
        if str(engine_cfg.get('checkpoint')).strip() in ('', 'none', 'None'):
            engine_cfg['checkpoint'] = None
        try:
            checked = check_engine_config(engine_cfg)
        except ValueError as exc:
            raise SceneInputError(f'engine config: {exc}') from None
        self.engine_cfg = engine_cfg
        class_list = self.scene['class_list'] or (cfg.get('source') or {}).get('class_list') or 'sota'
        try:
            _, classes = resolve_class_list(class_list)
        except ValueError as exc:
            raise SceneInputError(f'scene.class_list: {exc}') from None
        self.classes = tuple(classes)
        self.image_path, self.boxes_path = image, boxes
        self.raster = SceneRaster(image, runner.get('bands'), tuple(runner.get('stretch') or (2.0, 98.0)))
        if not self.raster.georeferenced:
            self.log(f'[{self.tool}] warning: {image} has no CRS: the outputs are in pixel coordinates')
        self.boxes: SceneBoxes = read_boxes(
            boxes, self.raster, self.classes, self.scene['class_field'], self.scene['class_map'],
            self.scene['skip_unknown'], self.scene['lenient'], self.scene['box_type'], self.scene['layer'])
        for warning in self.boxes.warnings:
            self.log(f'[{self.tool}] warning: {warning}')
        self.objects = {o.box_id: o for o in self.boxes.objects}
        self.windows: List[LabelWindow] = plan_label_windows(
            self.boxes.objects, self.raster.width, self.raster.height, self.scene['window_size'], self.scene['gap'],
            self.scene['context'])
        full_engine = dict(ENGINE_DEFAULTS)
        full_engine.update(checked)
        scene_keys = {k: self.scene[k] for k in ('window_size', 'gap', 'context', 'stretch_scope', 'box_type')}
        settings = dict(labels=settings_fingerprint(full_engine, self.writer_cfg, self.classes), scene=scene_keys,
                        stretch=list(self.raster.stretch), bands=self.raster.band_indexes)
        self.fingerprint = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self._engine = engine
        if self._engine is None and engine_cfg.get('backend') == 'box':
            self._engine = self._build_engine()
        self._limits = None
        self._limits_known = False
        self.objects_labelled_now = 0
        self._record = functools.lru_cache(maxsize=256)(self._read_record)

    # ---- setup ------------------------------------------------------------------------------
    def _build_engine(self):
        from ..annotate.engine import build_engine
        from ..annotate.runner.config import rank_engine_config
        try:
            return build_engine(rank_engine_config(self.engine_cfg, self.world_size))
        except (ValueError, FileNotFoundError) as exc:
            raise SceneInputError(f'engine config: {exc}') from None

    @property
    def engine(self):
        """The labelling engine, built on first use (a fully resumed run never loads a model)."""
        if self._engine is None:
            self._engine = self._build_engine()
        return self._engine

    def num_units(self) -> int:
        """Windows."""
        return len(self.windows)

    def summary_head(self) -> Dict[str, Any]:
        """Inputs and settings."""
        engine = {k: self.engine_cfg.get(k) for k in ('backend', 'model_type', 'checkpoint', 'prompt',
                                                      'multimask_output', 'dtype') if k in self.engine_cfg}
        if engine.get('checkpoint'):
            engine['checkpoint'] = osp.basename(str(engine['checkpoint']))
        return dict(tool=self.tool, image=self.image_path, width=self.raster.width, height=self.raster.height,
                    georeferenced=self.raster.georeferenced,
                    crs=self.raster.crs.to_string() if self.raster.georeferenced else None,
                    classes=list(self.classes), settings=self.fingerprint, engine=engine,
                    overlap=self.writer_cfg['overlap'], scene={k: v for k, v in self.scene.items()},
                    boxes=self.boxes.as_dict())

    # ---- records ------------------------------------------------------------------------------
    def record_path(self, index: int) -> str:
        """``windows/<index>.json``: the window's masks, written when the window is done."""
        return self.path('windows', f'{index:06d}.json')

    def _match(self, lw: LabelWindow) -> Dict[str, Any]:
        digest = hashlib.sha1()
        for box_id in lw.box_ids:
            obj = self.objects[box_id]
            digest.update(json.dumps([box_id, obj.class_index, np.round(obj.hbox, 3).tolist(),
                                      None if obj.quad is None else np.round(obj.quad, 3).tolist()]).encode())
        return dict(version=RECORD_VERSION, settings=self.fingerprint, window=list(lw.window) + [lw.factor],
                    boxes=digest.hexdigest()[:16])

    # ---- labelling ----------------------------------------------------------------------------
    def _scene_limits(self):
        if not self._limits_known:
            self._limits = self.raster.scene_limits() if self.scene['stretch_scope'] == 'scene' else None
            self._limits_known = True
        return self._limits

    def _request(self, lw: LabelWindow):
        """The engine request of a window, or a string saying why there is none ('nodata')."""
        from ..annotate.engine.backend import AnnotateRequest
        raw = self.raster.read(lw.window, out_shape=lw.out_shape)
        if not self.raster.valid(raw).any():
            return 'nodata'
        image = self.raster.rgb(raw, self._scene_limits())
        scale = 1.0 / lw.factor
        instances = [self.objects[i].instance(lw.window.x, lw.window.y, scale) for i in lw.box_ids]
        return AnnotateRequest(image=image, instances=instances, source='scene',
                               name=f'{self.image_path} window {lw.index} ({lw.window.describe()})')

    def work(self) -> Iterator[UnitOutcome]:
        """Label this rank's windows (resumed ones are skipped before their pixels are read)."""
        mine = self.my_units()
        bar = self.progress_bar(len(mine), 'win', 'annotate_scene')
        batch = int(self.engine_cfg.get('image_batch_size', 1) or 1)
        pending: List[Tuple[LabelWindow, Any]] = []
        try:
            for index in mine:
                lw = self.windows[index]
                outcome = self._settled(lw)
                if outcome is None:
                    pending.append((lw, None))
                    if len(pending) < batch:
                        continue
                    outcomes = list(self._label(pending))
                    pending = []
                else:
                    outcomes = [outcome]
                for outcome in outcomes:
                    yield self._tick(bar, outcome)
            for outcome in self._label(pending):
                yield self._tick(bar, outcome)
        finally:
            if bar is not None:
                bar.close()

    def _tick(self, bar, outcome: UnitOutcome) -> UnitOutcome:
        if outcome.status == 'failed':
            self.log(f'[{self.tool}] failed: {outcome.error}')
        if bar is not None:
            bar.update(1)
            bar.set_postfix(objects=self.objects_labelled_now, refresh=False)
        return outcome

    def _settled(self, lw: LabelWindow) -> Optional[UnitOutcome]:
        """The outcome of a window that needs no labelling (finished earlier), else None."""
        record = self.current_record(self.record_path(lw.index), self._match(lw))
        if record is None:
            return None
        if record.get('status') == 'nodata':
            return UnitOutcome(lw.index, 'nodata')
        return UnitOutcome(lw.index, 'resumed', objects=len(record.get('objects', [])))

    def _label(self, group: List[Tuple[LabelWindow, Any]]) -> Iterator[UnitOutcome]:
        """Label a group of windows in one engine call (one by one when that fails)."""
        ready = []
        for lw, _ in group:
            try:
                request = self._request(lw)
            except WindowReadError as exc:
                yield UnitOutcome(lw.index, 'failed', str(exc))
                continue
            if request == 'nodata':
                self.write_json(self.record_path(lw.index), dict(self._match(lw), status='nodata', objects=[]))
                yield UnitOutcome(lw.index, 'nodata')
                continue
            ready.append((lw, request))
        if not ready:
            return
        try:
            results = list(self.engine.annotate_many([request for _, request in ready]))
        except Exception as exc:  # noqa: BLE001 - reported per window, never lost
            if len(ready) > 1:
                for lw, request in ready:
                    yield from self._label_one(lw, request)
                return
            yield UnitOutcome(ready[0][0].index, 'failed', f'{ready[0][1].name}: {type(exc).__name__}: {exc}')
            return
        for (lw, _), masks in zip(ready, results):
            yield self._store(lw, masks)

    def _label_one(self, lw: LabelWindow, request) -> Iterator[UnitOutcome]:
        try:
            masks = list(self.engine.annotate_many([request]))[0]
        except Exception as exc:  # noqa: BLE001
            yield UnitOutcome(lw.index, 'failed', f'{request.name}: {type(exc).__name__}: {exc}')
            return
        yield self._store(lw, masks)

    def _store(self, lw: LabelWindow, masks) -> UnitOutcome:
        objects = []
        for box_id, mask in zip(lw.box_ids, masks):
            scene_mask = from_window_mask(mask, lw.window, lw.factor)
            objects.append(dict(box_id=box_id, class_index=self.objects[box_id].class_index,
                                score=round(float(mask.score), 6), prompt=mask.prompt, mask=scene_mask.as_record()))
        self.write_json(self.record_path(lw.index), dict(self._match(lw), status='labelled', objects=objects))
        self.objects_labelled_now += len(objects)
        return UnitOutcome(lw.index, 'done', objects=len(objects))

    # ---- window records ------------------------------------------------------------------------
    def _read_record(self, index: int) -> dict:
        """A window record (read through a small cache: the masks are read object by object)."""
        with open(self.record_path(index), encoding='utf-8') as f:
            return json.load(f)

    def timings(self) -> Dict[str, Any]:
        """Windows and objects per second of this run."""
        done = self.objects_labelled_now
        return dict(objects_labelled=done, objects_per_second=round(done / self.seconds, 3) if self.seconds else 0.0)
