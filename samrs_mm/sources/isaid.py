"""iSAID reader: instances with ground-truth masks from iSAID's two PNGs per image.

For image ``P0005.png`` iSAID has

* ``P0005_instance_id_RGB.png``: instance id = ``R + 256 * G + 65536 * B``, 0 = background;
* ``P0005_instance_color_RGB.png``: the class colour of every pixel (iSAID palette, the same
  as mmseg's ``iSAIDDataset``).

Each instance gets its mask (COCO RLE on ``Instance.mask``), its class from the majority
colour of its pixels, ``hbox`` = the mask's extent in pixel edges (``x2 = last column + 1``,
like pycocotools' ``toBbox``) and ``rbox`` = the minimum-area rectangle around its pixel
squares (quad = its corners). This is the second ablation set with real masks.

The masks may sit beside the images (as in ``../shared/data/isaid``) or in their own folders
(iSAID's release keeps ``Instance_masks/`` and ``Semantic_masks/`` apart): pass ``id_dir`` /
``color_dir``.
"""
from __future__ import annotations

import os.path as osp
from collections import namedtuple
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..structures import boxes as G
from ..structures import rle as R
from ..structures.record import ImageRecord, Instance
from .base import DetectionSource, build_instance, read_split_file
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex, image_size
from .registry import register_source

ID_SUFFIX = '_instance_id_RGB'
COLOR_SUFFIX = '_instance_color_RGB'

# iSAID palette: RGB colour -> iSAID class name (its own spelling; mapped to SOTA by table).
ISAID_PALETTE: Dict[Tuple[int, int, int], str] = {
    (0, 0, 63): 'ship', (0, 63, 63): 'storage_tank', (0, 63, 0): 'baseball_diamond',
    (0, 63, 127): 'tennis_court', (0, 63, 191): 'basketball_court',
    (0, 63, 255): 'Ground_Track_Field', (0, 127, 63): 'Bridge', (0, 127, 127): 'Large_Vehicle',
    (0, 0, 127): 'Small_Vehicle', (0, 0, 191): 'Helicopter', (0, 0, 255): 'Swimming_pool',
    (0, 191, 127): 'Roundabout', (0, 127, 191): 'Soccer_ball_field', (0, 127, 255): 'plane',
    (0, 100, 155): 'Harbor',
}

_Item = namedtuple('_Item', 'stem image_path')


def _read_rgb(path: str, what: str, ann_path: str) -> np.ndarray:
    import cv2
    if not osp.isfile(path):
        raise AnnotationError(f'{what} not found', path, reason='missing-annotation')
    arr = cv2.imread(path, cv2.IMREAD_COLOR)
    if arr is None:
        raise AnnotationError(f'cannot decode {what}', path, reason='parse-error')
    return arr[..., ::-1]


def pixel_mask_rbox(mask: np.ndarray, offset=(0, 0)) -> np.ndarray:
    """Minimum-area rectangle (le90) around the pixel squares of a binary mask.

    ``offset`` = ``(x, y)`` of the mask's top-left pixel in the image.
    """
    import cv2
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    centres = np.concatenate([c.reshape(-1, 2) for c in contours], axis=0).astype(np.float64)
    # Outline pixels as their 4 corners, so the rectangle covers whole pixels.
    corners = (centres[:, None, :] + np.array([[0, 0], [1, 0], [0, 1], [1, 1]])).reshape(-1, 2)
    return G.points_to_rbox(corners + np.asarray(offset, dtype=np.float64))


