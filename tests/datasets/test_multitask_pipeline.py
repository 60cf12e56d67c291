"""The multi-task pipeline keeps semantic map, instances and rotated boxes of an image aligned (issue 12).

A synthetic 112 x 128 image with three rotated rectangles: each object's mask is the set of
pixels whose centre lies in its rectangle, the semantic map paints the masks with their
classes (255 elsewhere), the rotated box is the rectangle. After every augmentation of the
multi-task configs (flips, 90-degree turns, random scale, random crop, and the whole chain)
the packed sample must still agree with itself:

* semantic map == the masks painted with their labels, pixel for pixel;
* instance boxes == the extent of their masks;
* rotated boxes: exactly where the transform sends the rectangle (flips, turns: closed
  form), and on their masks (after scaling and cropping: the rectangle rasterised in the
  output image covers its mask, IoU >= 0.75 even at half size, centres within a pixel).
"""
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.registry import TRANSFORMS, init_default_scope

import samrs_mm  # noqa: F401
from samrs_mm.datasets.multitask_transforms import LoadRotatedBoxes, PackMultiTaskInputs
from samrs_mm.structures.boxes import normalize_angle_le90, rbox_to_quad

HEIGHT, WIDTH = 112, 128
OBJECTS = [(0, (34.0, 30.0, 44.0, 20.0, 0.45)), (1, (92.0, 38.0, 40.0, 22.0, -0.8)),
           (2, (62.0, 82.0, 52.0, 18.0, 0.1))]


def _inside(rbox, height, width):
    """Pixels (rows, cols) whose centre lies in the rotated rectangle."""
    cx, cy, w, h, t = rbox
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    u = (xs - cx) * np.cos(t) + (ys - cy) * np.sin(t)
    v = -(xs - cx) * np.sin(t) + (ys - cy) * np.cos(t)
    return (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)


def _sample():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    seg = np.full((HEIGHT, WIDTH), 255, np.uint8)
    masks, instances = [], []
    for label, rbox in OBJECTS:
        mask = _inside(rbox, HEIGHT, WIDTH)
        seg[mask] = label
        img[mask] = 80 + 60 * label
        masks.append(mask.astype(np.uint8))
        ys, xs = np.nonzero(mask)
        instances.append(dict(bbox=[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], bbox_label=label,
                              ignore_flag=0, rbox=list(rbox)))
    boxes = np.asarray([inst['bbox'] for inst in instances], np.float32)
    return dict(img=img, img_shape=(HEIGHT, WIDTH), ori_shape=(HEIGHT, WIDTH), gt_seg_map=seg,
                gt_masks=BitmapMasks(np.stack(masks), HEIGHT, WIDTH), gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.asarray([label for label, _ in OBJECTS], np.int64),
                gt_ignore_flags=np.zeros(len(OBJECTS), bool), instances=instances, img_path='synthetic.png')


def _run(transforms, seed=0):
    init_default_scope('mmseg')
    np.random.seed(seed)
    results = LoadRotatedBoxes()(_sample())
    for cfg in transforms:
        results = TRANSFORMS.build(cfg)(results)
    packed = PackMultiTaskInputs()(results)
    return packed['inputs'], packed['data_samples'], results


def _check_semantic_and_instances(sample):
    seg = sample.gt_sem_seg.data[0].numpy()
    masks = sample.gt_instances.masks.masks.astype(bool)
    labels = sample.gt_instances.labels.numpy()
    painted = np.full(seg.shape, 255, np.int64)
    for mask, label in zip(masks, labels):
        painted[mask] = label
    np.testing.assert_array_equal(seg, painted)
    for mask, box in zip(masks, sample.gt_instances.bboxes.numpy()):
        ys, xs = np.nonzero(mask)
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return masks, labels


def _corner_sets_match(rboxes, expected):
    for got, want in zip(rbox_to_quad(rboxes), rbox_to_quad(expected)):
        distance = np.linalg.norm(got[:, None] - want[None], axis=-1)
        assert distance.min(axis=1).max() < 1e-3, (got, want)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flips_move_the_three_targets_together(direction):
    inputs, sample, _ = _run([dict(type='mmdet.RandomFlip', prob=1.0, direction=direction)])
    _check_semantic_and_instances(sample)
    rboxes = sample.gt_rotated_instances.bboxes.tensor.numpy()
    expected = []
    for _, (cx, cy, w, h, t) in OBJECTS:
        if direction == 'horizontal':
            expected.append((WIDTH - cx, cy, w, h, -t))
        elif direction == 'vertical':
            expected.append((cx, HEIGHT - cy, w, h, -t))
        else:
            expected.append((WIDTH - cx, HEIGHT - cy, w, h, t))
    _corner_sets_match(rboxes, normalize_angle_le90(np.asarray(expected)))
    assert sample.gt_rotated_instances.labels.tolist() == [0, 1, 2]


