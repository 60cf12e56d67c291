"""Every reader on every real sample file of ../shared/data: exact counts, hand-checked values."""
import os.path as osp
from collections import Counter

import numpy as np
import pytest

from samrs_mm.sources import SOURCES, build_source, load_image
from samrs_mm.structures import boxes as G
from samrs_mm.structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES

DIOR_HBB = 'dior/Annotations/Horizontal Bounding Boxes'
DIOR_OBB = 'dior/Annotations/Oriented Bounding Boxes'


def test_registry_names():
    assert sorted(SOURCES) == ['coco', 'dior', 'dota', 'fair1m', 'hrsc', 'isaid', 'voc']
    with pytest.raises(KeyError, match='unknown source type'):
        build_source(type='nope')


def test_dota_p0706(shared_data):
    source = build_source(dict(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'),
                               class_list='sota'))
    assert len(source) == 1 and source.classes == SOTA_CLASSES
    rec = source[0]
    assert rec.image_path == osp.join(shared_data, 'dota/images/P0706.png')
    assert (rec.width, rec.height) == (1111, 1182)
    assert rec.meta == {'imagesource': 'GoogleEarth', 'gsd': 0.255589285596}
    assert len(rec.instances) == 536
    assert Counter((i.class_name, i.difficult) for i in rec.instances) == {
        ('ship', False): 525, ('ship', True): 6, ('harbor', False): 5}
    first = rec.instances[0]
    # Line 3: "1054 1028 1063 1011 1111 1040 1112 1062 ship 1": quad kept as given.
    np.testing.assert_array_equal(first.quad, [[1054, 1028], [1063, 1011], [1111, 1040], [1112, 1062]])
    # The hbox is the hull of all 4 points, not corners 1 and 3 (1054, 1028, 1111, 1040).
    np.testing.assert_array_equal(first.hbox, [1054, 1011, 1112, 1062])
    assert first.class_index == SOTA_CLASSES.index('ship') == 5
    assert first.difficult and first.origin.endswith('P0706.txt:3')
    np.testing.assert_allclose(first.rbox[:2], [1087.5, 1036.5])
    assert first.rbox[2] >= first.rbox[3]
    harbors = [i for i in rec.instances if i.class_name == 'harbor']
    assert all(i.class_index == SOTA_CLASSES.index('harbor') for i in harbors)
    assert source.stats.images == 1 and source.stats.instances == 536
    source[0]  # indexing again does not count twice
    assert source.stats.instances == 536


def test_dota_image_loads(shared_data):
    rec = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))[0]
    image = load_image(rec)
    assert image.shape == (1182, 1111, 3) and image.dtype == np.uint8


def test_dior_hbb(shared_data):
    source = build_source(type='dior', ann_dir=osp.join(shared_data, DIOR_HBB))
    assert source.classes == SIOR_CLASSES
    rec = source[0]
    assert rec.image_path == osp.join(shared_data, 'dior/JPEGImages/00001.jpg')
    assert (rec.width, rec.height) == (800, 800)
    (inst,) = rec.instances
    assert inst.class_name == 'golffield' and inst.class_index == 9
    np.testing.assert_array_equal(inst.hbox, [133, 237, 684, 672])
    assert inst.rbox is None and inst.quad is None  # horizontal-box source
    assert load_image(rec).shape == (800, 800, 3)


def test_dior_r_obb(shared_data):
    (inst,) = build_source(type='dior', ann_dir=osp.join(shared_data, DIOR_OBB))[0].instances
    np.testing.assert_array_equal(inst.quad, [[133, 237], [684, 237], [684, 672], [133, 672]])
    np.testing.assert_array_equal(inst.hbox, [133, 237, 684, 672])
    np.testing.assert_allclose(inst.rbox, [408.5, 454.5, 551, 435, 0], atol=1e-9)
    assert not inst.difficult


