"""One QC pass over a labelled folder: signals, flags, CSV, summary, report pages, filtered copy.

Streamed: one image's objects and decoded mask windows are in memory at a time; the CSV is
written row by row, histograms are running counts and the gallery keeps the k worst objects.
"""
from __future__ import annotations

import csv
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Sequence

import numpy as np

from ..annotate.outputs import OVERLAP_RULES
from ..fileio import atomic_open, atomic_write
from ..structures.mask_quality import BOX_MARGIN, GEOMETRIC_FIELDS, MIN_BOX_MARGIN, prompt_agreement
from .apply import APPLY_MODES, FilteredWriter, paint_windows
from .reader import QCImage, WorkDirError, open_label_folder
from .report import (
    SignalHistograms,
    WorstObjects,
    badness,
    render_thumbnail,
    write_gallery_pages,
    write_histogram_pages,
    write_index_html,
)
from .thresholds import REASONS, RULES, SIGNALS, flag_reasons

__all__ = ['CSV_COLUMNS', 'object_signals', 'run_label_qc']

CSV_COLUMNS = ('image', 'id', 'class') + SIGNALS + ('area', 'flagged', 'reasons')


def object_signals(obj, window, wx: int, wy: int, thresholds: dict) -> dict:
    """``score`` and the quality fields of one object: stored ones where the file has them (and
    the box margin is the default they were computed with), the geometric ones computed otherwise."""
    signals = dict(score=obj.score, stability=obj.stored.get('stability'))
    default_margin = (thresholds['box_margin'] == BOX_MARGIN and thresholds['min_box_margin'] == MIN_BOX_MARGIN)
    if default_margin and all(f in obj.stored for f in GEOMETRIC_FIELDS):
        signals.update({f: obj.stored[f] for f in GEOMETRIC_FIELDS})
        signals['computed'] = False
    else:
        hbox = obj.hbox
        if hbox is None:  # no prompt box recorded: the mask's own box stands in
            x, y, w, h = obj.bbox
            hbox = (x, y, x + w, y + h)
        signals.update(prompt_agreement(window, hbox, obj.rbox, offset=(wx, wy), margin=thresholds['box_margin'],
                                        min_margin=thresholds['min_box_margin']))
        signals['computed'] = True
    return signals


def _load_rgb(path: Optional[str]) -> Optional[np.ndarray]:
    if not path:
        return None
    try:
        from PIL import Image
        with Image.open(path) as img:
            return np.asarray(img.convert('RGB'))
    except OSError:
        return None  # the gallery shows the mask on gray; the QC numbers do not need the image


def _short(value) -> str:
    return '-' if value is None else f'{value:.2f}'


def _fmt(value) -> str:
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.6g}'
    return str(value)


