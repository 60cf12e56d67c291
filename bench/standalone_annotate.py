"""Import ``samrs_mm.annotate`` engine modules without OpenMMLab (for bench scripts).

``import samrs_mm`` runs the package ``__init__``, which imports mmcv / mmseg / mmdet to
register models and datasets. The labelling engine itself needs only torch, numpy,
pycocotools and segment_anything, so benchmark scripts (and the GPU check, which runs on a
machine without the repository's venv) load it this way instead: empty package modules
stand in for ``samrs_mm``, ``samrs_mm.sources`` and ``samrs_mm.annotate`` (their
``__init__`` files are not run), and the engine's own files are imported from the
repository by their normal names. Inside a process that already imported ``samrs_mm`` the
real package is used.
"""
from __future__ import annotations

import importlib
import os.path as osp
import sys
import types

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_annotate(module: str = 'engine'):
    """Return ``samrs_mm.annotate.<module>``, importing it without the package ``__init__`` files."""
    if 'samrs_mm' not in sys.modules:
        for name, sub in (('samrs_mm', ''), ('samrs_mm.sources', 'sources'), ('samrs_mm.annotate', 'annotate')):
            pkg = types.ModuleType(name)
            pkg.__path__ = [osp.join(REPO_ROOT, 'samrs_mm', sub) if sub else osp.join(REPO_ROOT, 'samrs_mm')]
            pkg.__package__ = name
            sys.modules[name] = pkg
    return importlib.import_module(f'samrs_mm.annotate.{module}')


def read_rgb(path: str):
    """An image file as ``H x W x 3`` uint8 RGB, with OpenCV or, where it is missing, Pillow."""
    import numpy as np
    try:
        import cv2
    except ImportError:
        from PIL import Image
        with Image.open(path) as img:
            return np.asarray(img.convert('RGB'))
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f'cannot read image {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
