"""Patch cropping: windows, names, object accounting, DOTA round trip, resume, processes."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import shapely

from samrs_mm.fileio import SettingsMismatch
from samrs_mm.patches import (
    PatchSettings,
    crop_dataset,
    crop_patches,
    parse_patch_name,
    patch_name,
    patch_windows,
    window_starts,
    write_patches,
)
from samrs_mm.sources import build_source, load_image
from samrs_mm.structures import boxes as G


@pytest.fixture(scope='module')
def p0706(shared_data):
    """The real DOTA image with its 536 objects, read once."""
    source = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))
    record = source[0]
    return source, record, load_image(record)


def test_window_starts():
    # the padded grid (size 1024, gap 200 -> step 824)
    assert window_starts(1111, 1024, 824, 'pad') == [0, 824]
    assert window_starts(1182, 1024, 824, 'pad') == [0, 824]
    assert window_starts(1024, 1024, 824, 'pad') == [0]
    assert window_starts(1025, 1024, 824, 'pad') == [0, 824]
    assert window_starts(300, 1024, 824, 'pad') == [0]
    assert window_starts(2000, 600, 400, 'pad') == [0, 400, 800, 1200, 1600]
    np.testing.assert_array_equal(patch_windows(1111, 1182, 1024, 200, 'pad'),
                                  [[0, 0, 1024, 1024], [824, 0, 1848, 1024],
                                   [0, 824, 1024, 1848], [824, 824, 1848, 1848]])


def test_patch_names_round_trip():
    assert patch_name('P0706', 0, 824, 1024) == 'P0706__1024__0___824'
    assert patch_name('P0706', 412, 0, 1024, 0.5) == 'P0706__0.5__1024__412___0'
    assert parse_patch_name('P0706__1024__0___824.png') == dict(stem='P0706', rate=1.0, size=1024,
                                                                x=0, y=824)
    assert parse_patch_name('a__b__600__400___0') == dict(stem='a__b', rate=1.0, size=600, x=400, y=0)
    assert parse_patch_name('P1__1.5__1024__0___0')['rate'] == 1.5
    with pytest.raises(ValueError, match='not a patch name'):
        parse_patch_name('P0706.png')


def test_settings_validation():
    assert PatchSettings.from_preset('fair1m').patch_size == 600
    assert PatchSettings.from_preset('dota-v2', gap=100).gap == 100
    with pytest.raises(ValueError, match='gap'):
        PatchSettings(patch_size=100, gap=100)
    with pytest.raises(ValueError, match='iof_thr'):
        PatchSettings(iof_thr=0)
    with pytest.raises(ValueError, match='truncated'):
        PatchSettings(truncated='keep')
    with pytest.raises(KeyError, match='unknown split preset'):
        PatchSettings.from_preset('dota-v3')


def _iof_table(record, windows):
    """Independent iof of every object in every window (plain shapely, one pair at a time)."""
    table = np.zeros((len(record.instances), len(windows)))
    for i, inst in enumerate(record.instances):
        poly = shapely.Polygon(inst.quad)
        if not poly.is_valid:
            poly = poly.convex_hull
        for j, (x1, y1, x2, y2) in enumerate(windows):
            table[i, j] = poly.intersection(shapely.box(x1, y1, x2, y2)).area / poly.area
    return table


def test_dota_v2_preset_on_p0706_moves_the_last_window_to_the_border(p0706, tmp_path):
    source, record, image = p0706
    settings = PatchSettings.from_preset('dota-v2')
    summary = crop_dataset(source, str(tmp_path), settings, progress=False)
    assert summary.ok and summary.patches_written == 4
    # mmrotate's img_split names: 1111 - 1024 = 87, 1182 - 1024 = 158.
    names = sorted(os.listdir(tmp_path / 'images'))
    assert names == ['P0706__1024__0___0.png', 'P0706__1024__0___158.png',
                     'P0706__1024__87___0.png', 'P0706__1024__87___158.png']
    # Pixels: a true crop, nothing padded.
    patch = load_image(str(tmp_path / 'images' / 'P0706__1024__87___158.png'))
    np.testing.assert_array_equal(patch, image[158:, 87:])
    manifest = json.loads((tmp_path / 'split_manifest' / 'P0706.json').read_text())
    assert [(p['valid_width'], p['valid_height']) for p in manifest['patches']] == [(1024, 1024)] * 4
    # One ship runs a pixel past the right border (x2 = 1112): no window holds it whole any more.
    assert manifest['accounting'] == dict(objects=536, kept=535, clipped=1, difficult=0, dropped=0)
    # No header lines: the header travels in label_meta/ and the DOTA reader still has it.
    first = (tmp_path / 'labelTxt' / 'P0706__1024__0___0.txt').read_text().splitlines()[0]
    assert not first.startswith(('imagesource', 'gsd'))
    back = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'))[0]
    assert back.meta == dict(imagesource='GoogleEarth', gsd=record.meta['gsd'])


def test_padded_grid_rule_still_available(p0706, tmp_path):
    source, record, image = p0706
    settings = PatchSettings.from_preset('dota-v2', window_rule='pad', label_header=True)
    crop_dataset(source, str(tmp_path), settings, progress=False)
    assert sorted(os.listdir(tmp_path / 'images')) == [
        'P0706__1024__0___0.png', 'P0706__1024__0___824.png', 'P0706__1024__824___0.png',
        'P0706__1024__824___824.png']
    # Pixels: a true crop, padded with 0 beyond the 1111 x 1182 image.
    patch = load_image(str(tmp_path / 'images' / 'P0706__1024__824___824.png'))
    assert patch.shape == (1024, 1024, 3)
    np.testing.assert_array_equal(patch[:358, :287], image[824:, 824:])
    assert not patch[358:].any() and not patch[:, 287:].any()
    manifest = json.loads((tmp_path / 'split_manifest' / 'P0706.json').read_text())
    assert [(p['valid_width'], p['valid_height']) for p in manifest['patches']] == [
        (1024, 1024), (287, 1024), (1024, 358), (287, 358)]
    lines = (tmp_path / 'labelTxt' / 'P0706__1024__0___0.txt').read_text().splitlines()
    assert lines[0] == 'imagesource:GoogleEarth' and lines[1].startswith('gsd:')
    assert not (tmp_path / 'label_meta').exists()


def test_round_trip_dota_crop_read_back(p0706, tmp_path):
    """DOTA -> crop -> DOTA reader: every object kept, clipped or dropped, coordinates exact."""
    source, record, image = p0706
    settings = PatchSettings(patch_size=256, gap=0, iof_thr=0.7)
    windows = patch_windows(record.width, record.height, 256, 0)
    iof = _iof_table(record, windows)
    write_patches(record, image, str(tmp_path), source.classes, settings)
    manifest = json.loads((tmp_path / 'split_manifest' / 'P0706.json').read_text())
    acc = manifest['accounting']
    whole = np.isclose(iof, 1.0, atol=1e-9)
    kept = whole.any(1)
    clipped = ~kept & (iof >= 0.7).any(1)
    dropped = ~(iof >= 0.7).any(1)
    assert acc == dict(objects=536, kept=int(kept.sum()), clipped=int(clipped.sum()), difficult=0,
                       dropped=int(dropped.sum()))
    assert acc['kept'] + acc['clipped'] + acc['dropped'] == 536
    assert acc['clipped'] > 0 and acc['dropped'] > 0  # the case is really exercised
    back = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'))
    by_name = {r.stem: r for r in back}
    # Every written patch holds exactly the objects with iof >= 0.7 in its window.
    total = 0
    for j, (x1, y1, x2, y2) in enumerate(windows):
        name = patch_name('P0706', int(x1), int(y1), 256)
        expected = np.flatnonzero(iof[:, j] >= 0.7 - 1e-9)
        if len(expected) == 0:
            assert name not in by_name
            continue
        rec = by_name[name]
        assert (rec.width, rec.height) == (256, 256) and rec.meta['gsd'] == record.meta['gsd']
        assert len(rec.instances) == len(expected)
        total += len(expected)
        for inst, k in zip(rec.instances, expected):
            src = record.instances[k]
            assert inst.class_name == src.class_name and inst.difficult == src.difficult
            if whole[k, j]:  # kept: the source quad, shifted, to the written 1/1000 px
                np.testing.assert_allclose(inst.quad, src.quad - [x1, y1], atol=5e-4)
            else:  # clipped: inside the patch
                clip = shapely.Polygon(src.quad).intersection(shapely.box(x1, y1, x2, y2))
                hull = G.quad_to_hbox(inst.quad)
                assert hull.min() >= 0 and hull.max() <= 256
                if len(shapely.get_coordinates(clip)) == 5:  # 4 corners: written as is (1/1000 px text)
                    assert G.polygon_area(inst.quad) == pytest.approx(clip.area, rel=1e-4, abs=0.05)
                else:  # else a rectangle fitted inside the patch, never larger than the visible part's
                    fitted = shapely.Polygon(inst.quad + [x1, y1])
                    assert fitted.area <= 1.25 * clip.area
                    assert fitted.intersection(clip).area / fitted.union(clip).area > 0.6
    assert total == sum(len(r.instances) for r in back)


def test_truncated_difficult_mode(p0706):
    _, record, image = p0706
    drop, acc_drop = crop_patches(record, image, PatchSettings(patch_size=256, gap=0))
    mark, acc_mark = crop_patches(record, image, PatchSettings(patch_size=256, gap=0,
                                                               truncated='difficult'))
    assert acc_mark['difficult'] == acc_drop['dropped'] - acc_mark['dropped'] > 0
    assert acc_mark['kept'] == acc_drop['kept'] and acc_mark['clipped'] == acc_drop['clipped']
    extra = sum(len(p.instances) for p in mark) - sum(len(p.instances) for p in drop)
    assert extra == sum(sum(p.truncated) for p in mark) > 0
    for patch in mark:
        for inst, trunc in zip(patch.instances, patch.truncated):
            assert not trunc or inst.difficult


def test_rescale_rate(p0706, tmp_path):
    source, record, image = p0706
    settings = PatchSettings(patch_size=1024, gap=200, rates=(0.5,))
    patches, acc = crop_patches(record, image, settings)
    assert [p.name for p in patches] == ['P0706__0.5__1024__0___0']  # 556 x 591 after rescale
    assert (patches[0].valid_width, patches[0].valid_height) == (556, 591)
    assert acc['kept'] == 536
    np.testing.assert_allclose(patches[0].instances[0].quad, record.instances[0].quad * 0.5)
    write_patches(record, image, str(tmp_path), source.classes, settings)
    back = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'))[0]
    assert back.meta['gsd'] == pytest.approx(2 * record.meta['gsd'])


def test_hbox_only_source_stays_horizontal(shared_data, tmp_path):
    source = build_source(type='dior', ann_dir=osp.join(shared_data, 'dior/Annotations/Horizontal Bounding Boxes'))
    summary = crop_dataset(source, str(tmp_path), PatchSettings.from_preset('dior'), progress=False)
    assert summary.ok and summary.patches_written == 1
    (inst,) = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'), class_list='sior')[0].instances
    assert inst.class_name == 'golffield'
    np.testing.assert_array_equal(inst.hbox, [133, 237, 684, 672])


def _tree_bytes(root):
    out = {}
    for folder in ('images', 'labelTxt'):
        for name in sorted(os.listdir(osp.join(root, folder))):
            with open(osp.join(root, folder, name), 'rb') as f:
                out[f'{folder}/{name}'] = f.read()
    return out


@pytest.fixture()
def small_dota(tmp_path):
    """Three images (two good, one with a bad line) at 300 x 200 for fast dataset-level runs."""
    ann_dir, img_dir = tmp_path / 'src' / 'labelTxt', tmp_path / 'src' / 'images'
    ann_dir.mkdir(parents=True)
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    for stem, lines in (('a', ['10 10 60 10 60 40 10 40 plane 0', '150 50 190 50 190 90 150 90 ship 1']),
                        ('b', ['5 5 300 5 300 195 5 195 harbor 0']),
                        ('c', ['10 10 60 10 60 40 10 40 plane 0', 'garbage line'])):
        (ann_dir / f'{stem}.txt').write_text('\n'.join(lines) + '\n')
        cv2.imwrite(str(img_dir / f'{stem}.png'), rng.integers(0, 255, (200, 300, 3), dtype=np.uint8))
    return str(ann_dir), tmp_path


def test_failures_are_reported_not_fatal(small_dota):
    ann_dir, tmp_path = small_dota
    out = str(tmp_path / 'out')
    summary = crop_dataset(build_source(type='dota', ann_dir=ann_dir), out,
                            PatchSettings(patch_size=128, gap=28), progress=False)
    assert not summary.ok and summary.status == {'done': 2, 'failed': 1}
    (index, message), = summary.failures
    assert index == 2 and 'c.txt:2' in message
    assert not osp.exists(osp.join(out, 'split_manifest', 'c.json'))
    saved = json.loads(open(osp.join(out, 'split_summary.json')).read())
    assert saved['status'] == {'done': 2, 'failed': 1} and 'c.txt:2' in saved['failures'][0][1]
    # Lenient: the bad line is skipped and counted, the image is split.
    lenient = crop_dataset(build_source(type='dota', ann_dir=ann_dir, lenient=True), out,
                            PatchSettings(patch_size=128, gap=28), progress=False)
    assert lenient.ok and lenient.status == {'resumed': 2, 'done': 1}
    assert lenient.read_stats.skipped_instances == {'malformed': 1}


def test_resume_and_processes_agree(small_dota):
    ann_dir, tmp_path = small_dota
    settings = PatchSettings(patch_size=128, gap=28)
    source = build_source(type='dota', ann_dir=ann_dir, lenient=True)
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    first = crop_dataset(source, one, settings, nproc=1, progress=False)
    assert crop_dataset(source, two, settings, nproc=2, progress=False).as_dict()['objects'] == \
        first.as_dict()['objects']
    assert _tree_bytes(one) == _tree_bytes(two)
    stamp = {n: os.stat(osp.join(one, 'labelTxt', n)).st_mtime_ns
             for n in os.listdir(osp.join(one, 'labelTxt'))}
    again = crop_dataset(source, one, settings, progress=False)
    assert again.status == {'resumed': 3} and again.patches_written == 0
    assert again.objects == first.objects
    assert stamp == {n: os.stat(osp.join(one, 'labelTxt', n)).st_mtime_ns for n in stamp}
    # A run killed mid-image: manifest and one label missing -> only that patch is redone.
    victim = sorted(n for n in stamp if n.startswith('a__'))[0]
    os.remove(osp.join(one, 'labelTxt', victim))
    os.remove(osp.join(one, 'split_manifest', 'a.json'))
    redo = crop_dataset(source, one, settings, progress=False)
    assert redo.status == {'resumed': 2, 'done': 1} and redo.patches_written == 1
    assert _tree_bytes(one) == _tree_bytes(two)
    # Other settings are refused, never mixed into the same folder (another window rule
    # would add a second set of patches beside the first).
    with pytest.raises(SettingsMismatch, match=r"window_rule differ: \{'window_rule': 'shift'\} vs "
                       r"\{'window_rule': 'pad'\}.*--window-rule"):
        crop_dataset(source, one, PatchSettings(patch_size=128, gap=28, window_rule='pad'), progress=False)
    assert _tree_bytes(one) == _tree_bytes(two)
    assert not any(n.endswith(tuple('0123456789')) and '.tmp' in n
                   for n in os.listdir(osp.join(one, 'images')))


# ---- ground-truth masks through the patches ---------------------------------------------------
@pytest.fixture(scope='module')
def isaid_record(shared_data):
    """The real iSAID sample (884 x 977, 131 instances with masks), read once."""
    source = build_source(type='isaid', img_dir=osp.join(shared_data, 'isaid/train'))
    record = source[0]
    return source, record, load_image(record)


def _window_of_full_mask(instance, x, y, size):
    """The source mask cut to the window at (x, y), zero-padded to size x size."""
    from pycocotools import mask as mask_utils
    full = mask_utils.decode(instance.mask).astype(bool)
    expected = np.zeros((size, size), bool)
    cut = full[y:y + size, x:x + size]
    expected[:cut.shape[0], :cut.shape[1]] = cut
    return expected


def test_masks_are_cut_exactly_like_the_image(isaid_record):
    from pycocotools import mask as mask_utils
    _, record, image = isaid_record
    by_origin = {inst.origin: inst for inst in record.instances}
    settings = PatchSettings(patch_size=512, gap=112, truncated='difficult')
    patches, accounting = crop_patches(record, image, settings)
    assert accounting['objects'] == 131 and len(patches) == 6
    checked = 0
    for patch in patches:
        for inst in patch.instances:
            assert inst.mask['size'] == [512, 512]
            got = mask_utils.decode(inst.mask).astype(bool)
            np.testing.assert_array_equal(got, _window_of_full_mask(by_origin[inst.origin], patch.x,
                                                                    patch.y, 512))
            checked += 1
    assert checked == sum(len(p.instances) for p in patches) >= 131


def test_masks_round_trip_through_the_dota_reader(isaid_record, tmp_path):
    from pycocotools import mask as mask_utils
    source, record, image = isaid_record
    settings = PatchSettings(patch_size=512, gap=112)
    patches, _ = crop_patches(record, image, settings)
    summary = crop_dataset(source, str(tmp_path), settings, progress=False)
    assert summary.ok
    expected = {p.name: p for p in patches if p.instances}
    back = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'))
    assert back.mask_dir == str(tmp_path / 'masks')
    assert sorted(r.stem for r in back) == sorted(expected)
    for read in back:
        patch = expected[read.stem]
        assert len(read.instances) == len(patch.instances)
        for got, want in zip(read.instances, patch.instances):
            assert got.class_index == want.class_index
            assert got.mask == want.mask  # the same RLE text
        # The mask file keys masks by the label file's object lines.
        with open(tmp_path / 'masks' / f'{read.stem}.json') as f:
            lines = [m['line'] for m in json.load(f)['masks']]
        assert lines == [int(inst.origin.rsplit(':', 1)[1]) for inst in read.instances]
    # A patch without masks in the source stays mask-free, and masks decode to the patch size.
    assert mask_utils.decode(back[0].instances[0].mask).shape == (512, 512)


def test_masks_follow_a_rescale(isaid_record):
    from pycocotools import mask as mask_utils
    _, record, image = isaid_record
    patches, _ = crop_patches(record, image, PatchSettings(patch_size=512, gap=0, rates=(0.5,)))
    assert len(patches) == 1
    by_origin = {inst.origin: inst for inst in record.instances}
    for inst in patches[0].instances:
        mask = mask_utils.decode(inst.mask).astype(bool)
        source_area = mask_utils.area(by_origin[inst.origin].mask)
        # Nearest-neighbour halving keeps about a quarter of the pixels, inside the halved box.
        assert abs(mask.sum() - source_area / 4) <= 0.5 * source_area / 4 + 20
        ys, xs = np.nonzero(mask)
        x1, y1, x2, y2 = inst.hbox
        assert xs.min() >= np.floor(x1) - 1 and xs.max() <= np.ceil(x2) + 1
        assert ys.min() >= np.floor(y1) - 1 and ys.max() <= np.ceil(y2) + 1


def test_bad_mask_files_name_the_file(isaid_record, tmp_path):
    from samrs_mm.sources.errors import AnnotationError
    source, _, _ = isaid_record
    crop_dataset(source, str(tmp_path), PatchSettings(patch_size=1024, gap=0), progress=False)
    (mask_file,) = (tmp_path / 'masks').iterdir()
    data = json.loads(mask_file.read_text())
    back = build_source(type='dota', ann_dir=str(tmp_path / 'labelTxt'))
    assert len(back[0].instances) == 131
    data['masks'][0]['line'] = 1000
    mask_file.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=r'line 1000, which is not an object line') as err:
        back[0]
    assert str(mask_file) in str(err.value)
    data['masks'][0]['line'] = 1
    data['masks'][0]['mask']['size'] = [5, 5]
    mask_file.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=r'is 5x5, the image 1024x1024'):
        back[0]
    mask_file.write_text('{"masks": [')
    with pytest.raises(AnnotationError, match='cannot read mask file'):
        back[0]
