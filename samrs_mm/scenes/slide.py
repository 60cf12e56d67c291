"""mmseg's slide inference, streamed: the same sums in the same order, only the rows still open kept.

``EncoderDecoder.slide_inference`` adds every window's logits into a scene-size float map in
row-major window order, divides by how many windows cover each pixel and takes the argmax.
:class:`StreamingSlide` does the same arithmetic pixel for pixel while holding only

* the *carry*: the running sums of the rows the next window row will add to (``crop - stride``
  rows of the scene's width), and
* the *open columns* of the current window row (one window's worth), whose rows above the next
  window row are divided, decided and handed out as soon as no later window reaches them.

Every pixel receives the same float32 additions in the same order as in mmseg (a sum starts at
0, each covering window adds its logits in row-major order), the same division by the same
count (rows covering it times columns covering it, exact integers) and the same argmax, so the
class map equals mmseg's on the scene held whole in memory. A block of strips can start
anywhere (a resumed run, a rank's share): the window rows that reach its first strip from above
are recomputed first, their sums kept only for the block's rows.
"""
from __future__ import annotations

from typing import Callable, Iterable, List, Optional

import numpy as np
import torch

from .planning import SlideGrid

__all__ = ['StreamingSlide']


class StreamingSlide:
    """Accumulate the window logits of ``grid`` and hand out finished strips (see the module docstring).

    Args:
        grid: the slide windows of the scene.
        channels: logit channels of the model.
        decide: ``(C, h, w)`` averaged logits -> ``(h, w)`` uint8 classes (mmseg's post-processing).
        first_strip: the first strip to produce (window rows before it only warm the carry up).
    """

    def __init__(self, grid: SlideGrid, channels: int, decide: Callable[[torch.Tensor], torch.Tensor],
                 first_strip: int = 0) -> None:
        self.grid = grid
        self.channels = int(channels)
        self.decide = decide
        self.first_strip = int(first_strip)
        self.base = grid.tops[first_strip]           # rows above are another block's
        self.start_row = grid.first_row_touching(self.base)
        self._carry: Optional[torch.Tensor] = None   # (C, rows, W) sums of rows [carry_top, carry_top + rows)
        self._carry_top = self.base
        self._row_cover = torch.from_numpy(grid.row_cover.astype(np.float32))
        self._col_cover = torch.from_numpy(grid.col_cover.astype(np.float32))

    def rows(self) -> List[int]:
        """The window rows to feed, in order (warm-up rows first)."""
        return list(range(self.start_row, self.grid.num_strips))

    def feed_row(self, k: int, logits: Iterable[Optional[torch.Tensor]],
                 valid: Optional[np.ndarray] = None, unknown: Optional[np.ndarray] = None) -> Optional[tuple]:
        """Add window row ``k``: ``logits`` yields each window's ``(C, h, w)`` logits left to right (None:
        a window that adds nothing, e.g. nodata only). ``valid`` (``h x W`` bool of the row's rows) marks
        pixels with data and ``unknown`` (same shape) pixels whose value cannot be trusted (an unreadable
        window); both become 255. Returns ``(k, top, label)`` of strip ``k`` when it is one of the block's.
        """
        grid = self.grid
        top, height, width = grid.tops[k], grid.win_h, grid.width
        out_end = grid.strip_rows(k)[1]
        out_top = max(top, self.base)            # rows of strip k that are this block's
        carry_end = top + height                 # the rows of this window row that the next one continues
        produce = k >= self.first_strip
        label = np.full((max(out_end - out_top, 0), width), 255, dtype=np.uint8) if produce else None
        new_carry = torch.zeros((self.channels, max(carry_end - out_end, 0), width))
        acc = torch.zeros((self.channels, height, 0))
        open_lo = 0
        lefts = grid.lefts
        for w, window_logits in enumerate(logits):
            x1, x2 = lefts[w], lefts[w] + grid.win_w
            open_hi = open_lo + acc.shape[2]
            if x2 > open_hi:  # columns entering: their sums so far (the carry), else 0
                fresh = torch.zeros((self.channels, height, x2 - open_hi))
                self._from_carry(fresh, top, open_hi, x2)
                acc = torch.cat([acc, fresh], dim=2)
            if window_logits is not None:
                acc[:, :, x1 - open_lo:x2 - open_lo] += window_logits
            done_hi = lefts[w + 1] if w + 1 < len(lefts) else width
            if done_hi > open_lo:
                self._finish_columns(acc[:, :, :done_hi - open_lo], top, open_lo, done_hi, out_top, out_end,
                                     label, new_carry)
                acc = acc[:, :, done_hi - open_lo:]
                open_lo = done_hi
        self._carry, self._carry_top = new_carry, out_end
        if not produce:
            return None
        rows = slice(out_top - top, out_end - top)
        if valid is not None:
            label[~valid[rows]] = 255
        if unknown is not None:
            label[unknown[rows]] = 255
        return k, out_top, label

    def _from_carry(self, fresh: torch.Tensor, top: int, c0: int, c1: int) -> None:
        """Copy the carried sums of rows ``top ..`` and columns ``c0 .. c1`` into ``fresh``."""
        if self._carry is None or self._carry.shape[1] == 0:
            return
        lo = max(self._carry_top, top)
        hi = min(self._carry_top + self._carry.shape[1], top + fresh.shape[1])
        if hi > lo:
            fresh[:, lo - top:hi - top] = self._carry[:, lo - self._carry_top:hi - self._carry_top, c0:c1]

    def _finish_columns(self, sums: torch.Tensor, top: int, c0: int, c1: int, out_top: int, out_end: int,
                        label: Optional[np.ndarray], new_carry: torch.Tensor) -> None:
        """Columns ``c0 .. c1`` of this window row get no more windows: decide their final rows, carry the rest."""
        if label is not None and out_end > out_top:
            part = sums[:, out_top - top:out_end - top]
            count = self._row_cover[out_top:out_end, None] * self._col_cover[None, c0:c1]
            label[:, c0:c1] = self.decide(part / count).numpy()
        if new_carry.shape[1]:
            new_carry[:, :, c0:c1] = sums[:, out_end - top:]