def test_rot90_turns_the_three_targets_together():
    seen = set()
    for seed in range(12):
        inputs, sample, results = _run([dict(type='RandomRot90', prob=1.0)], seed=seed)
        k = results['rot90_k']
        seen.add(k)
        assert tuple(inputs.shape[1:]) == ((WIDTH, HEIGHT) if k % 2 else (HEIGHT, WIDTH))
        _check_semantic_and_instances(sample)
        expected = []
        for _, (cx, cy, w, h, t) in OBJECTS:
            x, y = cx, cy
            for turn in range(k):  # one counter-clockwise quarter turn of the current frame
                frame_width = WIDTH if turn % 2 == 0 else HEIGHT
                x, y = y, frame_width - x
            expected.append((x, y, w, h, t - k * np.pi / 2))
        _corner_sets_match(sample.gt_rotated_instances.bboxes.tensor.numpy(),
                           normalize_angle_le90(np.asarray(expected)))
    assert seen == {1, 2, 3}


def _rotated_boxes_sit_on_their_masks(sample, height, width):
    masks, labels = _check_semantic_and_instances(sample)
    rboxes = sample.gt_rotated_instances.bboxes.tensor.numpy()
    rlabels = sample.gt_rotated_instances.labels.numpy()
    checked = 0
    for rbox, label in zip(rboxes, rlabels):
        mask = masks[list(labels).index(label)] if label in labels else None
        assert mask is not None, 'a rotated box whose object has no mask left in the image'
        raster = _inside(rbox, height, width)
        iou = (raster & mask).sum() / (raster | mask).sum()
        assert iou >= 0.75, (label, iou)
        ys, xs = np.nonzero(mask)
        fully_inside = raster.sum() >= 0.98 * rbox[2] * rbox[3]
        if fully_inside:
            assert abs(xs.mean() + 0.5 - rbox[0]) <= 1.0 and abs(ys.mean() + 0.5 - rbox[1]) <= 1.0
        checked += 1
    return checked


def test_scale_and_crop_keep_rotated_boxes_on_their_masks():
    for scale in (0.5, 1.37, 2.0):
        inputs, sample, _ = _run([dict(type='mmdet.Resize', scale_factor=scale, keep_ratio=True)])
        assert _rotated_boxes_sit_on_their_masks(sample, *inputs.shape[1:]) == 3
    inputs, sample, results = _run([dict(type='mmdet.RandomCrop', crop_size=(64, 64), recompute_bbox=True,
                                          allow_negative_crop=True)], seed=3)
    assert tuple(inputs.shape[1:]) == (64, 64)
    _rotated_boxes_sit_on_their_masks(sample, 64, 64)
    # Centres in the crop are exactly the kept rotated boxes.
    offset = -results['homography_matrix'][:2, 2]
    centres = np.asarray([rbox[:2] for _, rbox in OBJECTS]) - offset
    kept = ((centres >= 0) & (centres < 64)).all(axis=1)
    assert sample.gt_rotated_instances.labels.tolist() == [label for (label, _), k in zip(OBJECTS, kept) if k]


def test_the_configs_augmentation_chain_keeps_the_targets_aligned():
    chain = [dict(type='mmdet.RandomResize', scale=(96, 96), ratio_range=(0.5, 2.0), keep_ratio=True,
                  resize_type='mmdet.Resize'),
             dict(type='mmdet.RandomCrop', crop_size=(96, 96), crop_type='absolute', recompute_bbox=True,
                  allow_negative_crop=True),
             dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
             dict(type='RandomRot90', prob=0.5),
             dict(type='mmdet.PhotoMetricDistortion')]
    checked = 0
    for seed in range(8):
        inputs, sample, _ = _run(chain, seed=seed)
        checked += _rotated_boxes_sit_on_their_masks(sample, *inputs.shape[1:])
        assert inputs.dtype == torch.float32 or inputs.dtype == torch.uint8
    assert checked >= 12  # most objects survive the crops


def test_ground_truth_loaded_after_a_resize_stays_in_the_original_frame():
    """The validation pipelines load annotations after Resize (mmdet's convention)."""
    init_default_scope('mmseg')
    results = TRANSFORMS.build(dict(type='mmdet.Resize', scale_factor=0.5, keep_ratio=True))(_sample())
    results = PackMultiTaskInputs()(LoadRotatedBoxes()(results))
    rboxes = results['data_samples'].gt_rotated_instances.bboxes.tensor.numpy()
    np.testing.assert_allclose(rboxes, np.asarray([rbox for _, rbox in OBJECTS], np.float32), atol=1e-5)
