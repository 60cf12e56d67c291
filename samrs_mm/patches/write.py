"""Writing one image's patches: images, DOTA label files, mask files and the manifest.

* ``images/<name><img_ext>`` and ``labelTxt/<name>.txt`` in DOTA format (SAMRS class
  names), readable by the DOTA reader and by mmrotate's ``DOTADataset``; patches without
  objects are not written unless ``keep_empty`` (then with an empty label file, as mmrotate
  writes it). The source's ``imagesource`` / ``gsd``
  header (``gsd / rate``) goes into ``label_meta/<name>.json`` beside the labels, which the
  DOTA reader reads as the file's header; with ``label_header=True`` it is written as the
  label file's first lines instead (mmrotate 1.x cannot parse those lines).
* ``masks/<name>.json`` for patches whose objects have ground-truth masks (written before
  the label): the masks as COCO RLE in the padded patch frame, keyed by the label file's
  line numbers; the DOTA reader attaches them again.
* ``split_manifest/<stem>.json`` last (settings, patches with their valid, unpadded size,
  object accounting): the record that marks the image finished for a rerun
  (:func:`finished_manifest`). Every file is written atomically.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..fileio import atomic_write, load_record
from ..sources.dota import dota_lines
from ..structures.record import ImageRecord
from .crop import Patch, PatchSettings, crop_patches, recorded_settings

__all__ = ['MANIFEST_DIR', 'MASK_DIR', 'LABEL_META_DIR', 'MASK_FILE_VERSION', 'patch_label_lines', 'patch_mask_file',
           'write_patches', 'finished_manifest']

MANIFEST_DIR = 'split_manifest'
MASK_DIR = 'masks'
LABEL_META_DIR = 'label_meta'
MASK_FILE_VERSION = 1


def patch_label_lines(patch: Patch, classes: Sequence[str],
                      header: Optional[Dict[str, Any]] = None) -> List[str]:
    """DOTA label lines of a patch, with SAMRS class names (whitespace-free by construction)."""
    names = [classes[inst.class_index] if 0 <= inst.class_index < len(classes)
             else inst.class_name.replace(' ', '-') for inst in patch.instances]
    difficult = [2 if trunc else int(inst.difficult)
                 for inst, trunc in zip(patch.instances, patch.truncated)]
    return dota_lines([inst.quad for inst in patch.instances], names, difficult, header)


def patch_mask_file(patch: Patch, n_lines: int) -> dict:
    """The ``masks/<name>.json`` content of a patch whose label file has ``n_lines`` lines.

    Object lines follow the header lines, so object ``i`` is on line
    ``n_lines - len(instances) + i + 1``; objects without a mask are left out.
    """
    first_line = n_lines - len(patch.instances) + 1
    masks = [dict(line=first_line + i, mask=inst.mask) for i, inst in enumerate(patch.instances)
             if inst.mask is not None]
    return dict(version=MASK_FILE_VERSION, label=patch.name + '.txt', masks=masks)


def _encode_image(image: np.ndarray, ext: str) -> bytes:
    import cv2
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OSError(f'OpenCV could not encode a {ext} image')
    return buf.tobytes()


def _label_header(record: ImageRecord, rate: float) -> Dict[str, Any]:
    header: Dict[str, Any] = {}
    if 'imagesource' in record.meta:
        header['imagesource'] = record.meta['imagesource']
    if 'gsd' in record.meta:
        gsd = record.meta['gsd']
        header['gsd'] = None if gsd is None else float(gsd) / rate
    return header


def _write_patch(patch: Patch, record: ImageRecord, out_dir: str, classes: Sequence[str],
                 settings: PatchSettings) -> None:
    """Image, mask file, label meta, then label (a patch counts as done only when its label exists)."""
    header = _label_header(record, patch.rate)
    lines = patch_label_lines(patch, classes, header if settings.label_header else None)
    atomic_write(osp.join(out_dir, 'images', patch.name + settings.img_ext),
                 _encode_image(patch.image, settings.img_ext))
    if header and not settings.label_header:
        atomic_write(osp.join(out_dir, LABEL_META_DIR, patch.name + '.json'), json.dumps(header).encode('utf-8'))
    if any(inst.mask is not None for inst in patch.instances):
        atomic_write(osp.join(out_dir, MASK_DIR, patch.name + '.json'),
                     json.dumps(patch_mask_file(patch, len(lines))).encode('utf-8'))
    # A patch without objects gets an empty file, as mmrotate's img_split writes it (its
    # DOTADataset takes every line, a blank one too, for an object).
    text = ''.join(line + '\n' for line in lines)
    atomic_write(osp.join(out_dir, 'labelTxt', patch.name + '.txt'), text.encode('utf-8'))


def write_patches(record: ImageRecord, image: np.ndarray, out_dir: str, classes: Sequence[str],
                  settings: PatchSettings) -> Dict[str, Any]:
    """Cut one image and write its patches, labels and manifest under ``out_dir``.

    Patches whose image and label already exist are not rewritten (resume after a kill).
    Returns the manifest dict.
    """
    for folder in ('images', 'labelTxt', MANIFEST_DIR):
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
    patches, accounting = crop_patches(record, image, settings)
    if any(inst.mask is not None for inst in record.instances):
        os.makedirs(osp.join(out_dir, MASK_DIR), exist_ok=True)
    entries, written, existing, empty = [], 0, 0, 0
    for patch in patches:
        if not patch.instances and not settings.keep_empty:
            empty += 1
            continue
        if (osp.isfile(osp.join(out_dir, 'images', patch.name + settings.img_ext))
                and osp.isfile(osp.join(out_dir, 'labelTxt', patch.name + '.txt'))):
            existing += 1
        else:
            _write_patch(patch, record, out_dir, classes, settings)
            written += 1
        entries.append(dict(name=patch.name, x=patch.x, y=patch.y, size=patch.image.shape[0], rate=patch.rate,
                            valid_width=patch.valid_width, valid_height=patch.valid_height,
                            objects=len(patch.instances)))
    manifest = dict(settings=settings.as_dict(), image=record.image_path, ann=record.ann_path,
                    width=record.width, height=record.height, patches=entries,
                    accounting=accounting, written=written, existing=existing, empty=empty)
    atomic_write(osp.join(out_dir, MANIFEST_DIR, record.stem + '.json'),
                 json.dumps(manifest, indent=1).encode('utf-8'))
    return manifest


def finished_manifest(out_dir: str, stem: str, settings: PatchSettings) -> Optional[dict]:
    """The manifest of an image finished earlier with the same settings, else None."""
    manifest = load_record(osp.join(out_dir, MANIFEST_DIR, stem + '.json'))
    if manifest is None or not isinstance(manifest.get('settings'), dict):
        return None
    return manifest if recorded_settings(manifest['settings']) == settings.as_dict() else None
