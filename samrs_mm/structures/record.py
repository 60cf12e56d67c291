"""The one record type every detection-annotation reader produces.

Conventions shared by all readers and consumers (annotate engine, writers, split):

* Coordinates are pixels in the image frame, x to the right, y down, float64.
* ``hbox`` is ``(x1, y1, x2, y2)``: the tight horizontal hull of the object.
* ``rbox`` is ``(cx, cy, w, h, theta)``: ``theta`` in radians is the angle from the
  image x-axis to the box's width side, positive clockwise on screen (y points down),
  normalised to ``[-pi/2, pi/2)`` (mmrotate's ``le90``).
* ``quad`` is the ``(4, 2)`` array of corner points as the source gave them (DOTA's
  quadrilateral kept as is) or derived from the rotated box.
* ``mask`` is an optional ground-truth mask as a COCO RLE dict in the image frame
  (compact; decode with :meth:`Instance.decode_mask`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np


@dataclass
class Instance:
    """One annotated object of an image."""

    class_name: str
    hbox: np.ndarray
    class_index: int = -1
    rbox: Optional[np.ndarray] = None
    quad: Optional[np.ndarray] = None
    difficult: bool = False
    mask: Optional[Dict[str, Any]] = None
    # Where the object came from, for error messages: "file:line" or "file#object".
    origin: str = ''

    def decode_mask(self) -> Optional[np.ndarray]:
        """Return the ground-truth mask as an ``(H, W)`` bool array, or None."""
        if self.mask is None:
            return None
        from .rle import decode
        return decode(self.mask)


@dataclass
class ImageRecord:
    """One image with its instances, as read from a detection dataset."""

    image_path: str
    width: int
    height: int
    instances: List[Instance] = field(default_factory=list)
    # Name of the reader that produced it ('dota', 'dior', 'fair1m', 'hrsc', 'isaid', ...).
    source: str = ''
    # Annotation file the instances came from (for error messages and provenance).
    ann_path: str = ''
    # Georeference of GeoTIFF inputs ({'crs': ..., 'transform': ...}); None otherwise.
    georef: Optional[Dict[str, Any]] = None
    # Source-specific extras: DOTA header ('imagesource', 'gsd'), patch origin of split
    # images ('patch': {...}), lenient-mode 'skip_reason' / 'error' of an unusable image, ...
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """File name of the image without directory and extension."""
        import os.path as osp
        return osp.splitext(osp.basename(self.image_path))[0]
