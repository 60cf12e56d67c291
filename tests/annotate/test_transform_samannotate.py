"""SAMAnnotate in mmseg, mmdet and mmrotate pipelines (box backend: exact masks; tiny SAM: shapes)."""
import numpy as np
import pytest
from PIL import Image

import samrs_mm  # noqa: F401  (registers SAMAnnotate)
from samrs_mm.annotate.transforms import SAMAnnotate, boxes_to_instances

H, W = 40, 60
BOXES = np.array([[4., 4., 30., 20.],     # class 2, 416 px
                  [10., 8., 14., 12.],    # class 5, 16 px, on top of the first
                  [40., 22., 58., 38.]])  # class 0
LABELS = np.array([2, 5, 0])


def expected_masks():
    masks = np.zeros((3, H, W), np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(BOXES.astype(int)):
        masks[k, y1:y2, x1:x2] = 1
    return masks


def expected_seg():
    seg = np.full((H, W), 255, np.uint8)
    for k in (0, 2, 1):  # largest first, smallest last
        x1, y1, x2, y2 = BOXES[k].astype(int)
        seg[y1:y2, x1:x2] = LABELS[k]
    return seg


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / 'scene.png'
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_registered_in_mmseg_and_mmdet():
    from mmdet.registry import TRANSFORMS as DET
    from mmseg.registry import TRANSFORMS as SEG
    assert SEG.get('SAMAnnotate') is SAMAnnotate
    assert DET.get('SAMAnnotate') is SAMAnnotate
    # Scoped names, as mmrotate configs write them.
    assert SEG.get('mmdet.SAMAnnotate') is SAMAnnotate
    assert DET.get('mmseg.SAMAnnotate') is SAMAnnotate


def test_mmdet_pipeline_box_backend(image_file):
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose([
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='SAMAnnotate', engine=dict(backend='box', prompt='hbox')),
            dict(type='PackDetInputs', meta_keys=('img_path', 'img_shape')),
        ])
        instances = [dict(bbox=b.tolist(), bbox_label=int(lab), ignore_flag=0) for b, lab in zip(BOXES, LABELS)]
        out = pipeline(dict(img_path=image_file, instances=instances, seg_map_path=None))
    gt = out['data_samples'].gt_instances
    np.testing.assert_array_equal(gt.masks.to_ndarray(), expected_masks())
    np.testing.assert_array_equal(gt.labels.numpy(), LABELS)
    np.testing.assert_array_equal(out['data_samples'].gt_sem_seg.sem_seg.numpy()[0], expected_seg())


def test_mmseg_pipeline_moves_the_new_label_with_the_image():
    from mmengine.dataset import Compose
    from mmseg.registry import TRANSFORMS
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    pipeline = Compose([
        TRANSFORMS.build(dict(type='SAMAnnotate', engine=dict(backend='box'), prompt='hbox', channel_order='rgb',
                              with_masks=False)),
        TRANSFORMS.build(dict(type='RandomFlip', prob=1.0, direction='horizontal')),
        TRANSFORMS.build(dict(type='PackSegInputs')),
    ])
    out = pipeline(dict(img=rgb, gt_bboxes=BOXES.copy(), gt_bboxes_labels=LABELS.copy(), seg_fields=[],
                        img_shape=(H, W), ori_shape=(H, W)))
    np.testing.assert_array_equal(out['data_samples'].gt_sem_seg.data.numpy()[0], expected_seg()[:, ::-1])


