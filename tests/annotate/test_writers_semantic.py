"""Writers: overlap rule, PNG encodings, atomic files, instance json and the merged COCO json."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from samrs_mm.annotate.engine.backend import ObjectMask
from samrs_mm.annotate.outputs import (
    AtomicFiles,
    LabelWriter,
    compose_semantic,
    encode_gray_png,
    encode_palette_png,
    merge_annotations,
    paint_order,
)
from samrs_mm.structures.record import ImageRecord, Instance


def object_mask(mask, index=0, score=0.9, prompt='hbox'):
    """An ObjectMask of a bool array, as the engine would produce it."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = tuple(float(v) for v in mask_utils.toBbox(rle))
    rle['counts'] = rle['counts'].decode('ascii')
    return ObjectMask(index=index, rle=rle, score=score, area=int(mask.sum()), bbox=bbox, prompt=prompt)


def box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_paint_order_rules():
    areas, scores = [50, 10, 50, 30], [0.5, 0.9, 0.1, 0.7]
    assert paint_order(areas, scores, 'small_on_top') == [0, 2, 3, 1]   # ties: instance order
    assert paint_order(areas, scores, 'large_on_top') == [1, 3, 0, 2]
    assert paint_order(areas, scores, 'first_on_top') == [3, 2, 1, 0]
    assert paint_order(areas, scores, 'last_on_top') == [0, 1, 2, 3]
    assert paint_order(areas, scores, 'score_on_top') == [2, 0, 3, 1]
    with pytest.raises(ValueError, match='unknown overlap rule'):
        paint_order(areas, scores, 'random')


def test_smaller_objects_on_top_and_unlabeled_255():
    h, w = 8, 10
    big = box(h, w, 0, 6, 0, 6)        # 36 px, class 3
    small = box(h, w, 2, 4, 2, 4)      # 4 px inside it, class 7
    other = box(h, w, 5, 8, 5, 10)     # 15 px overlapping big's corner, class 1
    masks = [object_mask(small, 0), object_mask(big, 1), object_mask(other, 2)]
    label = compose_semantic(masks, [7, 3, 1], h, w)
    expected = np.full((h, w), 255, np.uint8)
    expected[big] = 3
    expected[other] = 1   # 15 < 36: painted after the big one
    expected[small] = 7
    np.testing.assert_array_equal(label, expected)
    # The opposite rule puts the big object over both.
    label = compose_semantic(masks, [7, 3, 1], h, w, overlap='large_on_top')
    expected = np.full((h, w), 255, np.uint8)
    expected[other] = 1
    expected[small] = 7
    expected[big] = 3
    np.testing.assert_array_equal(label, expected)


def test_equal_areas_later_object_on_top_and_empty_masks_ignored():
    h, w = 4, 4
    a, b = box(h, w, 0, 2, 0, 2), box(h, w, 1, 3, 1, 3)
    empty = np.zeros((h, w), bool)
    label = compose_semantic([object_mask(a), object_mask(b), object_mask(empty)], [1, 2, 5], h, w)
    assert label[1, 1] == 2 and label[0, 0] == 1 and label[3, 3] == 255
    assert 5 not in label


def test_no_objects_all_255():
    assert (compose_semantic([], [], 3, 5) == 255).all()


def test_png_encodings_round_trip(tmp_path):
    label = np.array([[0, 1, 255], [17, 2, 0]], np.uint8)
    path = tmp_path / 'gray.png'
    path.write_bytes(encode_gray_png(label))
    with Image.open(path) as img:
        assert img.mode == 'L'
        np.testing.assert_array_equal(np.asarray(img), label)
    palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]] + [[i, i, i] for i in range(3, 18)]
    path = tmp_path / 'color.png'
    path.write_bytes(encode_palette_png(label, palette))
    with Image.open(path) as img:
        assert img.mode == 'P'
        np.testing.assert_array_equal(np.asarray(img), label)  # indices survive
        rgb = np.asarray(img.convert('RGB'))
    assert rgb[0, 1].tolist() == [40, 50, 60]
    assert rgb[0, 2].tolist() == [0, 0, 0]                      # unlabeled is black
    assert rgb[1, 0].tolist() == [17, 17, 17]
    # Deterministic bytes (resume compares files byte for byte).
    assert encode_palette_png(label, palette) == encode_palette_png(label.copy(), palette)


