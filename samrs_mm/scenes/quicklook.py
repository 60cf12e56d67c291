"""``quicklook.png``: the whole scene at most ``max_side`` pixels wide, classes tinted, objects outlined.

The scene is read once at the quicklook's size, band by band (GDAL resamples while reading, so
memory is the picture's; a band with an unreadable block stays black), the label raster through
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
    raw = None
    for q0 in range(0, height, 64):  # bands of the picture: an unreadable block leaves its band black
        q1 = min(q0 + 64, height)
        r0 = min(int(round(q0 / scale)), raster.height - 1)
        r1 = raster.height if q1 == height else max(int(round(q1 / scale)), r0 + 1)
        try:
            part = raster.read(PixelWindow(0, r0, raster.width, r1 - r0), out_shape=(q1 - q0, width))
        except WindowReadError:
            continue
        if raw is None:
            raw = np.zeros((height, width, part.shape[2]), dtype=part.dtype)
            if raster.nodata is not None:
                raw[...] = raster.nodata
        raw[q0:q1] = part
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
