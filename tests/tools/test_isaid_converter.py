"""tools/dataset_converters/isaid.py on a tiny release in the official iSAID layout."""
import json
import os
import os.path as osp
import zipfile

import cv2
import numpy as np

from tests.conftest import run_tool

TOOL = osp.join('tools', 'dataset_converters', 'isaid.py')
CROP, STRIDE = 64, 32
SHIP, PLANE, HARBOR = (0, 0, 63), (0, 127, 255), (0, 100, 155)


def _png_bytes(rgb):
    ok, data = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def _pair(height, width, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label = np.zeros((height, width, 3), np.uint8)       # background
    label[10:20, 10:30] = SHIP
    label[height - 10:, width - 12:] = PLANE
    label[0, 0] = HARBOR
    label[1, 0:4] = (9, 9, 9)                           # not an iSAID colour
    return image, label


def make_isaid_release(root):
    """train/ as archives (images/partN.zip, Semantic_masks/images.zip); val/ extracted."""
    pairs = {'P0000': _pair(100, 150, 0), 'P0007': _pair(40, 50, 1), 'P0100': _pair(64, 64, 2)}
    os.makedirs(osp.join(root, 'train', 'images'))
    os.makedirs(osp.join(root, 'train', 'Semantic_masks'))
    with zipfile.ZipFile(osp.join(root, 'train', 'images', 'part1.zip'), 'w') as part:
        part.writestr('images/P0000.png', _png_bytes(pairs['P0000'][0]))
        part.writestr('images/P0007.png', _png_bytes(pairs['P0007'][0]))
        part.writestr('images/P0099.png', _png_bytes(pairs['P0007'][0]))  # no label
    with zipfile.ZipFile(osp.join(root, 'train', 'Semantic_masks', 'images.zip'), 'w') as masks:
        for key in ('P0000', 'P0007'):
            masks.writestr(f'images/{key}_instance_color_RGB.png', _png_bytes(pairs[key][1]))
            masks.writestr(f'images/{key}_instance_id_RGB.png', _png_bytes(pairs[key][1] * 0 + 7))
    for sub in ('images', 'Semantic_masks/images'):
        os.makedirs(osp.join(root, 'val', sub))
    cv2.imwrite(osp.join(root, 'val', 'images', 'P0100.png'),
                cv2.cvtColor(pairs['P0100'][0], cv2.COLOR_RGB2BGR))
    cv2.imwrite(osp.join(root, 'val', 'Semantic_masks', 'images', 'P0100_instance_color_RGB.png'),
                cv2.cvtColor(pairs['P0100'][1], cv2.COLOR_RGB2BGR))
    return pairs


def test_converts_official_layout_and_resumes(tmp_path):
    src, out = str(tmp_path / 'iSAID'), str(tmp_path / 'isaid_patches')
    pairs = make_isaid_release(src)
    proc = run_tool([TOOL, src, '-o', out, '--crop-size', str(CROP), '--stride', str(STRIDE),
                     '--nproc', '2'], timeout=300)
    assert "1 image(s) without a *_instance_color_RGB.png label were skipped: ['P0099']" in proc.stdout

    train = sorted(os.listdir(osp.join(out, 'img_dir', 'train')))
    # P0000: rows 100 -> starts [0, 32, 36]; columns 150 -> [0, 32, 64, 86]: 12 crops.
    # P0007 (40 x 50) is padded to one 64 x 64 crop.
    assert len(train) == 13
    assert 'P0000_36_100_86_150.png' in train and 'P0007_0_64_0_64.png' in train
    anns = sorted(os.listdir(osp.join(out, 'ann_dir', 'train')))
    assert anns == sorted(n[:-4] + '_instance_color_RGB.png' for n in train)
    assert os.listdir(osp.join(out, 'img_dir', 'val')) == ['P0100_0_64_0_64.png']

    image = cv2.cvtColor(cv2.imread(osp.join(out, 'img_dir', 'train', 'P0000_36_100_86_150.png')),
                         cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(image, pairs['P0000'][0][36:100, 86:150])

    label = cv2.imread(osp.join(out, 'ann_dir', 'train', 'P0000_0_64_0_64_instance_color_RGB.png'),
                       cv2.IMREAD_UNCHANGED)
    assert label.ndim == 2 and label.dtype == np.uint8
    assert label[0, 0] == 15                       # harbor
    assert (label[1, 0:4] == 255).all()            # unknown colour -> ignore
    assert (label[10:20, 10:30] == 1).all()        # ship
    assert (label[2:10] == 0).all()                # background
    corner = cv2.imread(osp.join(out, 'ann_dir', 'train', 'P0000_36_100_86_150_instance_color_RGB.png'),
                        cv2.IMREAD_UNCHANGED)
    assert (corner[-10:, -12:] == 14).all()        # plane

    padded = cv2.imread(osp.join(out, 'ann_dir', 'train', 'P0007_0_64_0_64_instance_color_RGB.png'),
                        cv2.IMREAD_UNCHANGED)
    assert (padded[40:, :] == 255).all() and (padded[:, 50:] == 255).all()  # padding ignored
    assert padded[39, 49] == 14                    # the plane corner of the 40 x 50 image
    padded_image = cv2.imread(osp.join(out, 'img_dir', 'train', 'P0007_0_64_0_64.png'))
    assert (padded_image[40:] == 0).all()

    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['train']['crops'] == 13 and summary['splits']['val']['crops'] == 1

    again = run_tool([TOOL, src, '-o', out, '--crop-size', str(CROP), '--stride', str(STRIDE),
                      '--nproc', '1'])
    summary = json.load(open(osp.join(out, 'conversion_summary.json')))
    assert summary['splits']['train']['written'] == 0 and summary['splits']['train']['reused'] == 13
    assert again.returncode == 0


def test_strict_and_missing_inputs(tmp_path):
    src = str(tmp_path / 'iSAID')
    make_isaid_release(src)
    strict = run_tool([TOOL, src, '-o', str(tmp_path / 'o'), '--crop-size', str(CROP),
                       '--stride', str(STRIDE), '--strict', '--splits', 'val'], check=False)
    assert strict.returncode == 1
    assert 'P0100_instance_color_RGB.png' in strict.stdout and '(9, 9, 9)' in strict.stdout

    nothing = run_tool([TOOL, str(tmp_path / 'empty_dir_that_is_missing'), '-o',
                        str(tmp_path / 'o2')], check=False)
    assert nothing.returncode == 2 and 'no labelled iSAID image found' in nothing.stderr
