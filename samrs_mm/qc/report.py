"""What QC shows: running histograms, the k worst objects, their overlay thumbnails, PNG pages, HTML.

Memory does not grow with the number of images: histograms are counts in fixed bins per
class and signal, and the gallery keeps only the ``k`` worst flagged objects (a heap), each as
a small rendered thumbnail, never their images or masks.
"""
from __future__ import annotations

import heapq
import html
import io
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..fileio import atomic_write
from .thresholds import RULES, SIGNALS

__all__ = ['SIGNAL_BINS', 'SignalHistograms', 'WorstObjects', 'badness', 'render_thumbnail',
           'write_histogram_pages', 'write_gallery_pages', 'write_index_html']

# Fixed bin edges per signal (the last bin also takes everything above; box_fill can pass 1 when
# the mask leaks, parts is an integer count).
SIGNAL_BINS = {
    'score': np.linspace(0.0, 1.0, 21),
    'stability': np.linspace(0.0, 1.0, 21),
    'outside_box': np.linspace(0.0, 1.0, 21),
    'box_fill': np.linspace(0.0, 1.5, 31),
    'rbox_iou': np.linspace(0.0, 1.0, 21),
    'parts': np.arange(0, 12) - 0.5,
}
THUMB = 160


class SignalHistograms:
    """Counts of every signal per class in :data:`SIGNAL_BINS` (values outside go to the end bins)."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self.counts = {cls: {s: np.zeros(len(SIGNAL_BINS[s]) - 1, dtype=np.int64) for s in SIGNALS}
                       for cls in self.classes}

    def add(self, class_name: str, signals: dict) -> None:
        """Count one object's signal values (None: not counted)."""
        if class_name not in self.counts:
            self.classes.append(class_name)
            self.counts[class_name] = {s: np.zeros(len(SIGNAL_BINS[s]) - 1, dtype=np.int64) for s in SIGNALS}
        for signal in SIGNALS:
            value = signals.get(signal)
            if value is None:
                continue
            edges = SIGNAL_BINS[signal]
            k = int(np.clip(np.searchsorted(edges, value, side='right') - 1, 0, len(edges) - 2))
            self.counts[class_name][signal][k] += 1

    def total(self) -> Dict[str, np.ndarray]:
        """The counts of all classes together."""
        return {s: sum((self.counts[c][s] for c in self.classes), np.zeros(len(SIGNAL_BINS[s]) - 1, np.int64))
                for s in SIGNALS}


def badness(signals: dict, reasons: Sequence[str], thresholds: dict) -> float:
    """How bad a flagged object is: per fired rule 1 plus its relative distance past the threshold (at most 1)."""
    total = 0.0
    for reason in reasons:
        signal, _, key = RULES[reason]
        value, limit = float(signals[signal]), float(thresholds[key])
        total += 1.0 + min(abs(value - limit) / max(abs(limit), 1e-6), 1.0)
    return total


class WorstObjects:
    """The ``k`` worst flagged objects seen so far (a min-heap on :func:`badness`)."""

    def __init__(self, k: int) -> None:
        self.k = int(k)
        self._heap: list = []
        self._count = 0

    def would_keep(self, value: float) -> bool:
        """Whether an object this bad enters the heap (so its thumbnail is worth rendering)."""
        return self.k > 0 and (len(self._heap) < self.k or value > self._heap[0][0])

    def push(self, value: float, item: dict) -> None:
        """Offer one object (``item`` holds its thumbnail and caption)."""
        self._count += 1
        entry = (value, -self._count, item)  # ties: the earlier object stays
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        elif value > self._heap[0][0]:
            heapq.heapreplace(self._heap, entry)

    def worst_first(self) -> List[dict]:
        """The kept items, worst first."""
        return [item for _, _, item in sorted(self._heap, key=lambda e: (-e[0], -e[1]))]


def _outline(window: np.ndarray) -> np.ndarray:
    """Pixels of the mask with a 4-neighbour outside it."""
    padded = np.pad(window, 1)
    inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return window & ~inner


