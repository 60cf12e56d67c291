"""The SAMRS class lists, in label order (SAMRS paper, Appendix A.1; official release order).

A semantic label PNG stores the index of a class in its subset's list (255 = not covered
by any mask). These tuples are the single source of truth for that order: readers map
source class names onto them, datasets use them as ``METAINFO['classes']``.
"""
from typing import Dict, List, Tuple, Union

# DOTA-v2.0 -> SOTA. NOT mmrotate's DOTAv2 order.
SOTA_CLASSES: Tuple[str, ...] = (
    'large-vehicle', 'swimming-pool', 'helicopter', 'bridge', 'plane', 'ship',
    'soccer-ball-field', 'basketball-court', 'ground-track-field', 'small-vehicle',
    'baseball-diamond', 'tennis-court', 'roundabout', 'storage-tank', 'harbor',
    'container-crane', 'airport', 'helipad')

# DIOR -> SIOR.
SIOR_CLASSES: Tuple[str, ...] = (
    'airplane', 'airport', 'baseballfield', 'basketballcourt', 'bridge', 'chimney',
    'expressway-service-area', 'expressway-toll-station', 'dam', 'golffield',
    'groundtrackfield', 'harbor', 'overpass', 'ship', 'stadium', 'storagetank',
    'tenniscourt', 'trainstation', 'vehicle', 'windmill')

# FAIR1M-2.0 -> FAST.
FAST_CLASSES: Tuple[str, ...] = (
    'A220', 'A321', 'A330', 'A350', 'ARJ21', 'Baseball-Field', 'Basketball-Court',
    'Boeing737', 'Boeing747', 'Boeing777', 'Boeing787', 'Bridge', 'Bus', 'C919',
    'Cargo-Truck', 'Dry-Cargo-Ship', 'Dump-Truck', 'Engineering-Ship', 'Excavator',
    'Fishing-Boat', 'Football-Field', 'Intersection', 'Liquid-Cargo-Ship', 'Motorboat',
    'other-airplane', 'other-ship', 'other-vehicle', 'Passenger-Ship', 'Roundabout',
    'Small-Car', 'Tennis-Court', 'Tractor', 'Trailer', 'Truck-Tractor', 'Tugboat', 'Van',
    'Warship')

SAMRS_CLASS_LISTS: Dict[str, Tuple[str, ...]] = {
    'sota': SOTA_CLASSES,
    'sior': SIOR_CLASSES,
    'fast': FAST_CLASSES,
}

# Value of label pixels that no mask covers; ignored by losses and metrics.
IGNORE_INDEX = 255


def class_list_from_text(text: str) -> Union[str, List[str]]:
    """A class list written on a command line: a SAMRS list name or class names.

    ``'sota'`` / ``'sior'`` / ``'fast'`` (any case) name a SAMRS list and are returned
    lower-cased; text with a comma is a list of names (``'ship,plane'``; ``'ship,'`` is the
    one-class list ``['ship']``). Any other single word raises a ValueError saying both
    forms, so a misspelt list name is never taken for a one-class list.
    """
    value = str(text).strip()
    if value.lower() in SAMRS_CLASS_LISTS:
        return value.lower()
    if ',' in value:
        names = [name.strip() for name in value.split(',') if name.strip()]
        if not names:
            raise ValueError(f'{text!r} holds no class name')
        if len(set(names)) != len(names):
            raise ValueError(f'{text!r} names a class twice')
        return names
    raise ValueError(f'{text!r} is not a class list name ({", ".join(sorted(SAMRS_CLASS_LISTS))}) nor a '
                     f'comma-separated list of class names (one class: {value + ","!r})')