def run_label_qc(work_dir: str, out_dir: Optional[str] = None, thresholds: Optional[dict] = None,
                 classes: Optional[Sequence[str]] = None, apply: bool = False, apply_mode: str = 'drop',
                 apply_dir: Optional[str] = None, overlap_rules: Optional[Sequence[str]] = None,
                 worst: int = 48, pages: bool = True, progress: bool = True) -> dict:
    """QC of the labelled folder ``work_dir``; returns the summary (also written to ``qc/summary.json``).

    Args:
        work_dir: an annotate work dir or an official release subset folder (:mod:`.reader`).
        out_dir: where ``objects.csv``, ``summary.json``, the PNG pages and ``index.html`` go
            (default ``<work_dir>/qc``).
        thresholds: full threshold dict (:func:`~.thresholds.load_thresholds`); default the defaults.
        classes: class list (default: from the folder, :func:`~.reader.open_label_folder`).
        apply: also write the filtered dataset to ``apply_dir`` (default ``<work_dir>_qc``),
            flagged objects dropped or ignored (``apply_mode``).
        overlap_rules: rules compared with the run's in the overlap report (default all).
        worst: how many of the worst flagged objects the gallery shows.
        pages: write the PNG pages and the HTML (False: CSV and summary only).
    """
    from .thresholds import DEFAULT_THRESHOLDS
    thresholds = dict(DEFAULT_THRESHOLDS if thresholds is None else thresholds)
    folder = open_label_folder(work_dir, classes)
    out_dir = out_dir or osp.join(work_dir, 'qc')
    rules = list(overlap_rules or OVERLAP_RULES)
    for rule in rules:
        if rule not in OVERLAP_RULES:
            raise ValueError(f'unknown overlap rule {rule!r}; valid: {", ".join(OVERLAP_RULES)}')
    if apply_mode not in APPLY_MODES:
        raise ValueError(f'unknown apply mode {apply_mode!r}; valid: {", ".join(APPLY_MODES)}')
    writer = None
    if apply:
        if folder.layout != 'annotate':
            raise WorkDirError(f'{work_dir}: --apply writes annotate-layout folders; this is a release folder '
                             '(ins/*.pkl): report only')
        apply_dir = apply_dir or osp.normpath(work_dir) + '_qc'
        if osp.abspath(apply_dir) == osp.abspath(work_dir):
            raise WorkDirError(f'{apply_dir}: --apply-dir is the work dir; the original is never overwritten')
        writer = FilteredWriter(work_dir, apply_dir, folder.classes, apply_mode)
        writer.link_inputs()
    os.makedirs(out_dir, exist_ok=True)
    hists = SignalHistograms(folder.classes)
    gallery = WorstObjects(worst if pages else 0)
    per_class = {c: dict(objects=0, flagged=0, reasons={r: 0 for r in REASONS}) for c in folder.classes}
    per_reason = {r: 0 for r in REASONS}
    available = {s: 0 for s in SIGNALS}
    n_images = n_objects = n_flagged = n_computed = 0
    changed = {r: 0 for r in rules}
    labelled_pixels = overlap_pixels = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(folder), desc='label QC', unit='img', file=sys.stderr, mininterval=1.0,
                   disable=len(folder) < 50)
    csv_path = osp.join(out_dir, 'objects.csv')
    started = time.perf_counter()
    with atomic_open(csv_path, 'w', newline='', encoding='utf-8') as fcsv:
        table = csv.writer(fcsv, lineterminator='\n')
        table.writerow(CSV_COLUMNS)
        for image in folder.images():
            n_images += 1
            windows, flags, fields = [], [], []
            candidates = []
            for obj in image.objects:
                window, wx, wy = obj.window()
                windows.append((window, wx, wy))
                signals = object_signals(obj, window, wx, wy, thresholds)
                n_computed += int(signals.pop('computed'))
                reasons = flag_reasons(signals, thresholds)
                flagged = bool(reasons)
                flags.append(flagged)
                fields.append(dict({f: signals[f] for f in GEOMETRIC_FIELDS + ('stability',)}, qc_reasons=reasons))
                n_objects += 1
                n_flagged += flagged
                stats = per_class.setdefault(obj.class_name, dict(objects=0, flagged=0,
                                                                  reasons={r: 0 for r in REASONS}))
                stats['objects'] += 1
                stats['flagged'] += flagged
                for r in reasons:
                    stats['reasons'][r] += 1
                    per_reason[r] += 1
                for s in SIGNALS:
                    available[s] += signals.get(s) is not None
                hists.add(obj.class_name, signals)
                table.writerow([image.stem, obj.id, obj.class_name] + [_fmt(signals.get(s)) for s in SIGNALS]
                               + [obj.area, int(flagged), ';'.join(reasons)])
                if flagged:
                    value = badness(signals, reasons, thresholds)
                    if gallery.would_keep(value):
                        candidates.append((value, obj, signals, reasons, window, wx, wy))
            if candidates:
                rgb = _load_rgb(image.image_path)
                for value, obj, signals, reasons, window, wx, wy in candidates:
                    caption = (f'{image.stem} #{obj.id} {obj.class_name}\n{",".join(reasons)}\n'
                               + ' '.join(f'{k}={_short(signals.get(v))}' for k, v in (('score', 'score'),
                                                                                      ('fill', 'box_fill'),
                                                                                      ('stab', 'stability'))))
                    gallery.push(value, dict(thumb=render_thumbnail(rgb, window, wx, wy, obj.hbox, obj.rbox),
                                             caption=caption, image=image.stem, id=obj.id, reasons=reasons))
            lp, op, diff = _overlap_report(image, windows, folder.overlap, rules)
            labelled_pixels += lp
            overlap_pixels += op
            for r in rules:
                changed[r] += diff[r]
            if writer is not None:
                writer.write_image(image, flags, windows, folder.overlap, fields)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    notes = []
    for reason, (signal, _, key) in RULES.items():
        if thresholds.get(key) is None:
            notes.append(f'rule {reason} is switched off ({key} = None)')
        elif available[signal] == 0:
            notes.append(f'rule {reason} not applied: no object has {signal}'
                         + (' (labels made before stability was recorded)' if signal == 'stability' else '')
                         + (' (no SAM scores in this layout)' if signal == 'score' and folder.layout == 'release'
                            else ''))
    summary = dict(
        work_dir=work_dir, layout=folder.layout, images=n_images, objects=n_objects, flagged=n_flagged,
        flag_rate=n_flagged / n_objects if n_objects else 0.0, signals_computed=n_computed,
        signals_stored=n_objects - n_computed, signals_available=available, thresholds=thresholds,
        per_reason={r: dict(rule=f'{RULES[r][0]} {RULES[r][1]} {thresholds.get(RULES[r][2])}', flagged=n,
                            rate=n / n_objects if n_objects else 0.0) for r, n in per_reason.items()},
        per_class={c: dict(v, rate=v['flagged'] / v['objects'] if v['objects'] else 0.0)
                   for c, v in per_class.items() if v['objects']},
        overlap=dict(run_rule=folder.overlap, labelled_pixels=labelled_pixels, overlap_pixels=overlap_pixels,
                     changed_pixels=changed),
        notes=notes, out_dir=out_dir, objects_csv=csv_path)
    if writer is not None:
        coco = writer.write_coco()
        summary['apply'] = dict(mode=apply_mode, out_dir=apply_dir, annotations=coco,
                                removed={c: n for c, n in writer.removed.items() if n},
                                removed_total=sum(writer.removed.values()), kept=sum(writer.kept.values()))
    streamed = time.perf_counter()
    hist_pages, gallery_pages = [], []
    if pages:
        hist_pages = write_histogram_pages(hists, thresholds, out_dir)
        gallery_pages = write_gallery_pages(gallery.worst_first(), out_dir)
        summary['worst'] = [dict(image=i['image'], id=i['id'], reasons=i['reasons']) for i in gallery.worst_first()]
        summary['pages'] = dict(histograms=hist_pages, gallery=gallery_pages, index=osp.join(out_dir, 'index.html'))
    summary['seconds'] = dict(stream=round(streamed - started, 3), pages=round(time.perf_counter() - streamed, 3))
    atomic_write(osp.join(out_dir, 'summary.json'), (json.dumps(summary, indent=2) + '\n').encode('utf-8'))
    if pages:
        write_index_html(osp.join(out_dir, 'index.html'), summary, hist_pages, gallery_pages)
    return summary


