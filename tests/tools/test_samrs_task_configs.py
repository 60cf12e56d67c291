"""Instance segmentation and rotated detection configs through the stock tools (issue 18 evidence).

Every new config trains 2 iterations (one epoch of two images), validates, and is tested from
its checkpoint by ``tools/train.py`` / ``tools/test.py`` on data made here: SAMRS subsets
labelled by the annotate runner, iSAID crops from ``tools/dataset_converters/isaid_instances.py``
(next to the semantic converter's), DIOR-R xml and DOTA-v1.0 patches. The ``-sep`` configs
start from tiny SEP checkpoints converted by ``tools/convert_sep_checkpoint.py --target
detector``, which must load key for key with only the detector's neck and heads fresh; their
``-imp`` parents differ only in the backbone's ImageNet download, which tests cannot make.

The tools run in this process (``runpy``, the same code path as the command line) to spare
an interpreter start-up per run; models are shrunk (ResNet-18 / Swin with 8-16 channels), and
mmengine's config pretty-printing skips yapf (tests/tool_env: 5 formatting passes per run were most of its
time; the dumped configs stay valid Python, only unformatted).
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from tests.conftest import REPO_ROOT

TINY_RESNET = "dict(depth=18, stem_channels=8, base_channels=8, init_cfg=None)"
TINY_SWIN = ("dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=7, "
             "drop_path_rate=0.0)")
TINY_HEADS = """
c = 16
model = dict(
    backbone={backbone},
    neck=dict(in_channels={channels}, out_channels=c),
    rpn_head=dict(in_channels=c, feat_channels=c),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=c), bbox_head=dict(in_channels=c, fc_out_channels=32){mask}),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rpn_proposal=dict(nms_pre=200, max_per_img=100),
                   rcnn=dict(sampler=dict(num=32))),
    # a random model scores ~1 / classes: a low threshold keeps a few predictions to evaluate
    test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=20), rcnn=dict(max_per_img=10, score_thr=0.01)))
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False{serialize})
val_dataloader = dict(num_workers=0, persistent_workers=False{serialize})
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)  # one epoch of the two training images, then validation
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)
"""
MASK_HEADS = (", mask_roi_extractor=dict(out_channels=c), "
              "mask_head=dict(num_convs=1, in_channels=c, conv_out_channels=c)")
# config (relative to configs/) -> (backbone override, FPN input channels, classes + 1)
RESNET8 = '[8, 16, 32, 64]'
CONFIGS = {
    'instance/mask-rcnn_r50_fpn_1x_sota.py': (TINY_RESNET, RESNET8, 19),
    'instance/mask-rcnn_r50_fpn_1x_sior.py': (TINY_RESNET, RESNET8, 21),
    'instance/mask-rcnn_r50_fpn_1x_fast.py': (TINY_RESNET, RESNET8, 38),
    'instance/mask-rcnn_swin-t-sep_fpn_1x_sota.py': (TINY_SWIN, '[16, 32, 64, 128]', 19),
    'rotated/oriented-rcnn-le90_r50_fpn_1x_sota.py': (TINY_RESNET, RESNET8, 19),
    'rotated/oriented-rcnn-le90_r50_fpn_1x_sior.py': (TINY_RESNET, RESNET8, 21),
    'rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py': (TINY_RESNET, RESNET8, 38),
    'finetune/isaid_instance/mask-rcnn_r50-imp-sep_fpn_1x_isaid-896x896.py': (TINY_RESNET, RESNET8, 16),
    'finetune/dior_r/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dior-r.py': (TINY_RESNET, RESNET8, 21),
    'finetune/dota_v1/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dota-v1-1024.py': (TINY_RESNET, RESNET8, 16),
}
# SEP checkpoint (tiny) each -sep config is initialised from.
SEP_INITS = {'instance/mask-rcnn_swin-t-sep_fpn_1x_sota.py': 'swin'}
ISAID_NAMES = ['ship', 'storage_tank', 'baseball_diamond', 'tennis_court', 'basketball_court',
               'Ground_Track_Field', 'Bridge', 'Large_Vehicle', 'Small_Vehicle', 'Helicopter', 'Swimming_pool',
               'Roundabout', 'Soccer_ball_field', 'plane', 'Harbor']


def _tool(path):
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0] + '_under_test',
                                                  osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run_stock(script, *args):
    """Run ``tools/<script>`` with a command line, in this process."""
    argv = sys.argv
    sys.argv = [osp.join(REPO_ROOT, 'tools', script)] + [str(a) for a in args]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        sys.argv = argv


def _tiny_config(path, config, backbone, channels):
    base = osp.join(REPO_ROOT, 'configs', config)
    mask = MASK_HEADS if 'mask-rcnn' in config else ''
    # DIOR-R trains on a ConcatDataset, which takes no serialize_data.
    serialize = '' if 'dior_r' in config else ', dataset=dict(serialize_data=False)'
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n' + TINY_HEADS.format(backbone=backbone, channels=channels, mask=mask,
                                                              serialize=serialize))
    return path


# ------------------------------------------------------------------------------ data
def _poly(cx, cy, r, n, a0=0.3):
    a = a0 + np.arange(n) * 2 * np.pi / n
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1).reshape(-1).round(1).tolist()


ISAID_RELEASE = {  # split -> image -> (height, width, [(category id, polygon)])
    'train': {'P0000': (64, 96, [(1, _poly(20, 30, 12, 6)), (14, _poly(50, 30, 16, 8)), (8, _poly(80, 20, 9, 5))])},
    'val': {'P0100': (40, 50, [(3, _poly(25, 20, 12, 7))])},
}


def make_isaid_release(root):
    """An iSAID release in miniature: images, semantic colour masks, instance json per split."""
    from samrs_mm.sources.isaid import ISAID_PALETTE
    colours = list(ISAID_PALETTE)
    rng = np.random.default_rng(0)
    for split, images in ISAID_RELEASE.items():
        for sub in ('images', 'Semantic_masks', 'Annotations'):
            os.makedirs(osp.join(root, split, sub), exist_ok=True)
        coco = dict(images=[], annotations=[], categories=[dict(id=i + 1, name=n) for i, n in enumerate(ISAID_NAMES)])
        for image_id, (key, (height, width, objects)) in enumerate(images.items()):
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            label = np.zeros((height, width, 3), np.uint8)
            for cat, polygon in objects:
                pts = np.round(np.asarray(polygon).reshape(-1, 2)).astype(np.int32)
                cv2.fillPoly(image, [pts], (200, 60 * (cat % 4), 40))
                cv2.fillPoly(label, [pts], colours[cat - 1][::-1])  # BGR
                coco['annotations'].append(dict(id=len(coco['annotations']) + 1, image_id=image_id,
                                                category_id=cat, segmentation=[polygon], iscrowd=0))
            cv2.imwrite(osp.join(root, split, 'images', key + '.png'), image)
            cv2.imwrite(osp.join(root, split, 'Semantic_masks', key + '_instance_color_RGB.png'), label)
            coco['images'].append(dict(id=image_id, file_name=key + '.png', height=height, width=width))
        with open(osp.join(root, split, 'Annotations', f'iSAID_{split}.json'), 'w') as f:
            json.dump(coco, f)


def make_dior_r(root, source):
    """DIOR-R layout from the tiny SIOR source scenes (DOTA-format quads): two trainval, one test."""
    from samrs_mm.sources.dior import ROBNDBOX_FIELDS
    stems = sorted(osp.splitext(n)[0] for n in os.listdir(osp.join(source, 'labelTxt')))
    lists = {'train': stems[:1], 'val': stems[1:2], 'test': stems[2:3]}
    os.makedirs(osp.join(root, 'Annotations', 'Oriented Bounding Boxes'))
    os.makedirs(osp.join(root, 'ImageSets', 'Main'))
    for split, names in lists.items():
        folder = osp.join(root, 'JPEGImages-test' if split == 'test' else 'JPEGImages-trainval')
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(root, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
            f.write(''.join(n + '\n' for n in names))
        for name in names:
            os.symlink(osp.join(source, 'images', name + '.jpg'), osp.join(folder, name + '.jpg'))
            objects = []
            for line in open(osp.join(source, 'labelTxt', name + '.txt')).read().split('\n'):
                if not line.strip():
                    continue
                parts = line.split()
                corners = ''.join(f'<{fx}>{parts[2 * i]}</{fx}><{fy}>{parts[2 * i + 1]}</{fy}>'
                                  for i, (fx, fy) in enumerate(ROBNDBOX_FIELDS))
                objects.append(f'<object><name>{parts[8]}</name><robndbox>{corners}</robndbox></object>')
            with open(osp.join(root, 'Annotations', 'Oriented Bounding Boxes', name + '.xml'), 'w') as f:
                f.write('<annotation><size><width>128</width><height>128</height><depth>3</depth></size>'
                        + ''.join(objects) + '</annotation>')


def make_dota_patches(root, source):
    """DOTA-v1.0 patches in mmrotate's layout (images/ + header-free labelTxt/): two train, one val."""
    stems = sorted(osp.splitext(n)[0] for n in os.listdir(osp.join(source, 'labelTxt')))
    for split, names in (('train', stems[:2]), ('val', stems[2:])):
        for sub, ext in (('images', '.png'), ('labelTxt', '.txt')):
            os.makedirs(osp.join(root, split, sub))
            for name in names:
                os.symlink(osp.join(source, sub, name + ext), osp.join(root, split, sub, name + ext))


