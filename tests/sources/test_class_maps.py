"""The explicit class tables: complete, onto the SAMRS lists, and the mapper's lookup rules."""
import pytest

from samrs_mm.sources.class_maps import (
    DIOR_TO_SIOR,
    DOTA_TO_SOTA,
    DOTA_V1_CLASSES,
    DOTA_V2_CLASSES,
    DOTA_V15_CLASSES,
    FAIR1M_TO_FAST,
    ISAID_TO_SOTA,
    SOURCE_TO_SAMRS,
    ClassMapper,
    build_class_mapper,
    fold_name,
    resolve_class_list,
)
from samrs_mm.structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES


def test_dota_versions():
    assert len(DOTA_V1_CLASSES) == 15 and len(DOTA_V15_CLASSES) == 16 and len(DOTA_V2_CLASSES) == 18
    # SOTA is exactly DOTA-v2.0's classes, in the SAMRS order (not mmrotate's).
    assert set(DOTA_TO_SOTA.values()) == set(SOTA_CLASSES)
    assert SOTA_CLASSES[0] == 'large-vehicle' and SOTA_CLASSES[-1] == 'helipad'


def test_tables_cover_their_lists():
    assert set(DIOR_TO_SIOR.values()) == set(SIOR_CLASSES) and len(DIOR_TO_SIOR) == 20
    assert set(FAIR1M_TO_FAST.values()) == set(FAST_CLASSES) and len(FAIR1M_TO_FAST) == 37
    # iSAID has DOTA-v1's 15 classes ('store_tank' is a second spelling of storage tank).
    assert set(ISAID_TO_SOTA.values()) == set(DOTA_V1_CLASSES)
    for (_, list_name), table in SOURCE_TO_SAMRS.items():
        target = {'sota': SOTA_CLASSES, 'sior': SIOR_CLASSES, 'fast': FAST_CLASSES}[list_name]
        assert set(table.values()) <= set(target)


@pytest.mark.parametrize('source,name,expected', [
    ('dior', 'Expressway-Service-area', 'expressway-service-area'),
    ('dior', 'Expressway-toll-station', 'expressway-toll-station'),
    ('dior', 'golffield', 'golffield'),
    ('fair1m', 'Boeing737', 'Boeing737'),
    ('fair1m', 'Dry Cargo Ship', 'Dry-Cargo-Ship'),
    ('fair1m', 'other-airplane', 'other-airplane'),
    ('fair1m', 'Small Car', 'Small-Car'),
    ('fair1m', 'Truck Tractor', 'Truck-Tractor'),
    ('isaid', 'Large_Vehicle', 'large-vehicle'),
    ('isaid', 'Ground_Track_Field', 'ground-track-field'),
    ('isaid', 'store_tank', 'storage-tank'),
    ('dota', 'container-crane', 'container-crane'),
    ('hrsc', 'ship', 'ship'),
])
def test_named_examples(source, name, expected):
    list_name = {'dior': 'sior', 'fair1m': 'fast'}.get(source, 'sota')
    mapper = build_class_mapper(source, list_name, None)
    assert mapper.target_name(name) == expected
    assert mapper.index(name) == mapper.classes.index(expected)


def test_samrs_lists_unique_under_folding():
    for classes in (SOTA_CLASSES, SIOR_CLASSES, FAST_CLASSES):
        assert len({fold_name(c) for c in classes}) == len(classes)


def test_lookup_order_and_unknowns():
    mapper = build_class_mapper('fair1m', 'fast', None)
    assert mapper.index('Small-Car') == FAST_CLASSES.index('Small-Car')  # target name itself
    assert mapper.index('small car') == FAST_CLASSES.index('Small-Car')  # folded
    assert mapper.index('Spaceship') is None
    sota = build_class_mapper('dota', 'sota', None)
    assert sota.index('Plane') == SOTA_CLASSES.index('plane')
    assert sota.index('plain') is None


def test_user_lists_and_maps():
    mapper = ClassMapper(('tree', 'shrub'), None, {'Tree': 'tree'})
    assert mapper.index('Tree') == 0 and mapper.index('shrub') == 1
    with pytest.raises(ValueError, match="sends 'x' to 'y'"):
        ClassMapper(('a',), None, {'x': 'y'})
    assert resolve_class_list('SOTA') == ('sota', SOTA_CLASSES)
    assert resolve_class_list(['a', 'b']) == (None, ('a', 'b'))
    with pytest.raises(ValueError, match='unknown class list'):
        resolve_class_list('dotav2')
    with pytest.raises(ValueError, match='duplicate'):
        resolve_class_list(['a', 'a'])
