"""The COCO json of a work dir's images, streamed from their instance files."""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
from typing import Any, Dict, Iterable, Optional, Sequence

from ...fileio import atomic_open, temp_path
from ...structures.mask_quality import QUALITY_FIELDS
from .writer import TMP_DIR_NAME, AtomicFiles, read_instances

__all__ = ['merge_annotations']

EXTRA_FIELDS = QUALITY_FIELDS + ('qc_reasons',)


def merge_annotations(work_dir: str, stems: Iterable[str], classes: Sequence[str], out_path: str,
                      files: Optional[AtomicFiles] = None, description: str = 'samrs_mm SAM labels') -> Dict[str, Any]:
    """Write the COCO json of the images ``stems`` (in that order) from their instance files.

    Image ids count from 1 in the given order, annotation ids from 1 in image then object
    order; category ids are ``class index + 1`` in class-list order. Objects whose mask is
    empty are left out (COCO tools drop zero-area annotations anyway); their count is
    returned. The file is written in one streaming pass, so memory stays flat.
    Returns ``dict(images=..., annotations=..., empty_masks=..., class_counts=...)``.
    """
    files = files or AtomicFiles(osp.join(work_dir, TMP_DIR_NAME, f'pid{os.getpid()}'))
    name_to_id = {name: i + 1 for i, name in enumerate(classes)}
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    ann_tmp = temp_path(out_path + '.annotations', files.tmp_dir)
    n_images = n_anns = n_empty = 0
    class_counts = {name: 0 for name in classes}
    compact = dict(separators=(',', ':'), ensure_ascii=False)
    # Images and annotations are two lists of one json object: stream each into its own
    # file in a single pass over the instance files, then join them.
    with atomic_open(out_path, 'w', files.tmp_dir, encoding='utf-8') as f, \
            open(ann_tmp, 'w+', encoding='utf-8') as fa:
        f.write('{"info":' + json.dumps(dict(description=description, version='1.0'), **compact))
        f.write(',"licenses":[]')
        f.write(',"categories":' + json.dumps(categories, **compact))
        f.write(',"images":[')
        for image_id, stem in enumerate(stems, start=1):
            data = read_instances(osp.join(work_dir, 'instances', stem + '.json'))
            image = data['image']
            entry = dict(id=image_id, file_name=image['file_name'], width=image['width'], height=image['height'])
            f.write((',' if image_id > 1 else '') + json.dumps(entry, **compact))
            n_images += 1
            for obj in data['objects']:
                if obj['area'] == 0:
                    n_empty += 1
                    continue
                if obj['class_name'] not in name_to_id:
                    raise ValueError(f'{stem}: class {obj["class_name"]!r} is not in the class list')
                n_anns += 1
                class_counts[obj['class_name']] += 1
                # An object label QC kept but marked ``ignore`` is a crowd region: mmdet's COCO
                # datasets keep it as an ignored box instead of training on it.
                ann = dict(id=n_anns, image_id=image_id, category_id=name_to_id[obj['class_name']],
                           segmentation=obj['segmentation'], area=obj['area'], bbox=obj['bbox'],
                           iscrowd=int(bool(obj.get('ignore'))), score=obj['score'], hbox=obj['hbox'],
                           rbox=obj['rbox'], prompt=obj['prompt'])
                # The quality signals where the instance file has them (files of format 1 do not),
                # and label QC's reasons in its filtered copies.
                ann.update({key: obj[key] for key in EXTRA_FIELDS if key in obj})
                fa.write((',' if n_anns > 1 else '') + json.dumps(ann, **compact))
        f.write('],"annotations":[')
        fa.seek(0)
        shutil.copyfileobj(fa, f)
        f.write(']}\n')
    os.remove(ann_tmp)
    return dict(images=n_images, annotations=n_anns, empty_masks=n_empty, class_counts=class_counts)
