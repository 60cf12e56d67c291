"""SAMRS instance (mmdet) and rotated (mmrotate) datasets on the annotate tool's output and the
official release's per-image pickles: same lists and class orders as SEP, boxes from the masks."""
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import samrs_mm  # noqa: F401
from samrs_mm.structures.boxes import normalize_angle_le90, rbox_to_hbox
from samrs_mm.structures.classes import FAST_CLASSES, SIOR_CLASSES, SOTA_CLASSES

DET_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackDetInputs')]
ROT_PIPELINE = [dict(type='mmdet.LoadImageFromFile'),
                dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
                dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
                dict(type='mmdet.PackDetInputs')]


def _build_det(**cfg):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    # serialize_data=False: mmengine's serialisation runs gc.collect(), ~1 s in a big process.
    return DATASETS.build(dict(cfg, serialize_data=False))


def _build_rot(**cfg):
    from mmengine.registry import init_default_scope

    from samrs_mm.datasets import samrs_rotated  # imports mmrotate (through the compat shim)
    init_default_scope('mmrotate')
    return samrs_rotated.DATASETS.build(dict(cfg, serialize_data=False))


def _instance_json(root, subset, name):
    with open(osp.join(root, subset, 'instances', name + '.json'), encoding='utf-8') as f:
        return json.load(f)


def _summary(dataset):
    """Per image path: [(label, bbox, RLE counts)] of every instance."""
    out = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        out[info['img_path']] = [(inst['bbox_label'], [float(v) for v in inst['bbox']], inst['mask']['counts'])
                                 for inst in info['instances']]
    return out


def _write_release_pickles(root, subset, names, rotated):
    """The official release's ins/<name>.pkl written from our instance files (prompt box kept)."""
    os.makedirs(osp.join(root, subset, 'ins'), exist_ok=True)
    for name in names:
        objects = []
        for obj in _instance_json(root, subset, name)['objects']:
            entry = dict(mask=obj['segmentation'], category=obj['class_name'], label=np.int64(obj['class_index']),
                         size=np.int64(obj['area']))
            if rotated:  # the RH-Box runs keep the corners and the prompt box
                entry['rbox'] = np.asarray(obj['quad'], dtype=np.float64)
                entry['rhbox'] = rbox_to_hbox(obj['rbox'])
            else:        # the H-Box runs keep the prompt box only
                entry['bbox'] = np.asarray(obj['hbox'], dtype=np.float32)
            objects.append(entry)
        with open(osp.join(root, subset, 'ins', name + '.pkl'), 'wb') as f:
            pickle.dump(objects, f)


def test_class_orders_and_lists_match_sep(samrs_objects):
    from mmdet.registry import DATASETS as DET
    from mmseg.registry import DATASETS as SEG
    root, _ = samrs_objects
    for subset, classes in (('SOTA', SOTA_CLASSES), ('SIOR', SIOR_CLASSES), ('FAST', FAST_CLASSES)):
        assert DET.get(f'{subset}InstanceDataset').METAINFO['classes'] == classes == \
            SEG.get(f'{subset}Dataset').METAINFO['classes']
    sep = SEG.build(dict(type='SIORDataset', data_root=osp.join(root, 'sior'), ann_file='train.txt',
                         data_prefix=dict(img_path='images', seg_map_path='semantic'), serialize_data=False))
    det = _build_det(type='SIORInstanceDataset', data_root=osp.join(root, 'sior'), ann_file='train.txt')
    assert [sep.get_data_info(i)['img_path'] for i in range(len(sep))] == \
        [det.get_data_info(i)['img_path'] for i in range(len(det))]
    rot = _build_rot(type='SIORRotatedDataset', data_root=osp.join(root, 'sior'), ann_file='val.txt')
    assert [rot.get_data_info(0)['img_path']] == [osp.join(root, 'sior', 'images', 'sior_02.jpg')]


def test_instances_from_annotate_output_agree_with_its_coco_json(samrs_objects):
    root, names = samrs_objects
    listed = _build_det(type='SOTAInstanceDataset', data_root=osp.join(root, 'sota'), ann_file='train.txt',
                        pipeline=DET_PIPELINE)
    assert len(listed) == 2
    for i, name in enumerate(names['sota'][:2]):
        info = listed.get_data_info(i)
        objects = _instance_json(root, 'sota', name)['objects']
        assert (info['height'], info['width']) == (128, 128) and osp.isfile(info['img_path'])
        assert [inst['bbox_label'] for inst in info['instances']] == [0, 1, 2]
        for inst, obj in zip(info['instances'], objects):
            rle = dict(size=obj['segmentation']['size'], counts=obj['segmentation']['counts'].encode())
            x, y, w, h = mask_utils.toBbox(rle)
            assert inst['bbox'] == [x, y, x + w, y + h]  # the mask's box, not the source's
            assert inst['mask'] == obj['segmentation'] and inst['ignore_flag'] == 0
        sample = listed[i]['data_samples']
        masks = sample.gt_instances.masks.masks
        for mask, obj in zip(masks, objects):
            rle = dict(size=obj['segmentation']['size'], counts=obj['segmentation']['counts'].encode())
            np.testing.assert_array_equal(mask, mask_utils.decode(rle))
    # annotations.json (COCO, all three images) through CocoDataset: the same objects.
    coco = _build_det(type='SOTAInstanceDataset', data_root=osp.join(root, 'sota'), ann_file='annotations.json',
                      data_prefix=dict(img='images'))
    by_path = _summary(coco)
    for path, objects in _summary(listed).items():
        assert by_path[path] == objects


