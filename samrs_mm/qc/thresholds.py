"""The QC rules: which signal value flags an object, and why (the one home of the defaults).

Every rule compares one signal with one threshold; an object is flagged when any rule fires,
and the names of the rules that fired are its *reasons* (``box_filled`` is left out when
``leak`` fired: a leak's box fill passes 1 for that reason). A rule whose signal is missing (no
stability stored by an old run, no rotated box) is not applied to that object. The reasoning
behind each default is in docs/label_qc.md.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, List, Optional

from ..structures.mask_quality import BOX_MARGIN, MIN_BOX_MARGIN

__all__ = ['DEFAULT_THRESHOLDS', 'RULES', 'REASONS', 'SIGNALS', 'load_thresholds', 'check_thresholds',
           'flag_reasons', 'ThresholdError']

# Signals in CSV column order: SAM's predicted IoU, then the quality fields.
SIGNALS = ('score', 'stability', 'outside_box', 'box_fill', 'rbox_iou', 'parts')

DEFAULT_THRESHOLDS: Dict[str, float] = dict(
    min_score=0.5,          # SAM's own predicted IoU: below 0.5 SAM expects to miss half the object
    min_stability=0.8,      # logits +/-1 change the mask by more than 20%: the boundary is a guess
    max_outside_box=0.2,    # over a fifth of the mask beyond the (enlarged) prompt box: a leak
    min_box_fill=0.1,       # under a tenth of the box covered: a sliver of the object
    max_box_fill=0.99,      # the whole box covered, corners included: SAM returned the box itself
    min_rbox_iou=0.5,       # the mask's rotated rectangle and the rotated prompt disagree in shape
    max_parts=3,            # more than 3 separate pieces: a shattered mask
    box_margin=BOX_MARGIN,  # enlargement of the box for outside_box (fraction of each side) ...
    min_box_margin=MIN_BOX_MARGIN,  # ... and at least this many pixels
)

# rule name (the reason written for a flagged object) -> (signal, comparison, threshold key)
RULES = {
    'low_score': ('score', '<', 'min_score'),
    'unstable': ('stability', '<', 'min_stability'),
    'leak': ('outside_box', '>', 'max_outside_box'),
    'sliver': ('box_fill', '<', 'min_box_fill'),
    'box_filled': ('box_fill', '>', 'max_box_fill'),
    'rbox_mismatch': ('rbox_iou', '<', 'min_rbox_iou'),
    'shattered': ('parts', '>', 'max_parts'),
}
REASONS = tuple(RULES)


class ThresholdError(ValueError):
    """A bad thresholds file or key; the message names the file and the valid keys."""


def check_thresholds(values: dict, where: str = 'thresholds') -> Dict[str, float]:
    """The defaults updated with ``values``; unknown keys and non-numbers are refused (one line)."""
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in values.items():
        if key not in DEFAULT_THRESHOLDS:
            raise ThresholdError(f'{where}: unknown threshold {key!r}; valid keys: {", ".join(DEFAULT_THRESHOLDS)}')
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ThresholdError(f'{where}: threshold {key!r} must be a number or None (rule off), got {value!r}')
        out[key] = value
    return out


def load_thresholds(path: Optional[str]) -> Dict[str, float]:
    """Thresholds from a ``.json`` object or a ``.py`` file of assignments (mmengine config)
    over the defaults; None -> the defaults. A value of None switches its rule off."""
    if path is None:
        return dict(DEFAULT_THRESHOLDS)
    if not osp.isfile(path):
        raise ThresholdError(f'{path}: thresholds file not found')
    if path.endswith('.json'):
        try:
            with open(path, encoding='utf-8') as f:
                values = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ThresholdError(f'{path}: cannot read thresholds json ({exc})') from None
        if not isinstance(values, dict):
            raise ThresholdError(f'{path}: expected a json object of thresholds')
    elif path.endswith('.py'):
        from mmengine.config import Config
        try:
            values = Config.fromfile(path).to_dict()
        except Exception as exc:  # mmengine raises anything a broken python file raises
            raise ThresholdError(f'{path}: cannot read thresholds file ({type(exc).__name__}: {exc})') from None
        values = dict(values.get('thresholds', values))
    else:
        raise ThresholdError(f'{path}: a thresholds file is .json or .py')
    return check_thresholds(values, path)


def flag_reasons(signals: dict, thresholds: dict) -> List[str]:
    """Names of the rules (:data:`RULES` order) that flag an object with these signal values."""
    reasons: List[str] = []
    for name, (signal, op, key) in RULES.items():
        if name == 'box_filled' and 'leak' in reasons:
            continue  # a leaking mask's fill passes 1 because of the leak, not because SAM returned the box
        value, limit = signals.get(signal), thresholds.get(key)
        if value is None or limit is None:
            continue
        if (value < limit) if op == '<' else (value > limit):
            reasons.append(name)
    return reasons
