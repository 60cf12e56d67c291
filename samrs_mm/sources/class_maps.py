"""Explicit tables from each source dataset's class names to the SAMRS class lists.

SOTA is built from DOTA-v2.0, SIOR from DIOR and FAST from FAIR1M-2.0 (see
:mod:`samrs_mm.structures.classes`). The tables list every name each dataset spells in its
annotation files, so a typo in a label file is an error, not a silent new class.

Lookup order of :class:`ClassMapper` for a source name:

1. the explicit table of the reader (``SOURCE_TO_SAMRS[(source, list_name)]``) plus any
   user ``class_map`` given to the reader (user entries win);
2. the name itself, when it is already in the target list (so patches written with SAMRS
   names read back unchanged);
3. the same two lookups ignoring case, spaces, ``-`` and ``_`` (``'Small Car'`` ==
   ``'small-car'``), which only ever matches one target because the SAMRS lists are unique
   under that folding (tested).

Anything else is unknown.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

from ..structures.classes import SAMRS_CLASS_LISTS

# DOTA v1.0 (15), v1.5 (+container-crane), v2.0 (+airport, helipad): SOTA uses DOTA's spelling.
DOTA_V1_CLASSES = (
    'plane', 'ship', 'storage-tank', 'baseball-diamond', 'tennis-court', 'basketball-court',
    'ground-track-field', 'harbor', 'bridge', 'large-vehicle', 'small-vehicle', 'helicopter',
    'roundabout', 'soccer-ball-field', 'swimming-pool')
DOTA_V15_CLASSES = DOTA_V1_CLASSES + ('container-crane',)
DOTA_V2_CLASSES = DOTA_V15_CLASSES + ('airport', 'helipad')
DOTA_TO_SOTA: Dict[str, str] = {name: name for name in DOTA_V2_CLASSES}

# iSAID's own names (its json categories / palette order), which mix case and underscores.
# 'store_tank' is how mmseg's iSAIDDataset spells storage tank.
ISAID_TO_SOTA: Dict[str, str] = {
    'ship': 'ship', 'storage_tank': 'storage-tank', 'store_tank': 'storage-tank',
    'baseball_diamond': 'baseball-diamond', 'tennis_court': 'tennis-court',
    'basketball_court': 'basketball-court', 'Ground_Track_Field': 'ground-track-field',
    'Bridge': 'bridge', 'Large_Vehicle': 'large-vehicle', 'Small_Vehicle': 'small-vehicle',
    'Helicopter': 'helicopter', 'Swimming_pool': 'swimming-pool', 'Roundabout': 'roundabout',
    'Soccer_ball_field': 'soccer-ball-field', 'plane': 'plane', 'Harbor': 'harbor',
}

# DIOR / DIOR-R xml names: mostly lower case, two mixed-case exceptions.
DIOR_TO_SIOR: Dict[str, str] = {
    'airplane': 'airplane', 'airport': 'airport', 'baseballfield': 'baseballfield',
    'basketballcourt': 'basketballcourt', 'bridge': 'bridge', 'chimney': 'chimney',
    'dam': 'dam', 'Expressway-Service-area': 'expressway-service-area',
    'Expressway-toll-station': 'expressway-toll-station', 'golffield': 'golffield',
    'groundtrackfield': 'groundtrackfield', 'harbor': 'harbor', 'overpass': 'overpass',
    'ship': 'ship', 'stadium': 'stadium', 'storagetank': 'storagetank',
    'tenniscourt': 'tenniscourt', 'trainstation': 'trainstation', 'vehicle': 'vehicle',
    'windmill': 'windmill',
}

# FAIR1M 1.0 / 2.0 ``possibleresult/name`` values (spaces in multi-word names).
FAIR1M_TO_FAST: Dict[str, str] = {
    'A220': 'A220', 'A321': 'A321', 'A330': 'A330', 'A350': 'A350', 'ARJ21': 'ARJ21',
    'Boeing737': 'Boeing737', 'Boeing747': 'Boeing747', 'Boeing777': 'Boeing777',
    'Boeing787': 'Boeing787', 'C919': 'C919', 'other-airplane': 'other-airplane',
    'Passenger Ship': 'Passenger-Ship', 'Motorboat': 'Motorboat', 'Fishing Boat': 'Fishing-Boat',
    'Tugboat': 'Tugboat', 'Engineering Ship': 'Engineering-Ship',
    'Liquid Cargo Ship': 'Liquid-Cargo-Ship', 'Dry Cargo Ship': 'Dry-Cargo-Ship',
    'Warship': 'Warship', 'other-ship': 'other-ship', 'Small Car': 'Small-Car', 'Bus': 'Bus',
    'Cargo Truck': 'Cargo-Truck', 'Dump Truck': 'Dump-Truck', 'Van': 'Van',
    'Trailer': 'Trailer', 'Tractor': 'Tractor', 'Excavator': 'Excavator',
    'Truck Tractor': 'Truck-Tractor', 'other-vehicle': 'other-vehicle',
    'Basketball Court': 'Basketball-Court', 'Tennis Court': 'Tennis-Court',
    'Football Field': 'Football-Field', 'Baseball Field': 'Baseball-Field',
    'Intersection': 'Intersection', 'Roundabout': 'Roundabout', 'Bridge': 'Bridge',
}

# HRSC2016 is a ship dataset; every object is a 'ship' at level 1 of its class hierarchy.
HRSC_TO_SOTA: Dict[str, str] = {'ship': 'ship'}

# (reader name, SAMRS list name) -> table.
SOURCE_TO_SAMRS: Dict[Tuple[str, str], Dict[str, str]] = {
    ('dota', 'sota'): DOTA_TO_SOTA,
    ('isaid', 'sota'): ISAID_TO_SOTA,
    ('dior', 'sior'): DIOR_TO_SIOR,
    ('fair1m', 'fast'): FAIR1M_TO_FAST,
    ('hrsc', 'sota'): HRSC_TO_SOTA,
}

ClassListArg = Union[None, str, Sequence[str]]


def fold_name(name: str) -> str:
    """Case- and separator-insensitive key: ``'Small Car'``, ``'small-car'`` -> ``'smallcar'``."""
    return ''.join(ch for ch in name.lower() if ch not in ' -_')


def resolve_class_list(class_list: ClassListArg) -> Tuple[Optional[str], Optional[Tuple[str, ...]]]:
    """Turn a reader's ``class_list`` argument into ``(list_name, classes)``.

    ``'sota'`` / ``'sior'`` / ``'fast'`` (any case) name a SAMRS list; a sequence of names
    is a user list (``list_name`` None); None stays None (the reader decides).
    """
    if class_list is None:
        return None, None
    if isinstance(class_list, str):
        key = class_list.lower()
        if key not in SAMRS_CLASS_LISTS:
            raise ValueError(f'unknown class list {class_list!r}; use one of '
                             f'{sorted(SAMRS_CLASS_LISTS)} or a sequence of class names')
        return key, tuple(SAMRS_CLASS_LISTS[key])
    classes = tuple(str(c) for c in class_list)
    if not classes:
        raise ValueError('class_list must not be empty')
    if len(set(classes)) != len(classes):
        raise ValueError(f'class_list has duplicate names: {classes}')
    return None, classes


class ClassMapper:
    """Maps a source dataset's class names to indices of one class list.

    Args:
        classes: target class names in label order.
        table: source name -> target name (the explicit table of the reader).
        class_map: user additions / overrides of ``table``.
    """

    def __init__(self, classes: Sequence[str], table: Optional[Mapping[str, str]] = None,
                 class_map: Optional[Mapping[str, str]] = None):
        self.classes = tuple(classes)
        self._index = {name: i for i, name in enumerate(self.classes)}
        self._table = dict(table or {})
        self._table.update(class_map or {})
        for src, dst in self._table.items():
            if dst not in self._index:
                raise ValueError(f'class map sends {src!r} to {dst!r}, which is not in the '
                                 f'class list {self.classes}')
        self._folded_targets = {fold_name(n): n for n in self.classes}
        self._folded_table = {fold_name(k): v for k, v in self._table.items()}

    def target_name(self, name: str) -> Optional[str]:
        """Name in the target list that ``name`` maps to, or None if unknown."""
        if name in self._table:
            return self._table[name]
        if name in self._index:
            return name
        key = fold_name(name)
        return self._folded_table.get(key) or self._folded_targets.get(key)

    def index(self, name: str) -> Optional[int]:
        """Index of ``name`` in the target list, or None if unknown."""
        target = self.target_name(name)
        return None if target is None else self._index[target]

    def __repr__(self) -> str:
        return f'ClassMapper({len(self.classes)} classes, {len(self._table)} table entries)'


def build_class_mapper(source: str, class_list: ClassListArg, default: ClassListArg,
                       class_map: Optional[Mapping[str, str]] = None) -> ClassMapper:
    """Mapper for reader ``source``: ``class_list`` (or the reader's ``default``) plus its table."""
    list_name, classes = resolve_class_list(class_list if class_list is not None else default)
    if classes is None:
        raise ValueError(f'reader {source!r} needs a class_list')
    table = SOURCE_TO_SAMRS.get((source, list_name), {}) if list_name else {}
    return ClassMapper(classes, table, class_map)
