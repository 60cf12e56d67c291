"""The outputs of a labelled scene, written on rank 0 once every window is done.

``semantic.tif`` painted tile by tile in the overlap rule's order from each object's one
mask, ``instances.gpkg`` (one row per labelled box; optionally ``instances.parquet``), the COCO
json in pixel coordinates and ``quicklook.png``. :class:`SceneLabelOutputs` is the part of
:class:`~samrs_mm.scenes.labelling.SceneLabeller` that reads its window records back into
these files.
"""
from __future__ import annotations

import functools
import os
from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .label_raster import LabelRasterWriter, tiles
from .masks import COCO_RLE_MAX_PIXELS, SceneMask, paint_tile, place_rle
from .quicklook import render_quicklook
from .run import UnitOutcome
from .vectors import CocoWriter, FeatureWriter, mask_polygon, write_geoparquet

__all__ = ['SceneLabelOutputs', 'INSTANCE_COLUMNS', 'hbox_corners']

INSTANCE_COLUMNS = ('box_id', 'class', 'class_index', 'score', 'prompt', 'area', 'window')


class SceneLabelOutputs:
    """Writes a labelled scene's files from its window records (mixed into ``SceneLabeller``,
    whose raster, boxes, windows, classes, writer / scene settings and record cache it reads)."""

    def _labelled_objects(self, outcomes: List[UnitOutcome]) -> List[dict]:
        """Every labelled object (no mask), from the window records, in box id order."""
        found = []
        for outcome in outcomes:
            if outcome.status not in ('done', 'resumed'):
                continue
            for position, obj in enumerate(self._record(outcome.index)['objects']):
                mask = obj['mask']
                height, width = (int(v) for v in mask['rle']['size'])
                found.append(dict(box_id=obj['box_id'], class_index=obj['class_index'], score=obj['score'],
                                  prompt=obj['prompt'], area=int(mask['area']), x=int(mask['x']), y=int(mask['y']),
                                  w=width, h=height, window=outcome.index, position=position))
        found.sort(key=lambda o: o['box_id'])
        return found

    def _mask(self, obj: dict) -> SceneMask:
        return SceneMask.from_record(self._record(obj['window'])['objects'][obj['position']]['mask'])

    def finalise(self, outcomes: List[UnitOutcome]) -> Dict[str, Any]:
        """Write semantic.tif, instances.gpkg (+ parquet, COCO json), quicklook.png; the summary's content."""
        from ..annotate.outputs import label_palette
        objects = self._labelled_objects(outcomes)
        palette = self.writer_cfg.get('palette') or label_palette(self.classes)
        semantic = self.path('semantic.tif')
        self._write_semantic(objects, semantic, palette)
        transform = self.raster.map_transform()
        crs = self.raster.crs.to_wkt() if self.raster.georeferenced else None
        features = FeatureWriter(self.path('instances.gpkg'), 'instances', crs, self.tmp_dir, INSTANCE_COLUMNS)
        coco = None
        if self.scene['coco']:
            coco = CocoWriter(self.path('instances_coco.json'), self.tmp_dir, os.path.basename(self.image_path),
                              self.raster.width, self.raster.height, self.classes,
                              'samrs_mm annotate_scene labels (pixel coordinates)')
            coco.__enter__()
        class_counts: Counter = Counter()
        try:
            for obj in objects:
                mask = self._mask(obj)
                features.add(dict(box_id=obj['box_id'], class_index=obj['class_index'],
                                  **{'class': self.classes[obj['class_index']]}, score=obj['score'],
                                  prompt=obj['prompt'], area=obj['area'], window=obj['window']),
                             mask_polygon(mask, transform))
                if mask.area:
                    class_counts[self.classes[obj['class_index']]] += 1
                if coco is not None and mask.area:
                    coco.add(self._coco_annotation(obj, mask))
            features.finish()
        except BaseException as exc:
            features.abort()
            if coco is not None:
                coco.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if coco is not None:
            coco.__exit__(None, None, None)
        outputs = ['semantic.tif', 'instances.gpkg'] + (['instances_coco.json'] if coco is not None else [])
        if self.scene['geoparquet']:
            write_geoparquet(self.path('instances.gpkg'), self.path('instances.parquet'), self.tmp_dir)
            outputs.append('instances.parquet')
        if self.scene['quicklook']:
            outlines = [(o.class_index, o.quad if o.quad is not None else hbox_corners(o.hbox))
                        for o in self.boxes.objects]
            render_quicklook(self.raster, functools.partial(self.write_bytes, self.path('quicklook.png')), semantic,
                             palette[:len(self.classes)], outlines, self.scene['quicklook'],
                             int(self.writer_cfg['ignore_index']))
            outputs.append('quicklook.png')
        counts = self._counts(outcomes)
        nodata_boxes = sum(len(self.windows[o.index].box_ids) for o in outcomes if o.status == 'nodata')
        failed_boxes = sum(len(self.windows[o.index].box_ids) for o in outcomes if o.status == 'failed')
        kinds = Counter(w.kind for w in self.windows)
        return dict(windows=dict(total=len(self.windows), grid=kinds['grid'], seam=kinds['seam'],
                                 large=kinds['large'], labelled=counts['done'] + counts['resumed'],
                                 nodata=counts['nodata'], failed=counts['failed']),
                    objects=dict(labelled=len(objects), empty_masks=sum(1 for o in objects if not o['area']),
                                 in_nodata_windows=nodata_boxes, in_failed_windows=failed_boxes),
                    class_counts={name: class_counts.get(name, 0) for name in self.classes}, outputs=outputs)

    def _coco_annotation(self, obj: dict, mask: SceneMask) -> dict:
        height, width = self.raster.height, self.raster.width
        if height * width <= COCO_RLE_MAX_PIXELS:
            segmentation = place_rle(mask, height, width)
        else:  # beyond COCO RLE's 32-bit counts: the traced outline, in pixels
            geometry = mask_polygon(mask, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
            parts = getattr(geometry, 'geoms', [geometry])
            segmentation = [np.asarray(p.exterior.coords).ravel().tolist() for p in parts]
        target = self.objects[obj['box_id']]
        return dict(category_id=obj['class_index'] + 1, segmentation=segmentation, area=obj['area'],
                    bbox=[float(v) for v in mask.bbox], iscrowd=0, score=obj['score'], box_id=obj['box_id'],
                    prompt=obj['prompt'], hbox=np.round(target.hbox, 3).tolist(),
                    rbox=None if target.rbox is None else np.round(target.rbox, 6).tolist())

    def _write_semantic(self, objects: List[dict], path: str, palette: Sequence) -> None:
        """Paint the label raster tile by tile (objects bucketed by the tiles their masks reach)."""
        size = 1024
        buckets: Dict[Tuple[int, int], List[int]] = {}
        for k, obj in enumerate(objects):
            if not obj['area']:
                continue
            for ty in range(obj['y'] // size, (obj['y'] + obj['h'] - 1) // size + 1):
                for tx in range(obj['x'] // size, (obj['x'] + obj['w'] - 1) // size + 1):
                    buckets.setdefault((ty, tx), []).append(k)
        ignore = int(self.writer_cfg['ignore_index'])
        raster = self.raster
        all_tiles = list(tiles(raster.width, raster.height, size))
        bar = self.progress_bar(len(all_tiles), 'tile', 'semantic.tif')
        with LabelRasterWriter(path, self.tmp_dir, raster.width, raster.height, raster.crs, raster.transform,
                               palette[:len(self.classes)], ignore) as writer:
            for tile in all_tiles:
                chosen = [objects[k] for k in buckets.get((tile.y // size, tile.x // size), [])]
                label = paint_tile(tile, [self._mask(o) for o in chosen], [o['class_index'] for o in chosen],
                                   [o['score'] for o in chosen], self.writer_cfg['overlap'], ignore)
                writer.write(tile, label)
                if bar is not None:
                    bar.update(1)
            writer.finish()
        if bar is not None:
            bar.close()


def hbox_corners(hbox: np.ndarray) -> np.ndarray:
    """The four corners of an axis-aligned box, clockwise from the top left."""
    x1, y1, x2, y2 = hbox
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