def _overlap_report(image: QCImage, windows: List, run_rule: str, rules: Sequence[str]):
    """``(labelled pixels, pixels under several masks, {rule: pixels whose class differs from run_rule's})``."""
    objs = image.objects
    if not objs or image.height == 0:
        return 0, 0, {r: 0 for r in rules}
    classes = [o.class_index for o in objs]
    areas = [o.area for o in objs]
    scores = [o.score or 0.0 for o in objs]
    # Only the union of the masks' windows can differ: paint within that box.
    boxes = [(x, y, x + w.shape[1], y + w.shape[0]) for w, x, y in windows if w.size]
    if not boxes:
        return 0, 0, {r: 0 for r in rules}
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    local = [(w, x - x0, y - y0) for w, x, y in windows]
    cover = np.zeros((y1 - y0, x1 - x0), dtype=np.uint16)
    for w, x, y in local:
        if w.size:
            cover[y:y + w.shape[0], x:x + w.shape[1]] += w
    shared = int(np.count_nonzero(cover > 1))
    base = paint_windows(local, classes, areas, scores, y1 - y0, x1 - x0, run_rule) if shared else None
    diff = {}
    for rule in rules:
        if rule == run_rule or shared == 0:  # no pixel under two masks: every rule paints the same
            diff[rule] = 0
            continue
        diff[rule] = int(np.count_nonzero(paint_windows(local, classes, areas, scores, y1 - y0, x1 - x0, rule) != base))
    return int(np.count_nonzero(cover)), shared, diff
