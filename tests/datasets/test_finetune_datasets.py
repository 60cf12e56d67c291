"""Potsdam5Dataset and iSAIDFinetuneDataset on the converters' output of tiny releases."""
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from tests.conftest import run_tool
from tests.tools.test_isaid_converter import make_isaid_release
from tests.tools.test_potsdam_converter import make_potsdam_release


@pytest.fixture(scope='module')
def potsdam_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('potsdam')
    make_potsdam_release(str(root / 'release'))
    run_tool([osp.join('tools', 'dataset_converters', 'potsdam.py'), str(root / 'release'),
              '-o', str(root / 'data'), '--crop-size', '32', '--stride', '20', '--nproc', '1'])
    return str(root / 'data')


@pytest.fixture(scope='module')
def isaid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('isaid')
    make_isaid_release(str(root / 'release'))
    run_tool([osp.join('tools', 'dataset_converters', 'isaid.py'), str(root / 'release'),
              '-o', str(root / 'data'), '--crop-size', '64', '--stride', '32', '--nproc', '1'])
    return str(root / 'data')


def _build(type_name, data_root, split='train', **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(dict(
        type=type_name, data_root=data_root,
        data_prefix=dict(img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')], **kwargs))


def test_potsdam5_ignores_clutter_and_boundary(potsdam_root):
    dataset = _build('Potsdam5Dataset', potsdam_root)
    assert len(dataset) == 40
    assert dataset.metainfo['classes'] == ('impervious_surface', 'building', 'low_vegetation',
                                           'tree', 'car')
    assert len(dataset.metainfo['palette']) == 5
    index = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    # Columns 68..99 of tile 2_10: car band, clutter band, boundary (see the converter test).
    sample = dataset[index.index('2_10_68_0_100_32.png')]
    row = sample['gt_seg_map'][5]
    np.testing.assert_array_equal(row[:12], 4)     # car (file value 5) -> class 4
    np.testing.assert_array_equal(row[12:28], 255)  # clutter (file value 6) -> ignored
    np.testing.assert_array_equal(row[28:], 255)    # boundary (file value 0) -> ignored
    first = dataset[index.index('2_10_0_0_32_32.png')]['gt_seg_map']
    assert (first[2:, :16] == 0).all() and (first[:, 16:32] == 1).all()
    assert (first[0:2, 0:3] == 255).all()           # unknown colour


def test_potsdam_six_class_protocol_on_the_same_files(potsdam_root):
    six = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car', 'clutter')
    dataset = _build('Potsdam5Dataset', potsdam_root, metainfo=dict(classes=six))
    names = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    row = dataset[names.index('2_10_68_0_100_32.png')]['gt_seg_map'][5]
    np.testing.assert_array_equal(row[12:28], 5)    # clutter kept as class 5


def test_potsdam_subset(potsdam_root):
    full = _build('Potsdam5Dataset', potsdam_root)
    small = _build('Potsdam5Dataset', potsdam_root, subset_ratio=0.05)
    again = _build('Potsdam5Dataset', potsdam_root, subset_ratio='5%')
    other = _build('Potsdam5Dataset', potsdam_root, subset_ratio=0.05, subset_seed=3)
    paths = lambda ds: [ds.get_data_info(i)['img_path'] for i in range(len(ds))]  # noqa: E731
    assert len(small) == 2 and paths(small) == paths(again)
    assert set(paths(small)) <= set(paths(full))
    assert paths(other) != paths(small)
    larger = _build('Potsdam5Dataset', potsdam_root, subset_ratio=0.25)
    assert len(larger) == 10 and set(paths(small)) <= set(paths(larger))
    with pytest.raises(ValueError, match='subset_ratio'):
        _build('Potsdam5Dataset', potsdam_root, subset_ratio=2)


def test_isaid_dataset_and_subset(isaid_root):
    dataset = _build('iSAIDFinetuneDataset', isaid_root)
    assert len(dataset) == 13 and len(dataset.metainfo['classes']) == 16
    names = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    label = dataset[names.index('P0000_0_64_0_64.png')]['gt_seg_map']
    assert label[0, 0] == 15 and (label[10:20, 10:30] == 1).all() and (label[1, 0:4] == 255).all()
    small = _build('iSAIDFinetuneDataset', isaid_root, subset_ratio=0.1)
    assert len(small) == 1
    val = _build('iSAIDFinetuneDataset', isaid_root, split='val', test_mode=True)
    assert len(val) == 1
