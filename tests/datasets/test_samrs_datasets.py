"""SOTA / SIOR / FAST datasets, the two file layouts, the split tool, the augmentations."""
import json
import os.path as osp

import numpy as np
import pytest

import samrs_mm  # noqa: F401
from samrs_mm.datasets import FASTDataset, SIORDataset, SOTADataset
from samrs_mm.datasets.samrs import make_palette
from samrs_mm.datasets.splits import split_names
from samrs_mm.datasets.subset_tagging import TagSubset
from samrs_mm.datasets.transforms import RandomGamma, RandomRot90
from tests.conftest import run_tool
from tests.toy_data import write_samrs_like_dataset


def test_class_lists_follow_the_paper_order():
    sota = SOTADataset.METAINFO['classes']
    assert len(sota) == 18 and sota[0] == 'large-vehicle' and sota[9] == 'small-vehicle'
    assert sota[-1] == 'helipad'
    sior = SIORDataset.METAINFO['classes']
    assert len(sior) == 20 and sior[6] == 'expressway-service-area' and sior[-1] == 'windmill'
    fast = FASTDataset.METAINFO['classes']
    assert len(fast) == 37 and fast[0] == 'A220' and fast[24] == 'other-airplane'
    assert fast[-1] == 'Warship'


def test_palettes_are_fixed_and_distinct():
    palette = make_palette(37)
    assert palette == make_palette(37)
    assert len({tuple(c) for c in palette}) == 37
    assert palette[:2] == [[191, 67, 67], [12, 79, 242]]  # hue 0 / 0.618, fixed s and v
    assert FASTDataset.METAINFO['palette'] == palette


def test_official_layout_with_split_lists(tmp_path):
    write_samrs_like_dataset(str(tmp_path), {'sota': 3, 'sior': 2, 'fast': 1}, num_val=1)
    train = SOTADataset(data_root=str(tmp_path / 'sota'), ann_file='train.txt',
                        data_prefix=dict(img_path='images', seg_map_path='semantic'), pipeline=[])
    assert len(train) == 3
    info = train.get_data_info(0)
    assert info['img_path'].endswith('sota/images/sota_000.png')
    assert info['seg_map_path'].endswith('sota/semantic/sota_000.png')
    sior = SIORDataset(data_root=str(tmp_path / 'sior'), ann_file='val.txt',
                       data_prefix=dict(img_path='images', seg_map_path='semantic'), pipeline=[])
    assert len(sior) == 1 and sior.get_data_info(0)['img_path'].endswith('.jpg')


def test_annotate_tool_layout_from_coco_json(tmp_path):
    write_samrs_like_dataset(str(tmp_path), {'fast': 2}, num_val=0)
    coco = dict(images=[dict(id=1, file_name='fast_001.png', width=64, height=64),
                        dict(id=2, file_name='fast_000.png', width=64, height=64)],
                annotations=[], categories=[])
    (tmp_path / 'fast' / 'annotations.json').write_text(json.dumps(coco))
    ds = FASTDataset(data_root=str(tmp_path / 'fast'), ann_file='annotations.json',
                     data_prefix=dict(img_path='images', seg_map_path='semantic'), pipeline=[])
    assert [osp.basename(ds.get_data_info(i)['seg_map_path']) for i in range(2)] == [
        'fast_000.png', 'fast_001.png']


def test_bad_annotation_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        SOTADataset(data_root=str(tmp_path), ann_file='missing.txt', pipeline=[])
    (tmp_path / 'broken.json').write_text('{"images": ')
    with pytest.raises(ValueError, match='broken.json'):
        SOTADataset(data_root=str(tmp_path), ann_file='broken.json', pipeline=[])


def test_paper_split_sizes():
    totals = [0, 0]
    for size in (17480, 11725, 64147):
        train, val = split_names([f'{i:06d}' for i in range(size)])
        totals[0] += len(train)
        totals[1] += len(val)
        assert not set(train) & set(val)
    assert totals == [88685, 4667]  # paper: 88,685 train / 4,667 val


def test_split_is_deterministic_by_seed():
    names = [f'n{i}' for i in range(200)]
    assert split_names(names, seed=1) == split_names(list(reversed(names)), seed=1)
    assert split_names(names, seed=1)[1] != split_names(names, seed=2)[1]
    assert len(split_names(names)[1]) == 10


def test_make_splits_tool(tmp_path):
    write_samrs_like_dataset(str(tmp_path), {'sota': 30, 'sior': 20}, num_val=0)
    (tmp_path / 'keep.txt').write_text('\n'.join(f'sior_{i:03d}' for i in range(10)) + '\n')
    run_tool(['tools/make_splits.py', str(tmp_path / 'sota'), '--seed', '3'])
    train = (tmp_path / 'sota' / 'train.txt').read_text().split()
    val = (tmp_path / 'sota' / 'val.txt').read_text().split()
    assert len(train) == 29 and len(val) == 1 and (train, val) == tuple(
        split_names([f'sota_{i:03d}' for i in range(30)], seed=3))
    run_tool(['tools/make_splits.py', str(tmp_path / 'sior'), '--include', str(tmp_path / 'keep.txt')])
    assert len((tmp_path / 'sior' / 'train.txt').read_text().split()) == 10


def test_tag_source_and_rot90_and_gamma():
    results = TagSubset('sior', 1)(dict())
    assert results['subset'] == 'sior' and results['subset_index'] == 1
    with pytest.raises(ValueError):
        TagSubset('')
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    seg = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.random.seed(0)
    rotated = RandomRot90(prob=1.0)(dict(img=img.copy(), gt_seg_map=seg.copy(), seg_fields=['gt_seg_map']))
    k = rotated['rot90_k']
    assert k in (1, 2, 3)
    assert np.array_equal(rotated['img'], np.rot90(img, k))
    assert np.array_equal(rotated['gt_seg_map'], np.rot90(seg, k))
    assert rotated['img_shape'] == rotated['img'].shape[:2]
    untouched = RandomRot90(prob=0.0)(dict(img=img.copy(), seg_fields=[]))
    assert untouched['rot90_k'] == 0 and np.array_equal(untouched['img'], img)
    gamma = RandomGamma(gamma_range=(2.0, 2.0), prob=1.0)(dict(img=np.array([[[0, 128, 255]]], np.uint8)))
    assert gamma['img'].tolist() == [[[0, 64, 255]]]  # 255 * (128/255)^2 = 64.25


def test_eval_center_crop_makes_the_crop_the_original():
    from samrs_mm.datasets.transforms import EvalCenterCrop
    img = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    seg = np.arange(48, dtype=np.uint8).reshape(6, 8)
    out = EvalCenterCrop(crop_size=4)(dict(img=img, gt_seg_map=seg, img_shape=(6, 8), ori_shape=(6, 8)))
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == (4, 4)
    assert out['ori_shape'] == out['img_shape'] == (4, 4)
    assert np.array_equal(out['gt_seg_map'], seg[1:5, 2:6])
