"""tools/dataset_converters/samrs_mae.py: SAMRS training images -> SAMRS-MAE crops."""
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'samrs_mae.py')
# Small made-up images, cut 32 x 32 at stride 25 (the common rule: last window ends at the border).
CROP, STRIDE = 32, 25
SIZES = {  # name -> (height, width)
    'sota': {'a': (60, 80), 'b': (32, 32), 'held_out': (40, 40)},
    'sior': {'c': (40, 20)},  # narrower than a crop: padded on the right, not shifted
}
TRAIN = {'sota': ['a', 'b'], 'sior': ['c']}
EXPECTED = {  # name -> crop corners (x, y)
    'a': [(x, y) for y in (0, 25, 28) for x in (0, 25, 48)],  # 25 + 32 < 60: a third row
    'b': [(0, 0)],
    'c': [(0, 0), (0, 8)],
}


def _load_tool():
    spec = importlib.util.spec_from_file_location('samrs_mae_crop_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _image(seed, height, width):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def make_subsets(root):
    """SAMRS-like subset folders: images/ (PNG / JPEG) and the train.txt lists."""
    images = {}
    for seed, (subset, sizes) in enumerate(SIZES.items()):
        os.makedirs(osp.join(root, subset, 'images'))
        for offset, (name, (height, width)) in enumerate(sizes.items()):
            images[name] = _image(10 * seed + offset, height, width)
            cv2.imwrite(osp.join(root, subset, 'images', f'{name}.png'), images[name])
        with open(osp.join(root, subset, 'train.txt'), 'w') as handle:
            handle.write(''.join(f'{name}\n' for name in TRAIN[subset]))
    return images


def _run(root, out, *extra):
    argv = [osp.join(root, 'sota'), osp.join(root, 'sior'), '-o', out, '--crop-size', str(CROP),
            '--stride', str(STRIDE), '--nproc', '1', *extra]
    return tool.main(argv)


def test_windows_follow_the_common_rule_and_give_the_paper_count():
    # 1024 / 800 / 600-pixel SOTA / SIOR / FAST images: 4 / 3 / 2 windows per side.
    assert [tool.count_crops(n, n, 384, 300) for n in (1024, 800, 600)] == [16, 9, 4]
    assert tool.crop_boxes(1024, 1024, 384, 300)[:4] == [(0, 0, 384, 384), (300, 0, 684, 384),
                                                          (600, 0, 984, 384), (640, 0, 1024, 384)]
    assert tool.count_crops(200, 1000, 384, 300) == 4  # short side padded to one window
    # The paper's subsets through its 95 % split (tools/make_splits.py): 609,707 crops.
    from samrs_mm.datasets.splits import split_names
    train = {name: len(split_names([f'{name}{i}' for i in range(size)])[0])
             for name, size in (('sota', 17480), ('sior', 11725), ('fast', 64147))}
    assert train == {'sota': 16606, 'sior': 11139, 'fast': 60940}
    total = (train['sota'] * tool.count_crops(1024, 1024, 384, 300)
             + train['sior'] * tool.count_crops(800, 800, 384, 300)
             + train['fast'] * tool.count_crops(600, 600, 384, 300))
    assert total == tool.PAPER_CROPS == 609707


def test_crops_positions_pixels_list_and_resume(tmp_path, capsys):
    images = make_subsets(str(tmp_path / 'samrs'))
    out = str(tmp_path / 'crops')
    assert _run(str(tmp_path / 'samrs'), out) == 0
    printed = capsys.readouterr().out
    assert 'total  3 of 3 images -> 12 crops' in printed
    listed = open(osp.join(out, 'train.txt')).read().split()
    want = sorted(osp.join(subset, f'{name}__{CROP}__{x}___{y}.png')
                  for subset, names in TRAIN.items() for name in names for x, y in EXPECTED[name])
    assert sorted(listed) == want and len(listed) == 12
    assert sorted(os.listdir(osp.join(out, 'sota'))) == sorted(osp.basename(p) for p in want
                                                               if p.startswith('sota'))
    # only the training list is cut: the held-out image gives nothing
    assert not any('held_out' in p for p in listed)
    for rel in listed:
        name, _, x, y = osp.splitext(osp.basename(rel))[0].replace('___', '__').split('__')
        x, y = int(x), int(y)
        crop = cv2.imread(osp.join(out, rel), cv2.IMREAD_UNCHANGED)
        source = np.pad(images[name], ((0, max(0, CROP - images[name].shape[0])),
                                       (0, max(0, CROP - images[name].shape[1])), (0, 0)))
        np.testing.assert_array_equal(crop, source[y:y + CROP, x:x + CROP])
    # the narrow image is padded with 0 on the right, never shifted
    crop = cv2.imread(osp.join(out, 'sior', f'c__{CROP}__0___8.png'))
    assert crop[:, 20:].max() == 0 and crop[:, :20].any()
    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['sota'] == dict(tiles=2, crops=10, written=10, reused=0, failed=0,
                                             unknown_pixels=0)

    # resume: a rerun decodes nothing; a deleted crop is written again, alone
    os.remove(osp.join(out, 'sota', f'a__{CROP}__48___28.png'))
    marker = osp.join(out, '.done', 'sota', 'b.json')
    before = os.stat(osp.join(out, 'sota', f'b__{CROP}__0___0.png')).st_mtime_ns
    assert _run(str(tmp_path / 'samrs'), out) == 0
    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['sota']['written'] == 1 and summary['splits']['sota']['reused'] == 9
    assert summary['splits']['sior']['written'] == 0
    assert os.stat(osp.join(out, 'sota', f'b__{CROP}__0___0.png')).st_mtime_ns == before
    assert osp.isfile(marker) and sorted(open(osp.join(out, 'train.txt')).read().split()) == want
    capsys.readouterr()
    # another geometry in the same folder is refused, naming what differs
    assert _run(str(tmp_path / 'samrs'), out, '--stride', '20') == 2
    assert 'stride' in capsys.readouterr().err
    # --count-only reads headers and writes nothing
    assert _run(str(tmp_path / 'samrs'), str(tmp_path / 'count'), '--count-only') == 0
    assert 'total        3 images ->       12 crops' in capsys.readouterr().out
    assert not osp.exists(tmp_path / 'count')


def test_missing_and_unreadable_images_fail_alone(tmp_path, capsys):
    root = str(tmp_path / 'samrs')
    make_subsets(root)
    with open(osp.join(root, 'sota', 'train.txt'), 'a') as handle:
        handle.write('ghost\nbroken.png\n')
    with open(osp.join(root, 'sota', 'images', 'broken.png'), 'wb') as handle:
        handle.write(b'not a png')
    out = str(tmp_path / 'crops')
    assert _run(root, out, '--nproc', '2') == 1
    printed = capsys.readouterr().out
    assert 'FAILED sota/ghost: ghost is listed in' in printed
    assert 'FAILED sota/broken:' in printed and 'broken.png: not a readable image' in printed
    assert 'total  3 of 5 images -> 12 crops' in printed
    assert len(open(osp.join(out, 'train.txt')).read().split()) == 12


def test_bad_command_lines_are_refused(tmp_path, capsys):
    make_subsets(str(tmp_path / 'samrs'))
    assert tool.main([str(tmp_path / 'samrs' / 'sota'), '-o', str(tmp_path / 'o'),
                      '--list', 'nope.txt']) == 2
    assert 'nope.txt: split list not found' in capsys.readouterr().err
    twice = [str(tmp_path / 'samrs' / 'sota'), str(tmp_path / 'samrs' / 'sota' / '')]
    assert tool.main(twice + ['-o', str(tmp_path / 'o')]) == 2
    assert "are both subset 'sota'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / 'samrs' / 'sota'), '--stride', '0'])


def test_a_real_dior_image_gives_the_nine_sior_crops(tmp_path, shared_data):
    # SIOR keeps DIOR's 800 x 800 images: windows at 0, 300 and 416 (= 800 - 384) per side.
    subset = tmp_path / 'sior'
    os.makedirs(subset / 'images')
    source = osp.join(shared_data, 'dior', 'JPEGImages', '00001.jpg')
    with open(source, 'rb') as src, open(subset / 'images' / '00001.jpg', 'wb') as dst:
        dst.write(src.read())
    (subset / 'train.txt').write_text('00001\n')
    out = str(tmp_path / 'crops')
    assert tool.main([str(subset), '-o', out, '--nproc', '1']) == 0
    image = cv2.imread(source)
    listed = open(osp.join(out, 'train.txt')).read().split()
    assert listed == [f'sior/00001__384__{x}___{y}.png' for y in (0, 300, 416) for x in (0, 300, 416)]
    crop = cv2.imread(osp.join(out, 'sior', '00001__384__416___300.png'))
    np.testing.assert_array_equal(crop, image[300:684, 416:800])