def render_thumbnail(image: Optional[np.ndarray], window: np.ndarray, wx: int, wy: int, hbox, rbox,
                     size: int = THUMB) -> np.ndarray:
    """A ``size x size`` RGB overlay: the image crop around the box and mask (gray without the
    image), the mask tinted with its outline in red, the prompt box yellow, the rotated box cyan."""
    from PIL import Image, ImageDraw
    xs = [wx, wx + window.shape[1]] + ([hbox[0], hbox[2]] if hbox is not None else [])
    ys = [wy, wy + window.shape[0]] + ([hbox[1], hbox[3]] if hbox is not None else [])
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    side = max(x1 - x0, y1 - y0, 8) * 1.3
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
    n = int(np.ceil(side))
    crop = np.full((n, n, 3), 96, dtype=np.uint8)
    if image is not None:
        ih, iw = image.shape[:2]
        sx0, sy0, sx1, sy1 = max(left, 0), max(top, 0), min(left + n, iw), min(top + n, ih)
        if sx0 < sx1 and sy0 < sy1:
            crop[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = image[sy0:sy1, sx0:sx1, :3]
    # The mask window inside the crop.
    mx0, my0 = wx - left, wy - top
    h, w = window.shape
    cx0, cy0, cx1, cy1 = max(mx0, 0), max(my0, 0), min(mx0 + w, n), min(my0 + h, n)
    if cx0 < cx1 and cy0 < cy1:
        sub = window[cy0 - my0:cy1 - my0, cx0 - mx0:cx1 - mx0]
        edge = _outline(window)[cy0 - my0:cy1 - my0, cx0 - mx0:cx1 - mx0]
        region = crop[cy0:cy1, cx0:cx1].astype(np.float32)
        region[sub] = region[sub] * 0.6 + np.array([255, 64, 64], np.float32) * 0.4
        region[edge] = (255, 0, 0)
        crop[cy0:cy1, cx0:cx1] = region.astype(np.uint8)
    scale = size / n
    pil = Image.fromarray(crop).resize((size, size), Image.NEAREST)
    draw = ImageDraw.Draw(pil)
    if hbox is not None:
        draw.rectangle([(hbox[0] - left) * scale, (hbox[1] - top) * scale, (hbox[2] - left) * scale - 1,
                        (hbox[3] - top) * scale - 1], outline=(255, 230, 0))
    if rbox is not None:
        from ..structures.boxes import rbox_to_quad
        quad = (rbox_to_quad(np.asarray(rbox, dtype=np.float64)) - np.array([left, top])) * scale
        draw.polygon([tuple(p) for p in quad], outline=(0, 230, 255))
    return np.asarray(pil)


def _save_png(path: str, pil_image) -> None:
    buf = io.BytesIO()
    pil_image.save(buf, format='PNG')
    atomic_write(path, buf.getvalue())


def write_gallery_pages(items: List[dict], out_dir: str, per_page: int = 24, cols: int = 6) -> List[str]:
    """Pages of thumbnails with captions (``gallery_<k>.png``); returns their paths."""
    from PIL import Image, ImageDraw
    paths = []
    cap = 42
    for page, start in enumerate(range(0, len(items), per_page)):
        chunk = items[start:start + per_page]
        rows = (len(chunk) + cols - 1) // cols
        sheet = Image.new('RGB', (cols * (THUMB + 8) + 8, rows * (THUMB + cap + 8) + 8), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        for i, item in enumerate(chunk):
            x, y = 8 + (i % cols) * (THUMB + 8), 8 + (i // cols) * (THUMB + cap + 8)
            sheet.paste(Image.fromarray(item['thumb']), (x, y))
            draw.multiline_text((x, y + THUMB + 2), item['caption'], fill=(0, 0, 0), spacing=1)
        path = osp.join(out_dir, f'gallery_{page + 1}.png')
        _save_png(path, sheet)
        paths.append(path)
    return paths


def write_histogram_pages(hists: SignalHistograms, thresholds: dict, out_dir: str) -> List[str]:
    """One PNG per class (and ``hist_all.png``): a bar chart per signal with its thresholds; returns the paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    limits: Dict[str, List[float]] = {}
    for signal, _, key in RULES.values():
        if thresholds.get(key) is not None:
            limits.setdefault(signal, []).append(float(thresholds[key]))
    pages = [('all', hists.total())] + [(cls, hists.counts[cls]) for cls in hists.classes
                                        if any(c.sum() for c in hists.counts[cls].values())]
    paths = []
    for k, (name, counts) in enumerate(pages):
        fig, axes = plt.subplots(2, 3, figsize=(12, 6))
        for ax, signal in zip(axes.reshape(-1), SIGNALS):
            edges = SIGNAL_BINS[signal]
            ax.bar(edges[:-1], counts[signal], width=np.diff(edges), align='edge', color='#4c72b0')
            for limit in limits.get(signal, []):
                ax.axvline(limit, color='#d62728', linestyle='--', linewidth=1)
            n = int(counts[signal].sum())
            ax.set_title(f'{signal} ({n} objects)' if n else f'{signal} (not available)', fontsize=9)
            ax.tick_params(labelsize=7)
        fig.suptitle(f'{name}: signals per object (red: thresholds)', fontsize=11)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=80)
        plt.close(fig)
        path = osp.join(out_dir, 'hist_all.png' if k == 0 else f'hist_{k:03d}.png')
        atomic_write(path, buf.getvalue())
        paths.append(path)
    return paths


def _table(header: Sequence[str], rows) -> str:
    head = ''.join(f'<th>{html.escape(str(h))}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(v))}</td>' for v in row) + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def write_index_html(path: str, summary: dict, hist_pages: List[str], gallery_pages: List[str]) -> None:
    """``qc/index.html``: the summary's tables and every page, linked relative to the page."""
    base = osp.dirname(path)
    parts = ['<!doctype html><html><head><meta charset="utf-8"><title>label QC</title><style>'
             'body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}'
             'td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>',
             f'<h1>Label QC of {html.escape(summary["work_dir"])}</h1>',
             f'<p>{summary["images"]} images, {summary["objects"]} objects, {summary["flagged"]} flagged '
             f'({100 * summary["flag_rate"]:.1f}%). Layout: {summary["layout"]}.</p>']
    for note in summary.get('notes', []):
        parts.append(f'<p><b>Note:</b> {html.escape(note)}</p>')
    parts.append('<h2>Flags per reason</h2>')
    parts.append(_table(('reason', 'rule', 'flagged', 'rate'), [
        (r, v['rule'], v['flagged'], f'{100 * v["rate"]:.2f}%') for r, v in summary['per_reason'].items()]))
    parts.append('<h2>Flags per class</h2>')
    parts.append(_table(('class', 'objects', 'flagged', 'rate', 'reasons'), [
        (c, v['objects'], v['flagged'], f'{100 * v["rate"]:.2f}%',
         ', '.join(f'{r} {n}' for r, n in v['reasons'].items() if n)) for c, v in summary['per_class'].items()]))
    overlap = summary.get('overlap')
    if overlap:
        parts.append(f'<h2>Overlap rules</h2><p>Pixels whose label changes against the run\'s rule '
                     f'<code>{html.escape(overlap["run_rule"])}</code> ({overlap["labelled_pixels"]} labelled '
                     f'pixels, {overlap["overlap_pixels"]} covered by several masks).</p>')
        parts.append(_table(('rule', 'pixels changed'), list(overlap['changed_pixels'].items())))
    applied = summary.get('apply')
    if applied:
        parts.append(f'<h2>Filtered dataset</h2><p>{html.escape(applied["out_dir"])} (mode {applied["mode"]})</p>')
        parts.append(_table(('class', 'removed'), list(applied['removed'].items())))
    parts.append('<h2>Worst objects</h2><p>Red: mask outline, yellow: prompt box, cyan: rotated box.</p>')
    parts += [f'<p><a href="{osp.relpath(p, base)}"><img src="{osp.relpath(p, base)}"></a></p>' for p in gallery_pages]
    if not gallery_pages:
        parts.append('<p>No object was flagged.</p>')
    parts.append('<h2>Signal histograms</h2>')
    parts += [f'<p><a href="{osp.relpath(p, base)}"><img src="{osp.relpath(p, base)}"></a></p>' for p in hist_pages]
    parts.append('</body></html>\n')
    atomic_write(path, ''.join(parts).encode('utf-8'))
