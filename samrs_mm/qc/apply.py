"""``--apply``: the filtered copy of an annotate output, written beside it (the original is never touched).

Per image: ``semantic/<stem>.png`` recomposed from the KEPT masks with the run's overlap rule,
``instances/<stem>.json`` without the flagged objects (mode ``drop``) or with ``ignore: true``
on them (mode ``ignore``), then ``annotations.json`` (COCO; flagged objects left out, or kept
with ``iscrowd=1``, which mmdet's ``CocoDataset`` reads as ``ignore_flag=1``; not COCO's
``ignore=1``, which it reads as "leave the object out").

Why recompose instead of blanking the pixels the flagged objects won: a leaking mask painted
over a good one hid that object's pixels; blanking them would remove good labels with the bad
one. Recomposing gives exactly the label the annotate run would have written without the
flagged objects, and pixels only flagged objects covered become 255 (ignored) either way.
"""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Sequence

import numpy as np

from ..annotate.outputs import AtomicFiles, encode_gray_png, merge_annotations, paint_order
from ..fileio import atomic_write

__all__ = ['APPLY_MODES', 'FilteredWriter', 'paint_windows']

APPLY_MODES = ('drop', 'ignore')
LIST_FILES = ('train.txt', 'val.txt', 'valid.txt', 'test.txt')


def paint_windows(windows: Sequence, class_indices: Sequence[int], areas: Sequence[int], scores: Sequence[float],
                  height: int, width: int, rule: str, ignore_index: int = 255) -> np.ndarray:
    """The semantic label of masks given as ``(bool window, x, y)``, painted by ``rule``
    (:func:`samrs_mm.annotate.outputs.paint_order`; the same result as ``compose_semantic``)."""
    label = np.full((height, width), ignore_index, dtype=np.uint8)
    for i in paint_order(areas, scores, rule):
        window, x, y = windows[i]
        if window.size:
            h, w = window.shape
            label[y:y + h, x:x + w][window] = int(class_indices[i])
    return label


class FilteredWriter:
    """Writes the filtered dataset under ``out_dir`` image by image, then its COCO json."""

    def __init__(self, src_root: str, out_dir: str, classes: Sequence[str], mode: str = 'drop') -> None:
        if mode not in APPLY_MODES:
            raise ValueError(f'unknown apply mode {mode!r}; valid: {", ".join(APPLY_MODES)}')
        if osp.abspath(out_dir) == osp.abspath(src_root):
            raise ValueError(f'{out_dir}: the filtered dataset must go to another folder than the work dir')
        self.src_root, self.out_dir, self.classes, self.mode = src_root, out_dir, list(classes), mode
        self.tmp_dir = osp.join(out_dir, '.tmp')
        self.removed: Dict[str, int] = {c: 0 for c in self.classes}
        self.kept: Dict[str, int] = {c: 0 for c in self.classes}
        self.stems: List[str] = []
        os.makedirs(osp.join(out_dir, 'instances'), exist_ok=True)
        os.makedirs(osp.join(out_dir, 'semantic'), exist_ok=True)

    def link_inputs(self) -> None:
        """``images/`` as a link to the work dir's images, the name lists and ``summary.json`` copied."""
        src_images = osp.join(self.src_root, 'images')
        dst_images = osp.join(self.out_dir, 'images')
        if osp.isdir(src_images) and not osp.lexists(dst_images):
            os.symlink(osp.abspath(src_images), dst_images)
        for name in LIST_FILES:
            if osp.isfile(osp.join(self.src_root, name)):
                shutil.copyfile(osp.join(self.src_root, name), osp.join(self.out_dir, name))

    def write_image(self, image, flagged: Sequence[bool], windows: Sequence, rule: str,
                    qc_fields: Sequence[dict]) -> None:
        """One image: its recomposed label and instance file (``flagged[i]`` for ``image.objects[i]``);
        ``qc_fields[i]`` (signals, reasons) are added to each written object."""
        keep = [i for i, f in enumerate(flagged) if not f]
        objs = image.objects
        label = paint_windows([windows[i] for i in keep], [objs[i].class_index for i in keep],
                              [objs[i].area for i in keep], [objs[i].score or 0.0 for i in keep],
                              image.height, image.width, rule)
        atomic_write(osp.join(self.out_dir, 'semantic', image.stem + '.png'), encode_gray_png(label), self.tmp_dir)
        written = []
        for i, obj in enumerate(objs):
            if flagged[i]:
                self.removed[obj.class_name] = self.removed.get(obj.class_name, 0) + 1
                if self.mode == 'drop':
                    continue
            else:
                self.kept[obj.class_name] = self.kept.get(obj.class_name, 0) + 1
            entry = dict(obj.raw)
            entry.update(qc_fields[i])
            if self.mode == 'ignore':
                entry['ignore'] = bool(flagged[i])
            written.append(entry)
        data = dict(image.data)
        data['objects'] = written
        text = json.dumps(data, separators=(',', ':'), ensure_ascii=False) + '\n'
        atomic_write(osp.join(self.out_dir, 'instances', image.stem + '.json'), text.encode('utf-8'), self.tmp_dir)
        self.stems.append(image.stem)

    def write_coco(self) -> str:
        """``annotations.json`` of the written instance files (the annotate tool's merge, streamed)."""
        path = osp.join(self.out_dir, 'annotations.json')
        merge_annotations(self.out_dir, self.stems, self.classes, path, AtomicFiles(self.tmp_dir),
                          description='samrs_mm SAM labels, label QC applied')
        with contextlib.suppress(OSError):  # left only when empty: nothing half-written remains
            os.rmdir(self.tmp_dir)
        return path
