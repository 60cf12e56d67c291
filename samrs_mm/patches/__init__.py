"""samrs_mm.patches: cutting large images into fixed-size, overlapping patches (a stage of its own).

* :mod:`.windows`: window starts, image windows and patch names (``<stem>__<size>__<x>___<y>``);
* :mod:`.cut`: how an object cut by a patch border is written (the cut rules);
* :mod:`.crop`: one image into patches with their objects, no I/O (:func:`crop_patches`);
* :mod:`.write`: one image's patch files and manifest (:func:`write_patches`);
* :mod:`.run`: a whole source dataset, parallel and resumable (:func:`crop_dataset`,
  the engine of ``tools/split_images.py``).
"""
from .crop import PRESETS, RATE_MODES, Patch, PatchSettings, crop_patches
from .cut import CUT_RULES, cut_object
from .run import CropSummary, crop_dataset
from .windows import WINDOW_RULES, parse_patch_name, patch_name, patch_windows, window_starts
from .write import finished_manifest, write_patches

__all__ = ['PRESETS', 'RATE_MODES', 'CUT_RULES', 'WINDOW_RULES', 'Patch', 'PatchSettings', 'crop_patches',
           'cut_object', 'CropSummary', 'crop_dataset', 'parse_patch_name', 'patch_name', 'patch_windows',
           'window_starts', 'finished_manifest', 'write_patches']