def test_official_release_pickles_read_like_the_json(samrs_objects):
    root, names = samrs_objects
    for subset, rotated in (('sior', False), ('fast', True)):
        _write_release_pickles(root, subset, names[subset], rotated)
        kind = subset.upper()
        ours = _build_det(type=f'{kind}InstanceDataset', data_root=osp.join(root, subset), ann_file='train.txt')
        release = _build_det(type=f'{kind}InstanceDataset', data_root=osp.join(root, subset), ann_file='train.txt',
                             data_prefix=dict(img='images', ins='ins'))
        assert _summary(release) == _summary(ours)  # SIOR finds its .jpg images by the default suffix
    # A label contradicting the class name, and a pickle that would run code, are refused.
    bad = osp.join(root, 'sota', 'ins')
    os.makedirs(bad, exist_ok=True)
    obj = _instance_json(root, 'sota', 'sota_00')['objects'][0]
    with open(osp.join(bad, 'sota_00.pkl'), 'wb') as f:
        pickle.dump([dict(mask=obj['segmentation'], category='plane', label=3)], f)
    with pytest.raises(ValueError, match=r'sota_00\.pkl: object 0: label 3 contradicts class .plane.'):
        _build_det(type='SOTAInstanceDataset', data_root=osp.join(root, 'sota'), ann_file='train.txt',
                   data_prefix=dict(img='images', ins='ins'))

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo never',))
    with open(osp.join(bad, 'sota_00.pkl'), 'wb') as f:
        pickle.dump([Evil()], f)
    with pytest.raises(ValueError, match=r'sota_00\.pkl: cannot read instance pickle \(refusing to load'):
        _build_det(type='SOTAInstanceDataset', data_root=osp.join(root, 'sota'), ann_file='train.txt',
                   data_prefix=dict(img='images', ins='ins'))
    os.remove(osp.join(bad, 'sota_00.pkl'))
    with pytest.raises(FileNotFoundError, match=r"no instance file for 'sota_00'"):
        _build_det(type='SOTAInstanceDataset', data_root=osp.join(root, 'sota'), ann_file='train.txt',
                   data_prefix=dict(img='images', ins='ins'))


def test_rotated_boxes_from_annotation_or_mask(samrs_objects):
    from samrs_mm.sources.isaid import pixel_mask_rbox
    root, names = samrs_objects
    for rbox_source in ('annotation', 'mask'):
        dataset = _build_rot(type='FASTRotatedDataset', data_root=osp.join(root, 'fast'), ann_file='train.txt',
                             rbox_source=rbox_source, pipeline=ROT_PIPELINE)
        for i, name in enumerate(names['fast'][:2]):
            boxes = dataset[i]['data_samples'].gt_instances.bboxes
            assert boxes.__class__.__name__ == 'RotatedBoxes'
            got = normalize_angle_le90(boxes.regularize_boxes('le90').numpy().astype(np.float64))
            objects = _instance_json(root, 'fast', name)['objects']
            if rbox_source == 'annotation':
                want = np.array([obj['rbox'] for obj in objects])   # the FAIR1M-style source R-Box
            else:
                want = []
                for obj in objects:
                    rle = dict(size=obj['segmentation']['size'], counts=obj['segmentation']['counts'].encode())
                    want.append(pixel_mask_rbox(mask_utils.decode(rle).astype(bool)))
                want = normalize_angle_le90(np.array(want))
            np.testing.assert_allclose(got, want, atol=2e-3)
            assert dataset[i]['data_samples'].gt_instances.labels.tolist() == [0, 1, 2]
    # H-Box-only release pickles (SIOR from DIOR's horizontal boxes): the box at angle 0.
    hbox_only = _build_rot(type='SIORRotatedDataset', data_root=osp.join(root, 'sior'), ann_file='train.txt',
                           data_prefix=dict(img_path='images', ins='ins'))
    first = hbox_only.get_data_info(0)['instances'][0]['bbox']
    x1, y1, x2, y2 = _instance_json(root, 'sior', names['sior'][0])['objects'][0]['hbox']
    np.testing.assert_allclose(np.array(first).reshape(4, 2)[:, 0].min(), x1, atol=1e-4)
    np.testing.assert_allclose(np.array(first).reshape(4, 2)[:, 1].max(), y2, atol=1e-4)
    np.testing.assert_allclose(sorted(set(np.round(first, 4))), sorted({x1, y1, x2, y2}), atol=1e-4)
    with pytest.raises(ValueError, match="rbox_source must be one of"):
        _build_rot(type='SOTARotatedDataset', data_root=osp.join(root, 'sota'), ann_file='train.txt',
                   rbox_source='sam')