def test_atomic_files_leave_no_partial_file(tmp_path):
    files = AtomicFiles(str(tmp_path / '.tmp' / 'x'))
    target = tmp_path / 'out' / 'a.json'
    files.write_json(str(target), {'b': 1, 'a': [1.5, None]})
    assert target.read_text() == '{"b":1,"a":[1.5,null]}\n'
    assert os.listdir(tmp_path / '.tmp' / 'x') == []  # the temporary file was renamed


def _record(tmp_path, instances, name='scene.png', h=8, w=10):
    img_dir = tmp_path / 'imgs'
    img_dir.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(img_dir / name)
    return ImageRecord(image_path=str(img_dir / name), width=w, height=h, instances=instances, source='dota',
                       ann_path=str(tmp_path / 'ann.txt'))


def test_label_writer_files_and_instance_json(tmp_path):
    from samrs_mm.datasets.samrs import make_palette
    from samrs_mm.structures.classes import SOTA_CLASSES
    insts = [Instance('plane', np.array([0., 0, 6, 6]), class_index=4,
                      rbox=np.array([3., 3, 6, 6, 0]), quad=np.array([[0., 0], [6, 0], [6, 6], [0, 6]])),
             Instance('ship', np.array([2., 2, 4, 4]), class_index=5)]
    record = _record(tmp_path, insts)
    masks = [object_mask(box(8, 10, 0, 6, 0, 6), 0, 0.123456789), object_mask(box(8, 10, 2, 4, 2, 4), 1, 0.5)]
    writer = LabelWriter(str(tmp_path / 'work'), SOTA_CLASSES, copy_images='copy')
    result = writer.write(record, masks, 'abc')
    assert (result.objects, result.empty_masks, result.class_counts) == (2, 0, {'plane': 1, 'ship': 1})
    label = np.asarray(Image.open(tmp_path / 'work' / 'semantic' / 'scene.png'))
    assert label[0, 0] == 4 and label[3, 3] == 5 and label[7, 9] == 255
    with Image.open(tmp_path / 'work' / 'color' / 'scene.png') as img:
        assert np.asarray(img.convert('RGB'))[0, 0].tolist() == make_palette(18)[4]
    assert (tmp_path / 'work' / 'images' / 'scene.png').read_bytes() == (tmp_path / 'imgs' / 'scene.png').read_bytes()
    data = json.loads((tmp_path / 'work' / 'instances' / 'scene.json').read_text())
    assert data['settings'] == 'abc' and data['image']['file_name'] == 'scene.png'
    assert (data['image']['width'], data['image']['height']) == (10, 8)
    first, second = data['objects']
    assert first['class_name'] == 'plane' and first['class_index'] == 4
    assert first['hbox'] == [0.0, 0.0, 6.0, 6.0] and first['rbox'] == [3.0, 3.0, 6.0, 6.0, 0.0]
    assert first['score'] == 0.123457 and first['area'] == 36 and first['bbox'] == [0.0, 0.0, 6.0, 6.0]
    assert second['rbox'] is None and second['quad'] is None and second['prompt'] == 'hbox'
    decoded = mask_utils.decode(dict(size=first['segmentation']['size'],
                                     counts=first['segmentation']['counts'].encode()))
    np.testing.assert_array_equal(decoded.astype(bool), box(8, 10, 0, 6, 0, 6))
    assert writer.finished(record, 'abc') and not writer.finished(record, 'other-settings')
    assert not osp.exists(tmp_path / 'work' / '.tmp' / f'pid{os.getpid()}') or \
        os.listdir(tmp_path / 'work' / '.tmp' / f'pid{os.getpid()}') == []


