"""Image reading for every stage: ``load_image`` is the one way to get pixels of a record.

Whatever OpenCV or Pillow decode (PNG, JPEG, BMP, TIFF, ...) is supported, plus GeoTIFF
through rasterio when it is installed (optional dependency). SAM needs 8-bit RGB, so:

* 8-bit images are used as they are (grey replicated to 3 channels, alpha dropped, BGR
  turned into RGB);
* anything else (16-bit, float, or any raster read through rasterio that is not uint8) is
  converted per band by a **percentile stretch**: the ``low`` and ``high`` percentiles
  (default 2 and 98) of the band's valid pixels (finite and not the raster's nodata value)
  map linearly to 0 and 255, values outside are clipped. A band whose two percentiles are
  equal becomes 0. 1-band rasters are replicated to 3 channels; for more than 3 bands the
  first three are used unless ``bands`` picks others (1-based, like rasterio).

GeoTIFF georeference is read by :func:`read_georef` (CRS as WKT plus EPSG code when known,
the 6 affine coefficients ``a, b, c, d, e, f`` of the pixel-to-map transform, so
``x_map = a * col + b * row + c`` and ``y_map = d * col + e * row + f``) and kept on
``ImageRecord.georef``, so writers can emit labels in the same frame.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import ImageReadError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.jp2', '.webp')
GEOTIFF_EXTENSIONS = ('.tif', '.tiff')
DEFAULT_STRETCH = (2.0, 98.0)


def _rasterio():
    """The rasterio module, or None when the optional dependency is missing."""
    try:
        import rasterio  # noqa: F401
        from rasterio.errors import NotGeoreferencedWarning  # noqa: F401
        return rasterio
    except ImportError:
        return None


def _is_geotiff_path(path: str) -> bool:
    return osp.splitext(path)[1].lower() in GEOTIFF_EXTENSIONS


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image from its header, without decoding the pixels."""
    if not osp.isfile(path):
        raise ImageReadError('image file not found', path, reason='missing-image')
    from PIL import Image
    try:
        with Image.open(path) as img:
            return int(img.width), int(img.height)
    except Exception as pil_exc:  # Pillow cannot read some GeoTIFF layouts; rasterio can.
        rio = _rasterio()
        if rio is not None and _is_geotiff_path(path):
            try:
                with rio.open(path) as ds:
                    return int(ds.width), int(ds.height)
            except Exception:
                pass
        raise ImageReadError(f'cannot read image header ({type(pil_exc).__name__}: {pil_exc})',
                             path, reason='unreadable-image') from None


def read_georef(path: str) -> Optional[dict]:
    """Georeference of a GeoTIFF (``crs``, ``epsg``, ``transform``), or None if it has none.

    None as well when rasterio is not installed or the file is not a TIFF.
    """
    rio = _rasterio()
    if rio is None or not _is_geotiff_path(path) or not osp.isfile(path):
        return None
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', rio.errors.NotGeoreferencedWarning)
            with rio.open(path) as ds:
                if ds.crs is None and ds.transform.is_identity:
                    return None
                crs = ds.crs
                return dict(
                    crs=crs.to_wkt() if crs is not None else None,
                    epsg=crs.to_epsg() if crs is not None else None,
                    transform=tuple(float(v) for v in tuple(ds.transform)[:6]),
                    width=int(ds.width), height=int(ds.height))
    except Exception as exc:
        raise ImageReadError(f'cannot read GeoTIFF header ({exc})', path,
                             reason='unreadable-image') from None


