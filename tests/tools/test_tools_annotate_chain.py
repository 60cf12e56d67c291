"""The annotate part of ``make demo``: split -> samrs_annotate (SOTA, SIOR, FAST) -> make_splits -> datasets.

Runs the shipped configs of configs/annotate on demo/data with the box backend, with paths
given by environment variables (SOTA, SIOR, FAST) and by --cfg-options, and checks that the
outputs load in pycocotools, mmdet's CocoDataset and the SEP datasets.
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT, run_tool

DEMO = osp.join(REPO_ROOT, 'demo', 'data')
CONFIGS = osp.join(REPO_ROOT, 'configs', 'annotate')


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    """SOTA through the tool (paths from environment variables); SIOR and FAST in-process from the
    same configs with the same variables (each tool start costs seconds of imports)."""
    if not osp.isdir(osp.join(DEMO, 'dota')):
        pytest.skip('demo/data not generated (python demo/make_demo_data.py)')
    from mmengine.config import Config

    from samrs_mm.annotate.runner import AnnotateRunner
    from samrs_mm.patches import PRESETS, PatchSettings, crop_dataset
    from samrs_mm.sources import build_source
    root = tmp_path_factory.mktemp('chain')
    crop_dataset(build_source(dict(type='dota', ann_dir=f'{DEMO}/dota/labelTxt', img_dir=f'{DEMO}/dota/images')),
                  str(root / 'dota_split'), PatchSettings(**PRESETS['dota-v2']), progress=False)
    crop_dataset(build_source(dict(type='fair1m', ann_dir=f'{DEMO}/fair1m/labelXml')),
                  str(root / 'fair1m_split'), PatchSettings(**PRESETS['fair1m']), progress=False)
    env = dict(DOTA_SPLIT_ROOT=str(root / 'dota_split'), FAIR1M_SPLIT_ROOT=str(root / 'fair1m_split'),
               DIOR_ROOT=f'{DEMO}/dior', SAMRS_ROOT=str(root / 'samrs'), SAM_BACKEND='box')
    outputs = dict(sota=run_tool(['tools/samrs_annotate.py', osp.join(CONFIGS, 'sota_dotav2-1024_hbox.py'),
                                  '--num-workers', '0', '--no-progress'], env=env).stdout)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for name, config in (('sior', 'sior_dior_hbox.py'), ('fast', 'fast_fair1m2-600_rhbox.py')):
            cfg = Config.fromfile(osp.join(CONFIGS, config))
            plain = {k: cfg[k] for k in ('source', 'engine', 'writer', 'runner', 'work_dir')}
            plain['runner'] = dict(plain['runner'], num_workers=0, progress=False)
            outputs[name] = AnnotateRunner(plain, log=lambda msg: None).run()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    run_tool(['tools/make_splits.py'] + [str(root / 'samrs' / n) for n in ('sota', 'sior', 'fast')])
    return root, outputs


def test_subset_folders(chain):
    root, outputs = chain
    assert 'failed 0' in outputs['sota'] and outputs['fast'].failed == 0
    n_patches = len(os.listdir(root / 'dota_split' / 'images'))
    for name, classes in (('sota', 18), ('sior', 20), ('fast', 37)):
        subset = root / 'samrs' / name
        summary = json.loads((subset / 'summary.json').read_text())
        assert summary['failed'] == 0 and summary['labelled'] == summary['images'] > 0
        assert len(summary['classes']) == classes and summary['objects'] > 0
        stems = sorted(p[:-4] for p in os.listdir(subset / 'semantic'))
        assert stems == sorted(p.rsplit('.', 1)[0] for p in os.listdir(subset / 'images'))
        assert stems == sorted(p[:-5] for p in os.listdir(subset / 'instances'))
        assert (subset / 'train.txt').is_file() and (subset / 'val.txt').is_file()
        label = np.asarray(Image.open(subset / 'semantic' / f'{stems[0]}.png'))
        assert set(np.unique(label)) <= set(range(classes)) | {255}
    assert json.loads((root / 'samrs' / 'sota' / 'summary.json').read_text())['images'] == n_patches
    sior = json.loads((root / 'samrs' / 'sior' / 'summary.json').read_text())
    assert sior['splits']['trainval']['images'] == 4 and sior['splits']['test']['found'] is False
    assert (root / 'samrs' / 'sior' / 'annotations_trainval.json').is_file()
    fast = json.loads((root / 'samrs' / 'fast' / 'instances' / f'{stems[0]}.json').read_text())
    assert {o['prompt'] for o in fast['objects']} == {'rhbox'}


def test_coco_json_loads_in_pycocotools_and_mmdet(chain):
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope
    from pycocotools.coco import COCO

    from samrs_mm.structures.classes import SOTA_CLASSES
    root, _ = chain
    subset = root / 'samrs' / 'sota'
    coco = COCO(str(subset / 'annotations.json'))
    assert len(coco.getImgIds()) == json.loads((subset / 'summary.json').read_text())['images']
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(data_root=str(subset), ann_file='annotations.json', data_prefix=dict(img='images/'),
                              metainfo=dict(classes=SOTA_CLASSES), filter_cfg=dict(filter_empty_gt=False),
                              pipeline=[dict(type='LoadImageFromFile'),
                                        dict(type='LoadAnnotations', with_bbox=True, with_mask=True)])
        sample = dataset[0]
    stem = osp.splitext(osp.basename(sample['img_path']))[0]
    objects = json.loads((subset / 'instances' / f'{stem}.json').read_text())['objects']
    objects = [o for o in objects if o['area'] > 0]
    masks = sample['gt_masks'].to_ndarray()
    assert len(masks) == len(objects) > 0
    from pycocotools import mask as mask_utils
    for mask, obj in zip(masks, objects):
        rle = dict(size=obj['segmentation']['size'], counts=obj['segmentation']['counts'].encode())
        np.testing.assert_array_equal(mask, mask_utils.decode(rle))
    assert sample['gt_bboxes_labels'].tolist() == [o['class_index'] for o in objects]


@pytest.mark.parametrize('name,dataset_type', [('sota', 'SOTADataset'), ('sior', 'SIORDataset'),
                                               ('fast', 'FASTDataset')])
def test_sep_datasets_read_the_subsets(chain, name, dataset_type):
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    root, _ = chain
    subset = str(root / 'samrs' / name)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    with DefaultScope.overwrite_default_scope('mmseg'):
        by_json = DATASETS.build(dict(type=dataset_type, data_root=subset, ann_file='annotations.json',
                                      data_prefix=dict(img_path='images', seg_map_path='semantic'),
                                      pipeline=pipeline))
        by_list = DATASETS.build(dict(type=dataset_type, data_root=subset, ann_file='train.txt',
                                      data_prefix=dict(img_path='images', seg_map_path='semantic'),
                                      pipeline=pipeline))
        sample = by_json[0]
    summary = json.loads(open(osp.join(subset, 'summary.json')).read())
    assert len(by_json) == summary['images'] and 0 < len(by_list) <= len(by_json)
    stem = osp.splitext(osp.basename(sample['img_path']))[0]
    expected = np.asarray(Image.open(osp.join(subset, 'semantic', stem + '.png')))
    np.testing.assert_array_equal(sample['gt_seg_map'], expected)


def test_paths_by_cfg_options_instead_of_environment(chain, tmp_path):
    root, _ = chain
    split = root / 'dota_split'
    run_tool(['tools/samrs_annotate.py', osp.join(CONFIGS, 'sota_dotav2-1024_hbox.py'), '--no-progress',
              '--cfg-options', f'source.ann_dir={split}/labelTxt', f'source.img_dir={split}/images',
              'engine.backend=box', f'work_dir={tmp_path}/sota'])
    for rel in ('annotations.json', 'summary.json'):
        assert (tmp_path / 'sota' / rel).read_bytes() == (root / 'samrs' / 'sota' / rel).read_bytes()


def test_every_annotate_config_parses():
    from mmengine.config import Config
    for name in sorted(os.listdir(CONFIGS)):
        if not name.endswith('.py'):
            continue
        cfg = Config.fromfile(osp.join(CONFIGS, name))
        if name.startswith('scene_'):
            # tools/annotate_scene.py's: boxes come from --boxes, the source names the class list only.
            assert set(cfg.source) == {'class_list'} and cfg.scene.window_size and cfg.engine.prompt
            assert cfg.engine.checkpoint == 'none'
            continue
        assert cfg.source.type in ('dota', 'dior', 'hrsc', 'isaid') and cfg.engine.prompt
        assert cfg.engine.checkpoint == 'none' and cfg.work_dir