def test_dior_split_file(shared_data, tmp_path):
    split = tmp_path / 'train.txt'
    split.write_text('00001\n')
    source = build_source(type='dior', ann_dir=osp.join(shared_data, DIOR_HBB), split_file=str(split))
    assert len(source) == 1
    split.write_text('00001\n99999\n')
    with pytest.raises(FileNotFoundError, match='99999'):
        build_source(type='dior', ann_dir=osp.join(shared_data, DIOR_HBB), split_file=str(split))


def test_fair1m_format(shared_data):
    source = build_source(type='fair1m', ann_dir=osp.join(shared_data, 'fair1m_format_only/labelXml'),
                          check_images=False)
    assert source.classes == FAST_CLASSES
    rec = source[0]
    assert (rec.width, rec.height) == (2, 2)
    (inst,) = rec.instances
    assert inst.class_name == 'Liquid Cargo Ship'
    assert inst.class_index == FAST_CLASSES.index('Liquid-Cargo-Ship') == 22
    # 5 points, the last repeating the first: 4 corners kept.
    np.testing.assert_array_equal(inst.quad, [[0, 0], [1, 0], [1, 1], [0, 1]])
    np.testing.assert_array_equal(inst.hbox, [0, 0, 1, 1])


def test_hrsc(shared_data):
    source = build_source(type='hrsc', ann_dir=osp.join(shared_data, 'hrsc/Annotations'),
                          check_images=False)
    rec = source[0]
    assert (rec.width, rec.height) == (1172, 816)
    assert rec.image_path.endswith('100000006.bmp')
    (inst,) = rec.instances
    assert inst.class_name == 'ship' and inst.class_index == SOTA_CLASSES.index('ship')
    np.testing.assert_array_equal(inst.hbox, [119, 75, 587, 789])
    np.testing.assert_allclose(inst.rbox, [341.2143, 443.3325, 778.4297, 178.2595, -1.122944])
    assert inst.mask is None  # this image has no segmentation
    assert 'Class_ID=100000013' in inst.origin
    # The ship's bow (header_x/y = 143, 776) lies inside the rotated box: our angle
    # convention (clockwise on screen) agrees with HRSC's radians.
    cx, cy, w, h, t = inst.rbox
    local = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) @ (np.array([143, 776]) - [cx, cy])
    assert abs(local[0]) <= w / 2 and abs(local[1]) <= h / 2
    # The flipped convention would put the bow outside.
    flip = np.array([[np.cos(-t), np.sin(-t)], [-np.sin(-t), np.cos(-t)]]) @ (np.array([143, 776]) - [cx, cy])
    assert abs(flip[1]) > h / 2


