"""One test per bad-input case: a clear error naming file and line, or a counted lenient skip."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from samrs_mm.sources import AnnotationError, ImageReadError, build_source, load_image

GOOD = '10 10 50 10 50 30 10 30 ship 0'


def make_dota(tmp_path, lines, stem='img', size=(100, 80), image=True):
    """A one-image DOTA folder: labelTxt/<stem>.txt and images/<stem>.png (w x h = size)."""
    ann_dir, img_dir = tmp_path / 'labelTxt', tmp_path / 'images'
    ann_dir.mkdir(exist_ok=True)
    img_dir.mkdir(exist_ok=True)
    (ann_dir / f'{stem}.txt').write_text('\n'.join(lines) + ('\n' if lines else ''))
    if image:
        cv2.imwrite(str(img_dir / f'{stem}.png'), np.zeros((size[1], size[0], 3), np.uint8))
    return str(ann_dir)


def read_error(ann_dir, **kwargs):
    with pytest.raises(AnnotationError) as info:
        build_source(type='dota', ann_dir=ann_dir, **kwargs)[0]
    return info.value


@pytest.mark.parametrize('line,reason,text', [
    ('10 10 50 10 50 30 10 30', 'malformed', '9 or 10 fields'),
    ('10 10 50 10 50 30 10 30 ship 0 extra', 'malformed', '9 or 10 fields'),
    ('10 10 50 10 50 30 10 30 ship hard', 'malformed', 'difficult flag'),
    ('10 10 5O 10 50 30 10 30 ship 0', 'non-numeric', "coordinate #3: '5O'"),
    ('10 10 10 10 10 10 10 10 ship 0', 'degenerate', 'zero-area'),
    ('10 10 50 10 50 10 10 10 ship 0', 'degenerate', 'zero-area'),
    ('10 10 nan 10 50 30 10 30 ship 0', 'degenerate', 'NaN'),
    ('10 10 inf 10 50 30 10 30 ship 0', 'degenerate', 'NaN or infinite'),
    ('200 10 250 10 250 30 200 30 ship 0', 'outside-image', 'outside the 100x80 image'),
    ('10 -50 50 -50 50 -20 10 -20 ship 0', 'outside-image', 'outside'),
    ('10 10 50 10 50 30 10 30 spaceship 0', 'unknown-class', "unknown class 'spaceship'"),
])
def test_dota_bad_line_names_file_and_line(tmp_path, line, reason, text):
    ann_dir = make_dota(tmp_path, ['gsd:0.5', GOOD, line])
    err = read_error(ann_dir)
    assert err.reason == reason
    assert err.line == 3 and err.path == osp.join(ann_dir, 'img.txt')
    assert str(err).startswith(f'{osp.join(ann_dir, "img.txt")}:3: ')
    assert text in str(err)


def test_partly_outside_is_kept(tmp_path):
    # DOTA labels routinely run past the border (P0706 has x = 1112 in a 1111-wide image).
    ann_dir = make_dota(tmp_path, ['90 10 110 10 110 30 90 30 ship 0'])
    (inst,) = build_source(type='dota', ann_dir=ann_dir)[0].instances
    np.testing.assert_array_equal(inst.hbox, [90, 10, 110, 30])


def test_empty_annotation_file(tmp_path):
    ann_dir = make_dota(tmp_path, [])
    err = read_error(ann_dir)
    assert err.reason == 'empty' and 'allow_empty=True' in str(err)
    header_only = make_dota(tmp_path, ['imagesource:x', 'gsd:null'], stem='hdr')
    rec = build_source(type='dota', ann_dir=header_only, allow_empty=True)[0]
    assert rec.instances == [] and rec.meta == {'imagesource': 'x', 'gsd': None}


def test_missing_image(tmp_path):
    ann_dir = make_dota(tmp_path, [GOOD], image=False)
    err = read_error(ann_dir)
    assert err.reason == 'missing-image' and err.path.endswith('img.txt')
    assert 'images' in str(err)
    # check_images=False reads the labels anyway (size unknown: 0 x 0).
    rec = build_source(type='dota', ann_dir=ann_dir, check_images=False)[0]
    assert len(rec.instances) == 1 and (rec.width, rec.height) == (0, 0)


def test_unreadable_image(tmp_path):
    ann_dir = make_dota(tmp_path, [GOOD])
    (tmp_path / 'images' / 'img.png').write_bytes(b'not a png at all')
    with pytest.raises(ImageReadError) as info:
        build_source(type='dota', ann_dir=ann_dir)[0]
    assert info.value.reason == 'unreadable-image' and info.value.path.endswith('img.png')
    with pytest.raises(ImageReadError, match='cannot decode image'):
        load_image(str(tmp_path / 'images' / 'img.png'))
    with pytest.raises(ImageReadError, match='image file not found'):
        load_image(str(tmp_path / 'images' / 'nope.png'))


def test_image_size_mismatch_caught_by_load_image(tmp_path):
    ann_dir = make_dota(tmp_path, [GOOD])
    rec = build_source(type='dota', ann_dir=ann_dir)[0]
    rec.width = 99
    with pytest.raises(ImageReadError, match='image is 100x80 but its annotation says 99x80'):
        load_image(rec)


def test_skip_unknown_counts(tmp_path):
    ann_dir = make_dota(tmp_path, [GOOD, GOOD.replace('ship', 'ufo'), GOOD.replace('ship', 'ufo'),
                                   GOOD.replace('ship', 'blimp')])
    source = build_source(type='dota', ann_dir=ann_dir, skip_unknown=True)
    assert len(source[0].instances) == 1
    assert source.stats.unknown_classes == {'ufo': 2, 'blimp': 1}
    assert source.stats.skipped_instances == {'unknown-class': 3}
    assert "'ufo'x2" in source.summary()
    # skip_unknown does not hide other errors.
    bad = make_dota(tmp_path, [GOOD, '1 2 3 ship'], stem='bad')
    with pytest.raises(AnnotationError, match='bad.txt:2'):
        build_source(type='dota', ann_dir=bad, skip_unknown=True)[0]  # 'bad' sorts first


def test_lenient_counts_every_reason(tmp_path):
    lines = [GOOD, '1 2 3', '10 10 x 10 50 30 10 30 ship 0', '5 5 5 5 5 5 5 5 ship 0',
             '500 500 600 500 600 600 500 600 ship 0', GOOD.replace('ship', 'ufo'), GOOD]
    ann_dir = make_dota(tmp_path, lines)
    source = build_source(type='dota', ann_dir=ann_dir, lenient=True)
    rec = source[0]
    assert len(rec.instances) == 2
    assert source.stats.skipped_instances == {'malformed': 1, 'non-numeric': 1, 'degenerate': 1,
                                              'outside-image': 1, 'unknown-class': 1}
    summary = source.summary()
    assert 'read 1 images, 2 instances' in summary
    assert f'{osp.join(ann_dir, "img.txt")}:3: non-numeric coordinate #3' in summary


def test_lenient_skips_unusable_images(tmp_path):
    make_dota(tmp_path, [GOOD], stem='a')
    make_dota(tmp_path, [GOOD], stem='b', image=False)
    ann_dir = make_dota(tmp_path, [], stem='c')
    source = build_source(type='dota', ann_dir=ann_dir, lenient=True)
    records = list(source)
    assert [r.meta.get('skip_reason') for r in records] == [None, 'missing-image', 'empty']
    assert [r.stem for r in source.records()] == ['a']
    assert source.stats.skipped_images == {'missing-image': 1, 'empty': 1}
    assert source.stats.images == 1


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


VOC_HEAD = '<annotation>\n<filename>a.png</filename>\n<size><width>100</width><height>80</height></size>\n'


def test_malformed_xml_names_line(tmp_path):
    write(tmp_path / 'ann' / 'a.xml', VOC_HEAD + '<object><name>tree</name>\n<bndbox></object>\n')
    with pytest.raises(AnnotationError) as info:
        build_source(type='voc', ann_dir=str(tmp_path / 'ann'), class_list=['tree'],
                     check_images=False)[0]
    assert info.value.reason == 'parse-error' and info.value.line == 5
    assert 'malformed XML: mismatched tag' in str(info.value)


def test_voc_bad_fields_name_element_line(tmp_path):
    write(tmp_path / 'ann' / 'a.xml', VOC_HEAD + '<object><name>tree</name>\n<bndbox>\n'
          '<xmin>1</xmin><ymin>2</ymin>\n<xmax>ten</xmax><ymax>9</ymax></bndbox></object>\n'
          '<object><name>tree</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>9</xmax>'
          '</bndbox></object>\n</annotation>')
    src = dict(type='voc', ann_dir=str(tmp_path / 'ann'), class_list=['tree'], check_images=False)
    with pytest.raises(AnnotationError, match=r"a.xml:7: non-numeric <xmax>: 'ten'"):
        build_source(src)[0]
    lenient = build_source(src, lenient=True)
    assert lenient[0].instances == []
    assert lenient.stats.skipped_instances == {'non-numeric': 1, 'malformed': 1}
    assert 'has no <ymax>' in lenient.summary()


def test_voc_inverted_box_is_degenerate(tmp_path):
    write(tmp_path / 'ann' / 'a.xml', VOC_HEAD + '<object><name>tree</name><bndbox><xmin>50</xmin>'
          '<ymin>2</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></object></annotation>')
    with pytest.raises(AnnotationError, match='degenerate box'):
        build_source(type='voc', ann_dir=str(tmp_path / 'ann'), class_list=['tree'],
                     check_images=False)[0]


def test_fair1m_wrong_point_count(tmp_path):
    write(tmp_path / 'labelXml' / '0.xml', '<annotation><size><width>9</width><height>9</height>'
          '</size><objects><object>\n<possibleresult><name>Bus</name></possibleresult>\n<points>'
          '<point>0,0</point><point>1,0</point><point>1,1</point></points></object></objects>'
          '</annotation>')
    with pytest.raises(AnnotationError, match=r'0.xml:3: expected 4 corner points'):
        build_source(type='fair1m', ann_dir=str(tmp_path / 'labelXml'), check_images=False)[0]


def test_coco_errors(tmp_path):
    bad_json = write(tmp_path / 'bad.json', '{"images": [\n{"id": 1,}\n]}')
    with pytest.raises(AnnotationError, match=r'bad.json:2: malformed json'):
        build_source(type='coco', ann_file=bad_json)
    data = dict(images=[dict(id=1, file_name='a.png', width=100, height=80)],
                categories=[dict(id=1, name='car')],
                annotations=[dict(id=7, image_id=1, category_id=1, bbox=[1, 2, 'x', 4]),
                             dict(id=8, image_id=1, category_id=5, bbox=[1, 2, 3, 4]),
                             dict(id=9, image_id=1, category_id=1, bbox=[1, 2, 0, 4]),
                             dict(id=10, image_id=1, category_id=1, bbox=[1, 2, 3, 4])])
    path = write(tmp_path / 'c.json', json.dumps(data))
    with pytest.raises(AnnotationError, match=r"c.json \(annotation id=7\): non-numeric bbox"):
        build_source(type='coco', ann_file=path, check_images=False)[0]
    lenient = build_source(type='coco', ann_file=path, check_images=False, lenient=True)
    assert len(lenient[0].instances) == 1
    assert lenient.stats.skipped_instances == {'non-numeric': 1, 'unknown-class': 1, 'degenerate': 1}
    no_images = write(tmp_path / 'n.json', json.dumps({'annotations': []}))
    with pytest.raises(AnnotationError, match='needs an "images" list'):
        build_source(type='coco', ann_file=no_images)


def test_isaid_colour_outside_palette(tmp_path):
    img = np.zeros((6, 8, 3), np.uint8)
    ids = np.zeros((6, 8, 3), np.uint8)
    ids[1:3, 1:4] = (0, 1, 5)  # OpenCV writes BGR: R = 5, G = 1 -> id 5 + 256 = 261
    colour = np.zeros((6, 8, 3), np.uint8)
    colour[1:3, 1:4] = (9, 9, 9)
    for name, arr in (('a.png', img), ('a_instance_id_RGB.png', ids),
                      ('a_instance_color_RGB.png', colour)):
        cv2.imwrite(str(tmp_path / name), arr)
    with pytest.raises(AnnotationError, match=r'a_instance_color_RGB.png \(instance id 261\): '
                                              r'colour \(9, 9, 9\) is not in the iSAID palette'):
        build_source(type='isaid', img_dir=str(tmp_path))[0]


def test_missing_folders_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match='DOTA annotation folder not found'):
        build_source(type='dota', ann_dir=str(tmp_path / 'nope'))
    with pytest.raises(FileNotFoundError, match='COCO annotation file not found'):
        build_source(type='coco', ann_file=str(tmp_path / 'nope.json'))