def test_label_writer_refuses_a_second_image_with_the_same_stem(tmp_path):
    from samrs_mm.structures.classes import SOTA_CLASSES
    writer = LabelWriter(str(tmp_path / 'work'), SOTA_CLASSES)
    writer.write(_record(tmp_path, []), [], 'abc')
    other_dir = tmp_path / 'other'
    other_dir.mkdir()
    twin = _record(other_dir, [])
    with pytest.raises(ValueError, match='same file stem'):
        writer.finished(twin, 'abc')


def test_merge_annotations_pycocotools_round_trip(tmp_path):
    from pycocotools.coco import COCO

    from samrs_mm.structures.classes import SOTA_CLASSES
    writer = LabelWriter(str(tmp_path / 'work'), SOTA_CLASSES)
    m_plane, m_ship = box(8, 10, 0, 6, 0, 6), box(8, 10, 2, 4, 7, 9)
    rec_a = _record(tmp_path, [Instance('plane', np.array([0., 0, 6, 6]), 4),
                               Instance('ship', np.array([7., 2, 9, 4]), 5),
                               Instance('ship', np.array([0., 7, 1, 8]), 5)], 'a.png')
    writer.write(rec_a, [object_mask(m_plane, 0, 0.25), object_mask(m_ship, 1, 0.75),
                         object_mask(np.zeros((8, 10), bool), 2)], 'abc')
    rec_b = _record(tmp_path, [], 'b.png')
    writer.write(rec_b, [], 'abc')
    out = tmp_path / 'work' / 'annotations.json'
    counts = merge_annotations(str(tmp_path / 'work'), ['a', 'b'], SOTA_CLASSES, str(out))
    assert counts['images'] == 2 and counts['annotations'] == 2 and counts['empty_masks'] == 1
    coco = COCO(str(out))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(SOTA_CLASSES)
    assert coco.getCatIds(catNms=['plane']) == [5]                      # class index + 1
    assert [i['file_name'] for i in coco.loadImgs([1, 2])] == ['a.png', 'b.png']
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert [a['category_id'] for a in anns] == [5, 6]
    np.testing.assert_array_equal(coco.annToMask(anns[0]).astype(bool), m_plane)
    np.testing.assert_array_equal(coco.annToMask(anns[1]).astype(bool), m_ship)
    assert anns[1]['bbox'] == [7.0, 2.0, 2.0, 2.0] and anns[1]['area'] == 4 and anns[1]['iscrowd'] == 0
    assert anns[0]['score'] == 0.25
    assert coco.getAnnIds(imgIds=[2]) == []


def test_box_window_decode_equals_pycocotools_decode():
    """The writer paints each object's box window, decoded from the RLE runs alone."""
    from samrs_mm.structures.rle import decode_window, rle_runs
    rng = np.random.default_rng(0)
    for trial in range(40):
        h, w = rng.integers(1, 60, size=2)
        mask = np.zeros((h, w), bool)
        if trial % 4:  # random blobs, some touching the borders
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            y1, x1 = rng.integers(y0, h) + 1, rng.integers(x0, w) + 1
            mask[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < (0.3 if trial % 3 else 1.0)
        if trial == 1:
            mask[:] = True
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        counts = rle_runs(rle)
        assert counts.sum() == h * w and (counts[1:] > 0).all()
        rle['counts'] = rle['counts'].decode('ascii')
        bbox = mask_utils.toBbox(dict(rle, counts=rle['counts'].encode()))
        x, y, bw, bh = (int(v) for v in bbox)
        np.testing.assert_array_equal(decode_window(rle, x, y, bw, bh), mask[y:y + bh, x:x + bw])
        # Any window of the image, not only the tight box.
        np.testing.assert_array_equal(decode_window(rle, 0, 0, w, h), mask)
