"""A fake annotate output from iSAID's ground-truth masks, with planted defects of each kind.

The real image ``../shared/data/isaid/train/P0005.png`` and its 131 ground-truth masks stand
in for SAM's masks (prompts = boxes of the ground truth, as the iSAID reader derives them).
Fixed objects get a defect planted in their mask (:data:`DEFECTS`): QC must flag exactly
those with the right reason and leave the real masks alone. Written with the annotate tool's
own :class:`~samrs_mm.annotate.outputs.LabelWriter`, so the layout is the real one.
"""
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np

# defect kind -> the reason QC must give it
DEFECTS = {'leak': 'leak', 'sliver': 'sliver', 'shattered': 'shattered', 'box_filling': 'box_filled',
           'unstable': 'unstable', 'low_score': 'low_score'}
PER_KIND = 4
SCORE = 0.92


def _plant(kind: str, mask: np.ndarray, hbox) -> np.ndarray:
    """The defective version of a ground-truth mask."""
    import cv2
    x1, y1, x2, y2 = (int(round(v)) for v in hbox)
    out = mask.copy()
    if kind == 'leak':  # the mask spills into the background around the object
        r = max(x2 - x1, y2 - y1) // 2 + 3
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        out = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    elif kind == 'sliver':  # a thin band across the object is all SAM kept
        rows = max(1, int(round(0.05 * (y2 - y1))))
        mid = (y1 + y2) // 2
        out[:] = False
        out[mid:mid + rows] = mask[mid:mid + rows]
    elif kind == 'shattered':  # the mask falls apart in pieces
        out[::3, :] = False
        out[:, ::3] = False
    elif kind == 'box_filling':  # SAM returned the prompt box itself
        out[:] = False
        out[y1:y2, x1:x2] = True
    return out


def _logits(mask: np.ndarray, scale: float) -> np.ndarray:
    """Signed distance to the mask's edge times ``scale`` (positive inside), as stand-in logits."""
    import cv2
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    return (np.where(mask, inside, -outside) * scale).astype(np.float32)


def write_isaid_work_dir(shared_data: str, root: str, store_signals: bool, subset: str = 'sota'):
    """Write ``<root>/<subset>`` (annotate layout); returns ``(work_dir, planted {object id: kind})``.

    ``store_signals``: write the quality fields into the objects, as runs that record them do
    (stability from stand-in logits: sharp edges for real masks, blurred for ``unstable``).
    """
    from samrs_mm.annotate.outputs import LabelWriter, merge_annotations
    from samrs_mm.sources import build_source
    from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
    from samrs_mm.structures.mask_quality import prompt_agreement, stability_score
    from samrs_mm.structures.rle import decode, encode_window

    record = next(iter(build_source(dict(type='isaid', img_dir=osp.join(shared_data, 'isaid', 'train')))))
    classes = SAMRS_CLASS_LISTS[subset]
    work_dir = osp.join(root, subset)
    height, width = record.height, record.width
    # The defects go to fixed objects: every 5th of those with at least 300 pixels, in id order.
    large = [k for k, inst in enumerate(record.instances) if int(decode(inst.mask).sum()) >= 300]
    kinds = [kind for kind in DEFECTS for _ in range(PER_KIND)]
    planted = dict(zip(large[::5], kinds))
    assert len(planted) == len(kinds), 'not enough large objects for the planted defects'
    masks, extra = [], []
    for k, inst in enumerate(record.instances):
        mask = decode(inst.mask)
        kind = planted.get(k)
        if kind is not None:
            mask = _plant(kind, mask, inst.hbox)
        rle, area, bbox = encode_window(mask, 0, 0, height, width)
        score = 0.3 if kind == 'low_score' else SCORE
        masks.append(SimpleNamespace(rle=rle, area=area, bbox=bbox, score=score, prompt='hbox'))
        if store_signals:
            x, y, w, h = (int(v) for v in bbox)
            pad = 4  # stand-in logits on a padded window (the engine's are 256 x 256 for the image)
            y0, x0 = max(y - pad, 0), max(x - pad, 0)
            window = mask[y0:y + h + pad, x0:x + w + pad]
            signals = dict(stability=float(stability_score(_logits(window, 0.1 if kind == 'unstable' else 4.0))))
            signals.update(prompt_agreement(window, inst.hbox, inst.rbox, offset=(x0, y0)))
            extra.append(signals)
    writer = LabelWriter(work_dir, classes, copy_images='symlink', color=False)
    writer.write(record, masks, fingerprint='qc-test')
    names = [record.stem]
    if store_signals:  # what a run that records the quality fields writes into each object
        path = writer.instances_path(record.stem)
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        for obj, signals in zip(data['objects'], extra):
            obj.update(signals)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(data, f)
    merge_annotations(work_dir, names, classes, osp.join(work_dir, 'annotations.json'))
    for split in ('train.txt', 'val.txt'):
        with open(osp.join(work_dir, split), 'w') as f:
            f.write('\n'.join(names) + '\n')
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(classes=list(classes), writer=dict(overlap='small_on_top')), f)
    return work_dir, planted