def test_isaid_instances_with_masks(shared_data):
    source = build_source(type='isaid', img_dir=osp.join(shared_data, 'isaid/train'))
    assert len(source) == 1  # the two mask PNGs are not taken for images
    rec = source[0]
    assert (rec.width, rec.height) == (884, 977)
    assert len(rec.instances) == 131
    assert Counter(i.class_name for i in rec.instances) == {'Large_Vehicle': 99, 'Small_Vehicle': 32}
    assert {i.class_index for i in rec.instances} == {SOTA_CLASSES.index('large-vehicle'),
                                                      SOTA_CLASSES.index('small-vehicle')}
    masks = [i.decode_mask() for i in rec.instances]
    # Every labelled pixel belongs to exactly one instance.
    assert sum(int(m.sum()) for m in masks) == 155383
    first = rec.instances[0]  # lowest id: 4592855, 1000 pixels
    assert first.origin.endswith('#instance id 4592855')
    assert int(masks[0].sum()) == 1000
    np.testing.assert_array_equal(first.hbox, [404, 739, 466, 762])
    # hbox = mask extent in pixel edges; the rbox covers every mask pixel square.
    for inst, mask in zip(rec.instances, masks):
        ys, xs = np.nonzero(mask)
        np.testing.assert_array_equal(inst.hbox, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        cx, cy, w, h, t = inst.rbox
        pts = np.stack([xs + 0.5, ys + 0.5], -1) - [cx, cy]
        local = pts @ np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        assert np.all(np.abs(local[:, 0]) <= w / 2 + 1e-6) and np.all(np.abs(local[:, 1]) <= h / 2 + 1e-6)
        assert w * h <= (inst.hbox[2] - inst.hbox[0]) * (inst.hbox[3] - inst.hbox[1]) + 1e-6


def test_coco_spacenet_geotiff(shared_data):
    source = build_source(type='coco', ann_file=osp.join(shared_data, 'spacenet/coco_sample_2.json'))
    assert source.classes == ('1.0', '0.0')  # category names by id, as text
    rec = source[0]
    assert rec.image_path == osp.join(shared_data, 'spacenet/sample_geotiff.tif')
    assert (rec.width, rec.height) == (900, 900)
    assert len(rec.instances) == 43
    assert Counter(i.class_index for i in rec.instances) == {0: 6, 1: 37}
    sixth = rec.instances[5]  # annotation id 6
    assert sixth.origin.endswith('#annotation id=6')
    np.testing.assert_allclose(sixth.hbox, [69.54070870671421, 501.6971649955958,
                                            69.54070870671421 + 23.694147035479546,
                                            501.6971649955958 + 51.55246248934418])
    # Flat-list polygons become masks; rasterised area is close to the polygon area.
    first = rec.instances[0]
    assert first.mask['size'] == [900, 900]
    assert abs(int(first.decode_mask().sum()) - 608.388) < 0.1 * 608.388
    assert rec.georef['epsg'] == 32616
    assert rec.georef['transform'] == (0.5, 0.0, 733601.0, 0.0, -0.5, 3725139.0)
    image = load_image(rec)  # 1-band uint16 -> stretched 3-channel uint8
    assert image.shape == (900, 900, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])


def test_coco_class_list_and_map(shared_data):
    source = build_source(type='coco', ann_file=osp.join(shared_data, 'spacenet/coco_sample_2.json'),
                          class_list=('building',), class_map={'1.0': 'building', '0.0': 'building'})
    rec = source[0]
    assert len(rec.instances) == 43 and {i.class_index for i in rec.instances} == {0}


def test_voc_deepforest(shared_data):
    source = build_source(type='voc', ann_dir=osp.join(shared_data, 'deepforest'),
                          img_dir=osp.join(shared_data, 'deepforest'))
    assert source.classes == ('Tree',)  # scanned from the xml
    rec = source[0]
    # The xml names OSBS_029.tif; the image on disk is the .png of the same stem.
    assert rec.image_path == osp.join(shared_data, 'deepforest/OSBS_029.png')
    assert (rec.width, rec.height) == (400, 400)
    assert len(rec.instances) == 61
    np.testing.assert_array_equal(rec.instances[0].hbox, [203, 67, 227, 90])
    np.testing.assert_array_equal(rec.instances[-1].hbox, [220, 208, 251, 244])
    assert rec.instances[0].origin.endswith('OSBS_029.xml:16')
    assert all(i.class_index == 0 and not i.difficult for i in rec.instances)
    assert load_image(rec).shape == (400, 400, 3)


def test_records_agree_with_geometry_helpers(shared_data):
    rec = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))[0]
    quads = np.stack([i.quad for i in rec.instances])
    np.testing.assert_allclose(np.stack([i.hbox for i in rec.instances]), G.quad_to_hbox(quads))
    np.testing.assert_allclose(np.stack([i.rbox for i in rec.instances]), G.quad_to_rbox(quads))


def test_slicing_and_iteration(shared_data):
    source = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))
    assert [r.stem for r in source[:]] == ['P0706']
    assert [r.stem for r in source] == ['P0706']
    assert source[-1].stem == 'P0706'
    with pytest.raises(IndexError):
        source[1]