def percentile_stretch(band: np.ndarray, low: float = DEFAULT_STRETCH[0],
                       high: float = DEFAULT_STRETCH[1],
                       valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Map one band to uint8: percentile ``low`` -> 0, ``high`` -> 255, clipped.

    ``valid`` (bool, same shape) excludes nodata pixels from the percentiles; they become 0.
    """
    band = np.asarray(band, dtype=np.float64)
    ok = np.isfinite(band) if valid is None else (valid & np.isfinite(band))
    if not ok.any():
        return np.zeros(band.shape, dtype=np.uint8)
    lo, hi = np.percentile(band[ok], [low, high])
    return stretch_with_limits(band, lo, hi, ok)


def stretch_with_limits(band: np.ndarray, lo: float, hi: float, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Map one band to uint8 with given limits: ``lo`` -> 0, ``hi`` -> 255, rounded and clipped.

    The second half of :func:`percentile_stretch`, for limits known beforehand (a scene read
    window by window stretches every window with the scene's limits). Pixels outside ``valid``
    and non-finite ones become 0, as does the whole band when ``hi <= lo``.
    """
    band = np.asarray(band, dtype=np.float64)
    ok = np.isfinite(band) if valid is None else (valid & np.isfinite(band))
    out = np.zeros(band.shape, dtype=np.uint8)
    if hi <= lo or not ok.any():
        return out
    scaled = (band - lo) * (255.0 / (hi - lo))
    out[ok] = np.clip(np.round(scaled[ok]), 0, 255).astype(np.uint8)
    return out


def to_rgb8(array: np.ndarray, stretch: Tuple[float, float] = DEFAULT_STRETCH,
            bands: Optional[Sequence[int]] = None, nodata=None,
            force_stretch: bool = False) -> np.ndarray:
    """``HxW`` or ``HxWxC`` array (channels already RGB-ordered) -> ``HxWx3`` uint8 RGB.

    uint8 input is passed through unless ``force_stretch``; other dtypes are
    percentile-stretched per band (see module docstring).
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] == 0:
        raise ValueError(f'expected an HxW or HxWxC image, got shape {arr.shape}')
    if bands is not None:
        idx = [int(b) - 1 for b in bands]
        if any(i < 0 or i >= arr.shape[2] for i in idx):
            raise ValueError(f'bands {tuple(bands)} out of range for {arr.shape[2]} bands')
        arr = arr[..., idx]
    elif arr.shape[2] == 2:  # grey + alpha
        arr = arr[..., :1]
    elif arr.shape[2] > 3:
        arr = arr[..., :3]
    if arr.dtype != np.uint8 or force_stretch:
        valid = None
        if nodata is not None:
            valid = ~np.all(arr == nodata, axis=2)
        arr = np.stack([percentile_stretch(arr[..., c], stretch[0], stretch[1], valid)
                        for c in range(arr.shape[2])], axis=-1)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _read_with_rasterio(path: str, rio, stretch, bands) -> np.ndarray:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', rio.errors.NotGeoreferencedWarning)
        with rio.open(path) as ds:
            data = ds.read()  # (C, H, W)
            nodata = ds.nodata
    hwc = np.moveaxis(data, 0, -1)
    # rasterio data is never "display ready" unless uint8; stretch everything else.
    return to_rgb8(hwc, stretch, bands, nodata=nodata)


def _read_with_opencv(path: str, stretch, bands) -> Optional[np.ndarray]:
    import cv2
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[2] >= 3:
        # OpenCV returns BGR(A); turn into RGB(A) before band selection.
        order = [2, 1, 0] + list(range(3, arr.shape[2]))
        arr = arr[..., order]
    return to_rgb8(arr, stretch, bands)


def _read_with_pillow(path: str, stretch, bands) -> Optional[np.ndarray]:
    from PIL import Image
    try:
        with Image.open(path) as img:
            if img.mode in ('P', 'PA', 'CMYK', 'YCbCr', 'LAB', 'HSV'):
                img = img.convert('RGB')
            arr = np.array(img)
    except Exception:
        return None
    return to_rgb8(arr, stretch, bands)


def load_image(record_or_path, stretch: Tuple[float, float] = DEFAULT_STRETCH,
               bands: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read an image as ``HxWx3`` uint8 RGB; the one function every stage uses to get pixels.

    ``record_or_path`` is an :class:`~samrs_mm.structures.record.ImageRecord` or a path. With a
    record, the decoded size is checked against ``record.width`` / ``record.height`` so an
    annotation that belongs to another image is caught here. Missing or undecodable files
    raise :class:`ImageReadError` naming the file.
    """
    record = None
    if isinstance(record_or_path, (str, os.PathLike)):
        path = os.fspath(record_or_path)
    else:
        record = record_or_path
        path = record.image_path
    if not osp.isfile(path):
        raise ImageReadError('image file not found', path, reason='missing-image')
    image = None
    rio = _rasterio()
    try:
        if rio is not None and _is_geotiff_path(path):
            try:
                image = _read_with_rasterio(path, rio, stretch, bands)
            except rio.errors.RasterioIOError:
                image = None
        if image is None:
            image = _read_with_opencv(path, stretch, bands)
        if image is None:
            image = _read_with_pillow(path, stretch, bands)
    except ValueError as exc:
        raise ImageReadError(str(exc), path, reason='unreadable-image') from None
    if image is None:
        raise ImageReadError('cannot decode image (corrupt or unsupported format)', path,
                             reason='unreadable-image')
    if record is not None and record.width and record.height:
        h, w = image.shape[:2]
        if (w, h) != (record.width, record.height):
            where = f' (annotation {record.ann_path})' if record.ann_path else ''
            raise ImageReadError(
                f'image is {w}x{h} but its annotation says {record.width}x{record.height}{where}',
                path, reason='size-mismatch')
    return image


class ImageIndex:
    """Maps image stems to files of one or more folders, built with one scan per folder.

    Looking up ``stem.<ext>`` with ``os.path.isfile`` for every extension of every image
    costs one ``stat`` each; on 10^5-image folders a single ``scandir`` is much cheaper.
    With several folders (DIOR keeps trainval and test images apart) the first folder that
    has a stem wins; within a folder the extension order of ``exts`` decides.
    """

    def __init__(self, img_dir: Union[None, str, Sequence[str]],
                 exts: Sequence[str] = IMAGE_EXTENSIONS):
        if img_dir is None:
            self.img_dirs: List[str] = []
        elif isinstance(img_dir, (str, os.PathLike)):
            self.img_dirs = [os.fspath(img_dir)]
        else:
            self.img_dirs = [os.fspath(d) for d in img_dir]
        self._by_stem: Dict[str, str] = {}
        self._by_name: Dict[str, str] = {}
        rank = {ext: i for i, ext in enumerate(exts)}
        for folder in self.img_dirs:
            if not osp.isdir(folder):
                raise FileNotFoundError(f'image folder not found: {folder}')
            by_stem: Dict[str, str] = {}
            with os.scandir(folder) as entries:
                for entry in entries:
                    stem, ext = osp.splitext(entry.name)
                    if ext.lower() not in rank or not entry.is_file():
                        continue
                    self._by_name.setdefault(entry.name, entry.path)
                    best = by_stem.get(stem)
                    if best is None or rank[ext.lower()] < rank[osp.splitext(best)[1].lower()]:
                        by_stem[stem] = entry.path
            for stem, path in by_stem.items():
                self._by_stem.setdefault(stem, path)

    def lookup(self, stem: str, file_name: Optional[str] = None) -> Optional[str]:
        """Path for an exact ``file_name`` when it exists, else for ``stem`` with any extension."""
        if file_name and file_name in self._by_name:
            return self._by_name[file_name]
        return self._by_stem.get(stem)

    def expected_path(self, stem: str, file_name: Optional[str] = None) -> str:
        """Where the image would be, for messages when it is missing."""
        folder = self.img_dirs[0] if self.img_dirs else ''
        return osp.join(folder, file_name or stem + '.*')

    def stems(self) -> List[str]:
        """All image stems found."""
        return list(self._by_stem)

    def __len__(self) -> int:
        return len(self._by_stem)
