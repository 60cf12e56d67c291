"""``quicklook.png``: the whole scene at most ``max_side`` pixels wide, classes tinted, objects outlined.

The scene is read once, tile by tile, and subsampled (nearest neighbour) into the picture, so
memory is a tile and the picture; a tile with an unreadable block stays black, the label raster through
its overviews; nothing scene-sized is held.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence, Tuple

import numpy as np

from .raster import PixelWindow, SceneRaster, WindowReadError

__all__ = ['quicklook_size', 'render_quicklook']


def quicklook_size(width: int, height: int, max_side: int) -> Tuple[int, int, float]:
    """``(width, height, scale)`` of the quicklook of a ``width x height`` scene."""
    scale = min(1.0, float(max_side) / max(width, height))
    return max(1, int(round(width * scale))), max(1, int(round(height * scale))), scale


def render_quicklook(raster: SceneRaster, write_bytes: Callable[[bytes], None], label_path: Optional[str] = None,
                     palette: Sequence[Sequence[int]] = (), outlines: Iterable[Tuple[int, np.ndarray]] = (),
                     max_side: int = 1024, ignore_index: int = 255, alpha: float = 0.45) -> None:
    """Render the quicklook and hand its PNG bytes to ``write_bytes``.

    ``outlines`` are ``(class index, (N, 2) polygon in scene pixels)`` pairs, drawn in the
    class colour; ``label_path`` is a label raster of the scene (its classes are tinted).
    """
    import cv2
    width, height, scale = quicklook_size(raster.width, raster.height, max_side)
    # Nearest-neighbour subsampling in numpy from full-resolution tiles read one at a time (each
    # block decompressed once; GDAL's own subsampling re-reads blocks under a small cache).
    rows = np.minimum(((np.arange(height) + 0.5) * raster.height / height).astype(np.int64), raster.height - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * raster.width / width).astype(np.int64), raster.width - 1)
    raw = None
    tile = 1024
    for y0 in range(0, raster.height, tile):
        sel_r = np.flatnonzero((rows >= y0) & (rows < y0 + tile))
        if sel_r.size == 0:
            continue
        for x0 in range(0, raster.width, 4 * tile):
            sel_c = np.flatnonzero((cols >= x0) & (cols < x0 + 4 * tile))
            if sel_c.size == 0:
                continue
            window = PixelWindow(x0, y0, min(4 * tile, raster.width - x0), min(tile, raster.height - y0))
            try:
                part = raster.read(window)
            except WindowReadError:
                continue  # an unreadable block leaves its part of the picture black
            if raw is None:
                raw = np.zeros((height, width, part.shape[2]), dtype=part.dtype)
                if raster.nodata is not None:
                    raw[...] = raster.nodata
            raw[np.ix_(sel_r, sel_c)] = part[np.ix_(rows[sel_r] - y0, cols[sel_c] - x0)]
    if raw is None:
        raw = np.zeros((height, width, 1), dtype=np.uint8)
    picture = raster.rgb(raw).astype(np.float32)
    table = np.zeros((256, 3), dtype=np.float32)
    if len(palette):
        table[:len(palette)] = np.asarray(palette, dtype=np.float32)
    if label_path is not None:
        import rasterio
        from rasterio.enums import Resampling
        with rasterio.open(label_path) as ds:
            label = ds.read(1, out_shape=(height, width), resampling=Resampling.nearest)
        tinted = label != ignore_index
        picture[tinted] = (1 - alpha) * picture[tinted] + alpha * table[label[tinted]]
    image = np.ascontiguousarray(np.clip(picture, 0, 255).astype(np.uint8)[..., ::-1])
    for class_index, polygon in outlines:
        points = np.round(np.asarray(polygon, dtype=np.float64) * scale).astype(np.int32).reshape(-1, 1, 2)
        colour = tuple(int(v) for v in table[int(class_index)][::-1]) if len(palette) else (0, 255, 255)
        cv2.polylines(image, [points], True, colour, 1, lineType=cv2.LINE_AA)
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError('cannot encode the quicklook PNG')
    write_bytes(data.tobytes())