def tiny_sep_checkpoint(path, config, overrides):
    """A SEP checkpoint (random weights) of ``configs/sep/<config>`` shrunk by ``overrides``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'sep', config))
    cfg.merge_from_dict(overrides)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    torch.save(dict(meta=dict(), state_dict=state), path)
    return state


# ------------------------------------------------------------------------------ fixture
@pytest.fixture(scope='module')
def runs(samrs_objects, tmp_path_factory):
    """Convert, train and test every config once; the tests below read what the runs left."""
    root, _ = samrs_objects
    work = tmp_path_factory.mktemp('samrs_tasks')
    out = dict(root=root, work=str(work), conversions={}, seps={})
    # iSAID: the instance converter into the semantic converter's folder, and alone.
    make_isaid_release(str(work / 'isaid_src'))
    isaid = str(work / 'isaid')
    crop = ['--crop-size', '64', '--stride', '32', '--nproc', '1']
    assert _tool('tools/dataset_converters/isaid.py').main([str(work / 'isaid_src'), '-o', isaid] + crop) == 0
    instances = _tool('tools/dataset_converters/isaid_instances.py')
    assert instances.main([str(work / 'isaid_src'), '-o', isaid] + crop) == 0
    assert instances.main([str(work / 'isaid_src'), '-o', str(work / 'isaid_alone')] + crop) == 0
    make_dior_r(str(work / 'dior'), osp.join(root, '_source', 'sior'))
    make_dota_patches(str(work / 'dota'), osp.join(root, '_source', 'sota'))
    out['seps']['r50'] = tiny_sep_checkpoint(str(work / 'sep_r50.pth'), 'upernet_r50.py', {
        'model.backbone.depth': 18, 'model.backbone.stem_channels': 8, 'model.backbone.base_channels': 8,
        'model.decode_head.in_channels': [8, 16, 32, 64], 'model.decode_head.channels': 16,
        'model.auxiliary_head.in_channels': 32, 'model.auxiliary_head.channels': 16})
    out['seps']['swin'] = tiny_sep_checkpoint(str(work / 'sep_swin.pth'), 'upernet_swin_t.py', {
        'model.backbone.embed_dims': 16, 'model.backbone.depths': [1, 1, 1, 1],
        'model.backbone.num_heads': [1, 1, 1, 1], 'model.decode_head.in_channels': [16, 32, 64, 128],
        'model.decode_head.channels': 16, 'model.auxiliary_head.in_channels': 64,
        'model.auxiliary_head.channels': 16})
    converter = _tool('tools/convert_sep_checkpoint.py')
    env = dict(SAMRS_DATA_ROOT=root, ISAID_ROOT=isaid, DIOR_ROOT=str(work / 'dior'),
               DOTA_V1_SPLIT_ROOT=str(work / 'dota'))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for k, (config, (backbone, channels, _)) in enumerate(CONFIGS.items()):
            tiny = _tiny_config(str(work / f'tiny{k}.py'), config, backbone, channels)
            if '-sep' in config:
                sep = SEP_INITS.get(config, 'r50')
                init = str(work / f'init{k}.pth')
                assert converter.main([str(work / f'sep_{sep}.pth'), init, '--target', 'detector',
                                       '--config', tiny]) == 0
                out['conversions'][config] = (init, tiny, sep)
                patch.setenv('SAMRS_SEP_INIT', init)
            run_dir = str(work / f'run{k}')
            # One process runs them all: each runner gets its own visualizer (mmengine keeps
            # instances by name, and a reused one would log into the first run's folder).
            _run_stock('train.py', tiny, '--work-dir', run_dir, '--cfg-options', f'visualizer.name=train{k}')
            _run_stock('test.py', tiny, osp.join(run_dir, 'epoch_1.pth'), '--work-dir', osp.join(run_dir, 'test'),
                       '--cfg-options', f'visualizer.name=test{k}')
            out[config] = run_dir
    return out


def _records(run_dir):
    path, = glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _test_metrics(run_dir):
    found = glob.glob(osp.join(run_dir, 'test', '*', '*.json'))
    assert len(found) == 1, (found, sorted(glob.glob(osp.join(run_dir, '**'), recursive=True)))
    path = found[0]
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------------------ tests
@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_config_trains_two_iterations_and_tests(runs, config):
    run_dir = runs[config]
    records = _records(run_dir)
    losses = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in losses] == [1, 2] and all(np.isfinite(r['loss']) for r in losses)
    parts = 'loss_mask' if 'mask-rcnn' in config else 'loss_bbox'
    assert all(parts in r and 'loss_rpn_cls' in r for r in losses)
    (val,) = [r for r in records if 'loss' not in r]
    test = _test_metrics(run_dir)
    keys = (['coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'] if 'mask-rcnn' in config
            else ['dota/mAP', 'dota/AP50'])
    assert all(0.0 <= test[k] <= 1.0 for k in keys)
    # The same weights on the same images: the test tool reproduces the validation metrics.
    assert [test[k] for k in keys] == [val[k] for k in keys]
    state = torch.load(osp.join(run_dir, 'epoch_1.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert state['roi_head.bbox_head.fc_cls.weight'].shape[0] == CONFIGS[config][2]


def test_sep_checkpoints_load_key_for_key_into_the_detectors(runs):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    assert len(runs['conversions']) == 4
    for config, (init, tiny, sep) in runs['conversions'].items():
        converted = torch.load(init, map_location='cpu', weights_only=False)
        sep_state = runs['seps'][sep]
        backbone = {k: v for k, v in sep_state.items() if k.startswith('backbone.')}
        assert set(converted['state_dict']) == set(backbone)
        assert all(torch.equal(converted['state_dict'][k], v) for k, v in backbone.items())
        assert converted['meta']['target'] == 'detector'
        cfg = Config.fromfile(tiny)
        init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
        missing, unexpected = model.load_state_dict(converted['state_dict'], strict=False)
        assert unexpected == []
        assert missing and {k.split('.')[0] for k in missing} <= {'neck', 'rpn_head', 'roi_head'}
        assert not any(k.startswith('backbone.') for k in missing)
        # The run really started from it: the first training step moved the backbone only a little.
        tuned = torch.load(osp.join(runs[config], 'epoch_1.pth'), map_location='cpu',
                           weights_only=False)['state_dict']
        first = sorted(k for k in backbone if k.endswith('weight') and backbone[k].dim() == 4)[0]
        assert torch.allclose(tuned[first], backbone[first], atol=0.05)
    # A SEP backbone that is not the detector's is refused, nothing written.
    init, tiny, _ = runs['conversions']['finetune/dior_r/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dior-r.py']
    wrong = osp.join(runs['work'], 'wrong.pth')
    converter = _tool('tools/convert_sep_checkpoint.py')
    assert converter.main([osp.join(runs['work'], 'sep_swin.pth'), wrong, '--target', 'detector',
                           '--config', tiny]) == 1
    assert not osp.exists(wrong)


def test_isaid_instance_crops_match_the_semantic_crops(runs):
    work = runs['work']
    isaid, alone = osp.join(work, 'isaid'), osp.join(work, 'isaid_alone')
    for split, images in ISAID_RELEASE.items():
        shared = sorted(os.listdir(osp.join(isaid, 'img_dir', split)))
        assert shared == sorted(os.listdir(osp.join(alone, 'img_dir', split)))
        for name in shared:  # the same windows, names and pixels as the semantic converter's
            assert open(osp.join(isaid, 'img_dir', split, name), 'rb').read() == \
                open(osp.join(alone, 'img_dir', split, name), 'rb').read()
        with open(osp.join(isaid, 'annotations', f'instances_{split}.json')) as f:
            coco = json.load(f)
        assert [c['name'] for c in coco['categories']] == ISAID_NAMES
        assert sorted(img['file_name'] for img in coco['images']) == shared
        (key, (height, width, objects)), = images.items()
        full = [mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([p], height, width))).astype(bool)
                for _, p in objects]
        for image in coco['images']:
            y0, y1, x0, x1 = (int(v) for v in osp.splitext(image['file_name'])[0].split('_')[1:])
            anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
            want = []
            for (cat, _), mask in zip(objects, full):
                window = np.zeros((64, 64), bool)
                part = mask[y0:min(y1, height), x0:min(x1, width)]
                window[:part.shape[0], :part.shape[1]] = part
                if window.any():
                    want.append((cat, window))
            assert [a['category_id'] for a in anns] == [cat for cat, _ in want]
            for ann, (_, window) in zip(anns, want):
                rle = dict(size=ann['segmentation']['size'], counts=ann['segmentation']['counts'].encode())
                np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), window)
                assert ann['area'] == window.sum()
                assert ann['bbox'] == [float(v) for v in mask_utils.toBbox(rle)]
    # train: one 64 x 96 image -> 2 crops; val: one 40 x 50 image, padded to one crop.
    assert sorted(os.listdir(osp.join(isaid, 'img_dir', 'train'))) == ['P0000_0_64_0_64.png', 'P0000_0_64_32_96.png']
    assert os.listdir(osp.join(isaid, 'img_dir', 'val')) == ['P0100_0_64_0_64.png']
