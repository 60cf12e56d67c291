"""A scene raster read window by window, never whole: pixels, nodata, georeference, stretch.

:class:`SceneRaster` opens a GeoTIFF (any raster GDAL reads) once and hands out windows:

* :meth:`SceneRaster.read` returns the chosen bands of a window (``h x w x C``, the raster's
  dtype), optionally resampled to a smaller ``out_shape`` (GDAL's ``average``), and turns an
  unreadable block into a :class:`WindowReadError` that names the window, so the run goes on;
* :meth:`SceneRaster.valid` says which pixels hold data (not the nodata value in every band,
  finite), so nodata-only windows are skipped;
* :meth:`SceneRaster.rgb` makes the ``H x W x 3`` uint8 RGB the models take with the band
  choice and stretch of :func:`~samrs_mm.sources.image_io.load_image`. Two scopes:
  ``'window'`` stretches each window by its own percentiles (exactly what ``load_image``
  gives for the same pixels saved as a patch), ``'scene'`` by the scene's percentiles
  (:meth:`SceneRaster.scene_limits`, computed in one streamed pass), so windows agree with the
  scene held whole in memory.

A raster without a CRS is read all the same; :attr:`SceneRaster.georeferenced` is False and the
tools then write pixel coordinates, with a warning. GDAL's block cache is bounded by
:func:`gdal_env` so the cache, too, does not grow with the scene.
"""
from __future__ import annotations

import os.path as osp
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..sources.image_io import DEFAULT_STRETCH, stretch_with_limits, to_rgb8

__all__ = ['PixelWindow', 'SceneInputError', 'WindowReadError', 'SceneRaster', 'gdal_env', 'STRETCH_SCOPES',
           'percentile_from_histogram']

STRETCH_SCOPES = ('window', 'scene')
# GDAL block cache of the scene tools, in MB (GDAL's default is 5 % of the machine's memory).
GDAL_CACHE_MB = 64


class PixelWindow(NamedTuple):
    """A rectangle of scene pixels: columns ``x .. x + width``, rows ``y .. y + height``."""

    x: int
    y: int
    width: int
    height: int

    def describe(self) -> str:
        """``x=.. y=.. 512x512`` for messages."""
        return f'x={self.x} y={self.y} {self.width}x{self.height}'


class SceneInputError(ValueError):
    """An input of a scene tool that cannot be used (one line naming the file and the reason)."""


class WindowReadError(RuntimeError):
    """A window of the raster could not be read (a corrupt block); the message names it."""


def gdal_env(cache_mb: int = GDAL_CACHE_MB):
    """``rasterio.Env`` with a bounded GDAL block cache (the scene tools run inside it)."""
    import rasterio
    return rasterio.Env(GDAL_CACHEMAX=int(cache_mb))


