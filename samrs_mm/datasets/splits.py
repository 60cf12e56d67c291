"""The paper's deterministic 95% / 5% train / validation split of each SAMRS subset."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from samrs_mm.fileio import atomic_open

# Paper Sec. 4.1 / Table 9: 5% of every subset validates (88,685 train / 4,667 val).
DEFAULT_VAL_RATIO = 0.05


def split_names(names: Sequence[str], val_ratio: float = DEFAULT_VAL_RATIO,
                seed: int = 0) -> Tuple[List[str], List[str]]:
    """Split image names into (train, val), both sorted; ``floor(len * val_ratio)`` validate.

    The result depends only on the set of names, the ratio and the seed (names are sorted
    before the seeded permutation), so it is reproducible on any machine.
    """
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError(f'val_ratio must be in [0, 1), got {val_ratio}')
    unique = sorted(set(names))
    if len(unique) != len(names):
        raise ValueError(f'{len(names) - len(unique)} duplicated image names in the split input')
    num_val = int(len(unique) * val_ratio)
    order = np.random.default_rng(seed).permutation(len(unique))
    val = sorted(unique[i] for i in order[:num_val])
    train = sorted(unique[i] for i in order[num_val:])
    return train, val


def list_label_names(subset_dir: str, label_dir: str = 'semantic',
                     annotations: Optional[str] = None) -> List[str]:
    """Image names (no extension) of a subset: from a COCO json if given, else label PNGs."""
    if annotations is not None:
        path = annotations if osp.isabs(annotations) else osp.join(subset_dir, annotations)
        try:
            with open(path) as f:
                images = json.load(f)['images']
        except (OSError, json.JSONDecodeError, KeyError) as error:
            raise ValueError(f'{path}: cannot read the "images" of a COCO json ({error})') from None
        return [osp.splitext(osp.basename(image['file_name']))[0] for image in images]
    folder = osp.join(subset_dir, label_dir)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'label folder {folder} not found')
    return [osp.splitext(name)[0] for name in os.listdir(folder) if name.endswith('.png')]


def write_name_list(path: str, names: Sequence[str]) -> None:
    """Write one name per line, atomically (a crash never leaves half a list)."""
    with atomic_open(path, 'w') as f:
        f.write(''.join(f'{name}\n' for name in names))