@register_source('isaid')
class ISAIDSource(DetectionSource):
    """iSAID instance-PNG reader (``class_list`` defaults to ``'sota'``).

    Args:
        img_dir: folder of the RGB images (files ending in the mask suffixes are ignored).
        id_dir: folder of ``*_instance_id_RGB.png``; default ``img_dir``.
        color_dir: folder of ``*_instance_color_RGB.png``; default ``id_dir``.
        split_file: optional list of image stems.
        palette: colour -> iSAID class name; default :data:`ISAID_PALETTE`.
    """

    default_class_list = 'sota'

    def __init__(self, img_dir: str, id_dir: Optional[str] = None,
                 color_dir: Optional[str] = None, split_file: Optional[str] = None,
                 palette: Optional[Dict[Tuple[int, int, int], str]] = None, **kwargs):
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'iSAID image folder not found: {img_dir}')
        self.img_dir = img_dir
        self.id_dir = id_dir or img_dir
        self.color_dir = color_dir or self.id_dir
        self.split_file = split_file
        self.palette = {tuple(int(c) for c in k): v for k, v in (palette or ISAID_PALETTE).items()}
        super().__init__(**kwargs)

    def _index(self) -> List[_Item]:
        images = ImageIndex(self.img_dir)
        stems = sorted(s for s in images.stems()
                       if not s.endswith(ID_SUFFIX) and not s.endswith(COLOR_SUFFIX))
        if self.split_file:
            wanted = read_split_file(self.split_file)
            missing = [s for s in wanted if images.lookup(s) is None]
            if missing:
                raise FileNotFoundError(f'{self.split_file}: {len(missing)} listed images are not '
                                        f'in {self.img_dir}, e.g. {missing[:5]}')
            stems = wanted
        return [_Item(s, images.lookup(s)) for s in stems]

    def _item_paths(self, item: _Item):
        return item.image_path, self._id_path(item.stem)

    def _id_path(self, stem: str) -> str:
        return osp.join(self.id_dir, stem + ID_SUFFIX + '.png')

    def _read(self, item: _Item, stats: ReadStats) -> ImageRecord:
        id_path = self._id_path(item.stem)
        color_path = osp.join(self.color_dir, item.stem + COLOR_SUFFIX + '.png')
        width, height = image_size(item.image_path)
        id_rgb = _read_rgb(id_path, 'instance-id PNG', id_path)
        color = _read_rgb(color_path, 'instance-colour PNG', color_path)
        for arr, path in ((id_rgb, id_path), (color, color_path)):
            if arr.shape[:2] != (height, width):
                raise AnnotationError(f'mask is {arr.shape[1]}x{arr.shape[0]} but the image '
                                      f'{item.image_path} is {width}x{height}', path,
                                      reason='size-mismatch')
        # uint32 ids and work on labelled pixels only: full iSAID images are up to
        # 13,000 pixels a side, and objects cover a small part of them.
        ids = (id_rgb[..., 0].astype(np.uint32) | (id_rgb[..., 1].astype(np.uint32) << 8)
               | (id_rgb[..., 2].astype(np.uint32) << 16))
        del id_rgb
        ys, xs = np.nonzero(ids)
        values = ids[ys, xs]
        order = np.argsort(values, kind='stable')
        values, ys, xs = values[order], ys[order], xs[order]
        if len(values):
            starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
            x_lo, x_hi = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts) + 1
            y_lo, y_hi = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts) + 1
        else:
            starts = x_lo = x_hi = y_lo = y_hi = np.zeros(0, dtype=np.int64)
        instances: List[Instance] = []
        for k, first in enumerate(starts):
            inst_id = int(values[first])
            where = f'instance id {inst_id}'
            x0, x1, y0, y1 = int(x_lo[k]), int(x_hi[k]), int(y_lo[k]), int(y_hi[k])
            crop = ids[y0:y1, x0:x1] == inst_id
            try:
                class_name = self._instance_class(color[y0:y1, x0:x1][crop], color_path, where)
                class_index = self._class_index(class_name, color_path, where=where)
                instances.append(build_instance(
                    class_name, class_index, id_path, hbox=np.array([x0, y0, x1, y1], float),
                    rbox=pixel_mask_rbox(crop, (x0, y0)),
                    mask=R.encode_window(crop, y0, x0, height, width)[0], width=width, height=height,
                    where=where))
            except AnnotationError as exc:
                self._handle_object_error(exc, stats)
        self._empty_check(instances, len(starts), id_path)
        return ImageRecord(image_path=item.image_path, width=width, height=height,
                           instances=instances, source=self.name, ann_path=id_path)

    def _instance_class(self, pixels: np.ndarray, path: str, where: str) -> str:
        """Class name of the majority palette colour of an instance's pixels."""
        colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
        order = np.argsort(-counts, kind='stable')
        for i in order:
            key = tuple(int(c) for c in colours[i])
            if key == (0, 0, 0):
                continue  # background colour under an instance id: ignore those pixels
            if key not in self.palette:
                raise AnnotationError(f'colour {key} is not in the iSAID palette', path,
                                      reason='unknown-class', where=where,
                                      class_name=f'colour{key}')
            return self.palette[key]
        raise AnnotationError('instance has no class colour (all background)', path,
                              reason='malformed', where=where)