def _percentile_positions(n: int, q: float) -> Tuple[int, int, float]:
    """numpy's 'linear' percentile of ``n`` sorted values: the two order statistics and the weight.

    The same float operations as ``numpy.percentile`` (numpy 2.2: the 'linear' virtual index
    ``(n - 1) * q``, ``_get_indexes``, ``_get_gamma``), so a percentile computed from a histogram
    equals numpy's on the whole array.
    """
    quantile = np.true_divide(q, 100)
    virtual = (n - 1) * quantile
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    if virtual < 0:
        return 0, 0, 0.0
    previous = np.floor(virtual)
    return int(previous), int(previous) + 1, float(virtual - previous)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between two order statistics (``_lerp``: from ``b`` when t >= 0.5)."""
    a, b, t = np.float64(a), np.float64(b), np.float64(t)
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def percentile_from_histogram(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Percentile ``q`` (numpy's 'linear' method) of a sample given as sorted ``values`` and their ``counts``."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    first, second, weight = _percentile_positions(n, q)
    a = values[int(np.searchsorted(cumulative, first, side='right'))]
    b = values[int(np.searchsorted(cumulative, second, side='right'))]
    return _lerp(float(a), float(b), weight)


class SceneRaster:
    """One raster opened for windowed reading (see the module docstring).

    Args:
        path: the raster file.
        bands: 1-based bands to use (as ``load_image``'s ``bands``); default: the first three,
            band 1 of a 2-band (grey + alpha) raster, or the only one.
        stretch: the percentiles ``(low, high)`` that map non-uint8 bands to 0 .. 255.
    """

    def __init__(self, path: str, bands: Optional[Sequence[int]] = None,
                 stretch: Tuple[float, float] = DEFAULT_STRETCH) -> None:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
        self.path = path
        if not osp.isfile(path):
            raise SceneInputError(f'{path}: raster file not found')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', NotGeoreferencedWarning)
                self.dataset = rasterio.open(path)
        except RasterioIOError as exc:
            raise SceneInputError(f'{path}: cannot open the raster ({exc})') from None
        ds = self.dataset
        self.width, self.height, self.count = int(ds.width), int(ds.height), int(ds.count)
        self.dtype = np.dtype(ds.dtypes[0])
        self.nodata = ds.nodata
        self.crs = ds.crs
        self.transform = ds.transform
        self.stretch = tuple(float(v) for v in stretch)
        if bands is not None:
            bad = [b for b in bands if not 1 <= int(b) <= self.count]
            if bad:
                raise SceneInputError(f'{path}: bands {list(bands)} out of range: the raster has {self.count} '
                                      f'band(s) (valid: 1 .. {self.count})')
            self.band_indexes: List[int] = [int(b) for b in bands]
        elif self.count == 2:
            self.band_indexes = [1]  # grey + alpha, as load_image reads it
        else:
            self.band_indexes = list(range(1, min(self.count, 3) + 1))

    # ---- georeference ---------------------------------------------------------------------
    @property
    def georeferenced(self) -> bool:
        """True when the raster has a CRS (outputs are then in map coordinates)."""
        return self.crs is not None

    @property
    def georef(self) -> Optional[dict]:
        """``crs`` (WKT), ``epsg`` and ``transform`` (6 numbers) as the annotate writers keep them; None without CRS."""
        if not self.georeferenced:
            return None
        return dict(crs=self.crs.to_wkt(), epsg=self.crs.to_epsg(),
                    transform=tuple(float(v) for v in tuple(self.transform)[:6]))

    def map_transform(self) -> Tuple[float, ...]:
        """Pixel (col, row) -> output coordinates: the raster's transform, or the identity without CRS."""
        if not self.georeferenced:
            return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        return tuple(float(v) for v in tuple(self.transform)[:6])

    # ---- pixels ---------------------------------------------------------------------------
    def read(self, window: PixelWindow, out_shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
        """The chosen bands of ``window`` as ``h x w x C`` (``out_shape`` = ``(h, w)`` resamples, GDAL's
        ``average``).

        Raises :class:`WindowReadError` naming the window when GDAL cannot read a block.
        """
        from rasterio.enums import Resampling
        from rasterio.errors import RasterioError
        from rasterio.windows import Window
        kwargs = {}
        if out_shape is not None and tuple(out_shape) != (window.height, window.width):
            kwargs = dict(out_shape=(len(self.band_indexes),) + tuple(int(v) for v in out_shape),
                          resampling=Resampling.average)
        try:
            data = self.dataset.read(self.band_indexes, window=Window(*window), **kwargs)
        except RasterioError as exc:
            cause = exc.__cause__ or exc  # rasterio's own message points at GDAL's error, its cause
            detail = ' '.join(str(cause).split()) or type(cause).__name__
            raise WindowReadError(f'{self.path}: cannot read window {window.describe()} ({detail})') from None
        return np.moveaxis(data, 0, -1)

    def valid(self, raw: np.ndarray) -> np.ndarray:
        """``h x w`` bool: pixels with data (not nodata in every band, and finite)."""
        ok = np.ones(raw.shape[:2], dtype=bool)
        if self.nodata is not None and not (isinstance(self.nodata, float) and np.isnan(self.nodata)):
            ok &= ~np.all(raw == self.nodata, axis=2)
        if raw.dtype.kind == 'f':
            ok &= np.all(np.isfinite(raw), axis=2)
        return ok

    def rgb(self, raw: np.ndarray, limits: Optional[Sequence[Tuple[float, float]]] = None) -> np.ndarray:
        """``H x W x 3`` uint8 RGB of a window read by :meth:`read`.

        Without ``limits`` each band is stretched by its own percentiles in this window (the
        ``'window'`` scope: what ``load_image`` gives for these pixels saved as a patch); with
        ``limits`` (one ``(lo, hi)`` per band, :meth:`scene_limits`) every window of the scene
        is stretched alike. uint8 rasters are used as they are either way.
        """
        if limits is None or raw.dtype == np.uint8:
            return to_rgb8(raw, self.stretch, nodata=self.nodata)
        valid = None
        if self.nodata is not None:
            valid = ~np.all(raw == self.nodata, axis=2)
        bands = [stretch_with_limits(raw[..., c], lo, hi, valid) for c, (lo, hi) in enumerate(limits)]
        return to_rgb8(np.stack(bands, axis=-1))

    def strips(self, rows: int = 256):
        """Full-width windows of ``rows`` rows, top to bottom (for streamed passes)."""
        for y in range(0, self.height, rows):
            yield PixelWindow(0, y, self.width, min(rows, self.height - y))

    def scene_limits(self, progress=None) -> Optional[List[Tuple[float, float]]]:
        """The stretch limits of the whole scene, one ``(lo, hi)`` per chosen band; None for uint8.

        Integer rasters of up to 16 bits: exact (a histogram per band, the percentiles equal
        ``numpy.percentile`` of the scene's valid pixels, as ``load_image`` computes them on the
        scene held whole). Other types: from a decimated read of at most 4096 x 4096 pixels
        (GDAL ``average``), an estimate. ``progress(n)`` is called with rows done.
        """
        if self.dtype == np.uint8:
            return None
        low, high = self.stretch
        if self.dtype.kind in 'iu' and self.dtype.itemsize <= 2:
            info = np.iinfo(self.dtype)
            counts = np.zeros((len(self.band_indexes), int(info.max) - int(info.min) + 1), dtype=np.int64)
            for window in self.strips():
                raw = self.read(window)
                ok = self.valid(raw) if self.nodata is not None else None
                for c in range(raw.shape[2]):
                    values = raw[..., c] if ok is None else raw[..., c][ok]
                    counts[c] += np.bincount((values.astype(np.int64) - int(info.min)).ravel(),
                                             minlength=counts.shape[1])
                if progress is not None:
                    progress(window.height)
            limits = []
            values = np.arange(int(info.min), int(info.max) + 1, dtype=np.float64)
            for c in range(counts.shape[0]):
                if counts[c].sum() == 0:
                    limits.append((0.0, 0.0))
                    continue
                nz = counts[c] > 0
                limits.append((percentile_from_histogram(values[nz], counts[c][nz], low),
                               percentile_from_histogram(values[nz], counts[c][nz], high)))
            return limits
        scale = max(self.width, self.height) / 4096.0
        shape = (max(1, int(round(self.height / max(scale, 1.0)))), max(1, int(round(self.width / max(scale, 1.0)))))
        raw = self.read(PixelWindow(0, 0, self.width, self.height), out_shape=shape)
        ok = self.valid(raw)
        limits = []
        for c in range(raw.shape[2]):
            band = raw[..., c].astype(np.float64)[ok]
            if band.size == 0:
                limits.append((0.0, 0.0))
                continue
            lo, hi = np.percentile(band, [low, high])
            limits.append((float(lo), float(hi)))
        if progress is not None:
            progress(self.height)
        return limits

    def close(self) -> None:
        """Close the dataset."""
        self.dataset.close()

    def __enter__(self) -> 'SceneRaster':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
