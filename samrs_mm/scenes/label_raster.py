"""The scene's label raster, written tile by tile and finished as a Cloud-Optimized GeoTIFF.

:class:`LabelRasterWriter` takes uint8 tiles (class index, 255 = unlabeled) in any order and
writes them into a tiled, compressed GeoTIFF in the output folder's temporary space, in the
scene's grid and CRS (with the class palette as the band's colour table), so memory stays
at one tile whatever the scene's size. :meth:`~LabelRasterWriter.finish` turns it into a
Cloud-Optimized GeoTIFF with overviews (GDAL's COG driver through rasterio; nearest-neighbour
overviews, since values are classes) and moves it into place in one rename, so a reader never
sees half a file. GDAL's write errors for a full or read-only disk become
:class:`~samrs_mm.runs.StorageError` naming the file.
"""
from __future__ import annotations

import contextlib
import errno
import os
from typing import Optional, Sequence

import numpy as np

from ..fileio import temp_path
from ..runs import StorageError
from .raster import PixelWindow

__all__ = ['LabelRasterWriter', 'gdal_storage_error', 'tiles', 'BLOCK']

BLOCK = 512
_STORAGE_TEXTS = (('No space left', errno.ENOSPC), ('Read-only file system', errno.EROFS),
                  ('Permission denied', errno.EACCES), ('Disk quota exceeded', getattr(errno, 'EDQUOT', errno.ENOSPC)))


def gdal_storage_error(exc: BaseException, path: str) -> Optional[StorageError]:
    """A :class:`StorageError` for ``path`` when a GDAL / rasterio error says the disk refused a write."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        from ..runs import as_storage_error
        return as_storage_error(exc, path)
    text = str(exc)
    for needle, code in _STORAGE_TEXTS:
        if needle in text:
            return StorageError(path, code, os.strerror(code))
    return None


class LabelRasterWriter:
    """A uint8 label raster of ``width x height`` in the scene's grid (see the module docstring).

    Args:
        out_path: the finished COG (``semantic.tif``).
        tmp_dir: a folder on the same file system for the tiled GeoTIFF being written.
        crs, transform: the scene's (rasterio objects); ``crs`` None for a raster without one.
        palette: RGB per class index, kept as the band's colour table (255 stays black).
        ignore_index: the nodata value of the raster (unlabeled pixels).
    """

    def __init__(self, out_path: str, tmp_dir: str, width: int, height: int, crs=None, transform=None,
                 palette: Optional[Sequence[Sequence[int]]] = None, ignore_index: int = 255) -> None:
        import rasterio
        from rasterio.transform import Affine
        self.out_path = out_path
        self.tmp_dir = tmp_dir
        self.width, self.height = int(width), int(height)
        self.ignore_index = int(ignore_index)
        os.makedirs(tmp_dir, exist_ok=True)
        self.tiled_path = temp_path(out_path, tmp_dir) + '.tif'
        profile = dict(driver='GTiff', width=self.width, height=self.height, count=1, dtype='uint8',
                       nodata=self.ignore_index, transform=transform if transform is not None else Affine.identity(),
                       tiled=True, blockxsize=BLOCK, blockysize=BLOCK, compress='deflate', zlevel=1,
                       BIGTIFF='IF_SAFER')
        if crs is not None:
            profile['crs'] = crs
        try:
            self.dataset = rasterio.open(self.tiled_path, 'w', **profile)
            if palette is not None:
                colours = {i: tuple(int(v) for v in rgb) + (255,) for i, rgb in enumerate(palette)}
                colours[self.ignore_index] = (0, 0, 0, 0)
                self.dataset.write_colormap(1, colours)
        except Exception as exc:  # noqa: BLE001
            raise (gdal_storage_error(exc, out_path) or exc) from None

    def write(self, window: PixelWindow, label: np.ndarray) -> None:
        """Write the uint8 ``label`` (``window.height x window.width``) at ``window``."""
        from rasterio.windows import Window
        if label.shape != (window.height, window.width):
            raise ValueError(f'label of shape {label.shape} for window {window.describe()}')
        try:
            self.dataset.write(np.ascontiguousarray(label, dtype=np.uint8)[None], window=Window(*window))
        except Exception as exc:  # noqa: BLE001
            raise (gdal_storage_error(exc, self.out_path) or exc) from None

    def finish(self) -> None:
        """Close the tiled GeoTIFF, write the COG with overviews next to ``out_path``, move it into place."""
        import rasterio.shutil
        cog_tmp = temp_path(self.out_path, self.tmp_dir) + '.tif'
        try:
            self.dataset.close()
            rasterio.shutil.copy(self.tiled_path, cog_tmp, driver='COG', COMPRESS='DEFLATE', BLOCKSIZE=BLOCK,
                                 OVERVIEWS='AUTO', OVERVIEW_RESAMPLING='NEAREST', BIGTIFF='IF_SAFER')
            os.replace(cog_tmp, self.out_path)
        except Exception as exc:  # noqa: BLE001
            with contextlib.suppress(OSError):
                os.remove(cog_tmp)
            raise (gdal_storage_error(exc, self.out_path) or exc) from None
        finally:
            with contextlib.suppress(OSError):
                os.remove(self.tiled_path)

    def abort(self) -> None:
        """Drop the unfinished raster (a stopped run)."""
        with contextlib.suppress(Exception):
            self.dataset.close()
        with contextlib.suppress(OSError):
            os.remove(self.tiled_path)

    def __enter__(self) -> 'LabelRasterWriter':
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is not None:
            self.abort()


def tiles(width: int, height: int, size: int = 2 * BLOCK):
    """Row-major tiles of ``size`` (a multiple of the raster's blocks) covering the scene."""
    for y in range(0, height, size):
        for x in range(0, width, size):
            yield PixelWindow(x, y, min(size, width - x), min(size, height - y))