def test_rotated_boxes_as_mmrotate_gives_them():
    from samrs_mm.compat import import_mmrotate
    import_mmrotate()
    from mmrotate.structures.bbox import RotatedBoxes
    # (cx, cy, w, h, theta): at theta = pi/2 width and height swap; the R-Box fill is exact.
    boxes = RotatedBoxes(np.array([[20., 15., 10., 4., 0.], [40., 20., 10., 4., np.pi / 2]], dtype=np.float32))
    transform = SAMAnnotate(engine=dict(backend='box', prompt='rbox'), channel_order='rgb')
    results = transform(dict(img=np.zeros((H, W, 3), np.uint8), gt_bboxes=boxes, gt_bboxes_labels=np.array([1, 3])))
    masks = results['gt_masks'].to_ndarray()
    expected = np.zeros((2, H, W), np.uint8)
    expected[0, 13:17, 15:25] = 1
    expected[1, 15:25, 38:42] = 1
    np.testing.assert_array_equal(masks, expected)
    assert results['gt_mask_scores'].tolist() == [1.0, 1.0]


def test_quadrilaterals_and_inferred_types():
    quads = np.array([[2., 2., 12., 2., 12., 6., 2., 6.]])
    inst, = boxes_to_instances(quads, [4])
    assert inst.hbox.tolist() == [2, 2, 12, 6] and inst.class_index == 4 and inst.rbox is not None
    with pytest.raises(ValueError, match='box type of 6-value boxes'):
        boxes_to_instances(np.zeros((1, 6)))


def test_tiny_sam_output_shapes(tiny_sam):
    transform = SAMAnnotate(engine=dict(backend='segment_anything', model_type='tiny_test', random_init=True,
                                        prompt='hbox', prompt_batch_size=4), channel_order='rgb')
    img = np.random.default_rng(2).integers(0, 256, (H, W, 3), dtype=np.uint8)
    results = transform(dict(img=img, gt_bboxes=BOXES.copy(), gt_bboxes_labels=LABELS.copy()))
    assert results['gt_masks'].to_ndarray().shape == (3, H, W)
    assert results['gt_seg_map'].shape == (H, W) and results['gt_seg_map'].dtype == np.uint8
    assert set(np.unique(results['gt_seg_map'])) <= {0, 2, 5, 255}
    assert results['gt_mask_scores'].shape == (3,)


def test_no_boxes_and_missing_keys():
    transform = SAMAnnotate(engine=dict(backend='box'), channel_order='rgb')
    out = transform(dict(img=np.zeros((H, W, 3), np.uint8), gt_bboxes=np.zeros((0, 4)),
                         gt_bboxes_labels=np.zeros(0, np.int64)))
    assert out['gt_masks'].to_ndarray().shape == (0, H, W) and (out['gt_seg_map'] == 255).all()
    with pytest.raises(KeyError, match='LoadAnnotations'):
        transform(dict(img=np.zeros((H, W, 3), np.uint8), img_path='x.png'))
    with pytest.raises(ValueError, match='unknown prompt'):
        SAMAnnotate(engine=dict(backend='segment_anything'), prompt='hbx')


def test_mmrotate_pipeline_with_scoped_name(tmp_path):
    """The mmrotate way: default scope 'mmrotate', quadrilaterals converted to rotated boxes."""
    from samrs_mm.compat import import_mmrotate
    import_mmrotate()
    import mmrotate.datasets  # noqa: F401  (registers ConvertBoxType)
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    path = tmp_path / 'scene.png'
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(path)
    with DefaultScope.overwrite_default_scope('mmrotate'):
        pipeline = Compose([dict(type='mmdet.LoadImageFromFile'),
                            dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
                            dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
                            dict(type='mmdet.SAMAnnotate', engine=dict(backend='box', prompt='rbox')),
                            dict(type='mmdet.PackDetInputs')])
        out = pipeline(dict(img_path=str(path), instances=[
            dict(bbox=[15, 13, 25, 13, 25, 17, 15, 17], bbox_label=1, ignore_flag=0)]))
    masks = out['data_samples'].gt_instances.masks.to_ndarray()
    expected = np.zeros((1, H, W), np.uint8)
    expected[0, 13:17, 15:25] = 1
    np.testing.assert_array_equal(masks, expected)
    np.testing.assert_array_equal(out['data_samples'].gt_sem_seg.sem_seg.numpy()[0],
                                  np.where(expected[0] == 1, 1, 255))
