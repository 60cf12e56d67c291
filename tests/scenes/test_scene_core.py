"""The scene stage's parts against their references: mmseg's slide inference, numpy's percentiles,
``load_image``'s stretch, ``compose_semantic``, COCO RLE and mmrotate's huge-image merge."""
import numpy as np
import pytest
import torch

from samrs_mm.scenes.masks import SceneMask, from_window_mask, paint_tile, place_rle
from samrs_mm.scenes.planning import SlideGrid, plan_label_windows
from samrs_mm.scenes.raster import PixelWindow, SceneRaster, percentile_from_histogram
from samrs_mm.scenes.slide import StreamingSlide
from samrs_mm.structures.rle import decode, encode
from tests.scenes.scene_data import write_scene


class _Stub:
    """What ``EncoderDecoder.slide_inference`` needs of a model: a fixed random 3x3 conv as ``encode_decode``
    (border windows see zero padding, so every window's logits depend on where it lies)."""

    def __init__(self, crop, stride, channels=5, seed=0):
        from mmengine.config import ConfigDict
        self.test_cfg = ConfigDict(crop_size=crop, stride=stride)
        self.out_channels = channels
        gen = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(channels, 3, 3, 3, generator=gen)
        self.crops = []

    def encode_decode(self, crop, metas):
        self.crops.append(tuple(crop.shape[2:]))
        return torch.nn.functional.conv2d(crop, self.weight, padding=1)


def _mmseg_slide(image, crop, stride, channels=5):
    from mmseg.models.segmentors import EncoderDecoder
    stub = _Stub(crop, stride, channels)
    h, w = image.shape[1:]
    logits = EncoderDecoder.slide_inference(stub, image[None], [dict(ori_shape=(h, w), img_shape=(h, w))])
    return logits[0].argmax(dim=0).numpy().astype(np.uint8), stub


def _streamed(image, crop, stride, first_strip=0, last_strip=None, channels=5):
    grid = SlideGrid(image.shape[1], image.shape[2], crop, stride)
    stub = _Stub(crop, stride, channels)
    stream = StreamingSlide(grid, channels, lambda logits: logits.argmax(dim=0).to(torch.uint8), first_strip)
    out = {}
    last = grid.num_strips - 1 if last_strip is None else last_strip
    for k in stream.rows():
        if k > last:
            break
        logits = [stub.encode_decode(image[None, :, win.y:win.y + win.height, win.x:win.x + win.width], None)[0]
                  for win in grid.windows(k)]
        done = stream.feed_row(k, logits)
        if done is not None:
            out[done[0]] = (done[1], done[2])
    return grid, out


@pytest.mark.parametrize('size,crop,stride', [
    ((97, 130), (32, 40), (20, 24)),    # overlap in both directions, last windows shifted back
    ((97, 130), (32, 32), (10, 12)),    # a pixel is covered by up to four window rows
    ((30, 50), (64, 64), (40, 40)),     # the scene is smaller than a window
    ((64, 200), (64, 48), (64, 48)),    # no overlap, one window row
])
def test_streaming_slide_equals_mmseg_slide_inference_pixel_for_pixel(size, crop, stride):
    image = torch.from_numpy(np.random.default_rng(1).normal(size=(3,) + size).astype(np.float32))
    reference, stub = _mmseg_slide(image, crop, stride)
    grid, strips = _streamed(image, crop, stride)
    assert len(stub.crops) == len(grid)  # the same windows
    label = np.concatenate([strips[k][1] for k in range(grid.num_strips)])
    assert label.shape == reference.shape and np.array_equal(label, reference)


def test_a_block_started_mid_scene_recomputes_the_rows_above_it_exactly():
    image = torch.from_numpy(np.random.default_rng(2).normal(size=(3, 120, 90)).astype(np.float32))
    reference, _ = _mmseg_slide(image, (32, 32), (10, 12))
    grid, strips = _streamed(image, (32, 32), (10, 12), first_strip=5, last_strip=7)
    assert sorted(strips) == [5, 6, 7]
    for k, (top, label) in strips.items():
        assert np.array_equal(label, reference[top:top + label.shape[0]])


def test_percentiles_from_a_histogram_equal_numpys():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000, 12345):
        values = rng.integers(0, 4000, n).astype(np.float64)
        uniq, counts = np.unique(values, return_counts=True)
        for q in (0, 2, 2.5, 50, 98, 99.9, 100):
            assert percentile_from_histogram(uniq, counts, q) == np.percentile(values, q)


def test_scene_stretch_equals_load_image_of_the_whole_scene(tmp_path):
    from samrs_mm.sources.image_io import load_image
    path = write_scene(str(tmp_path / 'u16.tif'), 230, 170, dtype='uint16', bands=1, nodata=0,
                       nodata_rect=(0, 0, 40, 30))
    whole = load_image(path)
    with SceneRaster(path) as raster:
        limits = raster.scene_limits()
        for window in (PixelWindow(0, 0, 64, 64), PixelWindow(100, 77, 130, 93)):
            rgb = raster.rgb(raster.read(window), limits)
            assert np.array_equal(rgb, whole[window.y:window.y + window.height, window.x:window.x + window.width])


def test_window_stretch_equals_load_image_of_the_window_saved_as_a_patch(tmp_path):
    import rasterio
    from rasterio.windows import Window

    from samrs_mm.sources.image_io import load_image
    path = write_scene(str(tmp_path / 'u16.tif'), 200, 150, dtype='uint16', bands=4, nodata=0,
                       nodata_rect=(0, 0, 50, 20))
    window = PixelWindow(10, 5, 120, 90)
    with rasterio.open(path) as src:
        profile = dict(src.profile, width=window.width, height=window.height,
                       transform=src.window_transform(Window(*window)))
        data = src.read(window=Window(*window))
    patch = str(tmp_path / 'patch.tif')
    with rasterio.open(patch, 'w', **profile) as dst:
        dst.write(data)
    with SceneRaster(path, bands=(3, 1, 2)) as raster:
        rgb = raster.rgb(raster.read(window))
    assert np.array_equal(rgb, load_image(patch, bands=(3, 1, 2)))


class _Box:
    def __init__(self, box_id, hbox):
        self.box_id, self.hbox = box_id, np.asarray(hbox, dtype=np.float64)


def test_every_object_is_planned_once_in_a_window_holding_it_whole_with_context():
    rng = np.random.default_rng(3)
    width, height, context = 1500, 1100, 16
    objects = []
    for i in range(300):
        w, h = rng.integers(4, 120, 2)
        x, y = rng.uniform(-20, width - w + 20), rng.uniform(-20, height - h + 20)
        objects.append(_Box(i, [x, y, x + w, y + h]))
    objects.append(_Box(300, [100, 100, 900, 420]))   # larger than a window: read 2x smaller
    windows = plan_label_windows(objects, width, height, size=512, gap=128, context=context)
    planned = [i for lw in windows for i in lw.box_ids]
    assert sorted(planned) == list(range(301))
    kinds = {lw.kind for lw in windows}
    assert kinds == {'grid', 'seam', 'large'}
    for lw in windows:
        win = lw.window
        assert 0 <= win.x and 0 <= win.y and win.x + win.width <= width and win.y + win.height <= height
        assert lw.out_shape[0] <= 512 and lw.out_shape[1] <= 512
        assert win.width % lw.factor == 0 and win.height % lw.factor == 0
        for i in lw.box_ids:
            x1, y1, x2, y2 = objects[i].hbox
            need = (max(np.floor(x1 - context), 0), max(np.floor(y1 - context), 0),
                    min(np.ceil(x2 + context), width), min(np.ceil(y2 + context), height))
            assert win.x <= need[0] and win.y <= need[1]
            assert win.x + win.width >= need[2] and win.y + win.height >= need[3]
    assert [lw for lw in windows if 300 in lw.box_ids][0].factor == 2


def test_tiles_painted_one_by_one_equal_compose_semantic_of_the_whole_scene():
    from samrs_mm.annotate.engine.backend import ObjectMask
    from samrs_mm.annotate.outputs import compose_semantic
    from samrs_mm.structures.rle import encode_window
    rng = np.random.default_rng(4)
    height, width = 150, 210
    full_masks, scene_masks, classes, scores = [], [], [], []
    for i in range(40):
        h, w = rng.integers(3, 60, 2)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        local = rng.random((h, w)) < 0.7
        rle, area, bbox = encode_window(local, y, x, height, width)
        full_masks.append(ObjectMask(i, rle, float(rng.random()), area, bbox, 'hbox'))
        scene_masks.append(SceneMask(int(x), int(y), encode(local), int(local.sum())))
        classes.append(int(rng.integers(0, 6)))
        scores.append(full_masks[-1].score)
    for rule in ('small_on_top', 'score_on_top', 'first_on_top'):
        whole = compose_semantic(full_masks, classes, height, width, overlap=rule)
        tiled = np.zeros_like(whole)
        for y in range(0, height, 64):
            for x in range(0, width, 64):
                tile = PixelWindow(x, y, min(64, width - x), min(64, height - y))
                tiled[y:y + tile.height, x:x + tile.width] = paint_tile(tile, scene_masks, classes, scores, rule)
        assert np.array_equal(tiled, whole)
        # A COCO RLE of the scene written from the runs alone equals pycocotools' of the pasted mask.
    for full, mask in zip(full_masks, scene_masks):
        assert place_rle(mask, height, width) == full.rle


def test_a_window_read_k_times_smaller_gives_a_mask_of_k_by_k_blocks():
    from samrs_mm.annotate.engine.backend import ObjectMask
    from samrs_mm.structures.rle import encode_window
    low = np.zeros((20, 30), dtype=bool)
    low[4:9, 6:20] = True
    low[5, 7] = False
    rle, area, bbox = encode_window(low[4:9, 6:20], 4, 6, 20, 30)
    mask = from_window_mask(ObjectMask(0, rle, 1.0, area, bbox, 'hbox'), PixelWindow(100, 40, 60, 40), factor=2)
    expected = np.repeat(np.repeat(low[4:9, 6:20], 2, axis=0), 2, axis=1)
    assert (mask.x, mask.y) == (100 + 12, 40 + 8) and mask.area == expected.sum()
    assert np.array_equal(decode(mask.rle), expected)


@pytest.mark.parametrize('rotated', [False, True])
def test_merging_detections_equals_mmrotates_huge_image_merge(rotated):
    """Class-wise NMS over the shifted detections of every window: the same kept boxes, scores and
    labels (and masks) as mmrotate's ``merge_results_by_nms``, which pastes masks into scene-size arrays."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from samrs_mm.compat import import_mmrotate
    from samrs_mm.scenes.inference import _shift, merge_detections
    import_mmrotate()
    from mmrotate.utils import merge_results_by_nms
    rng = np.random.default_rng(5)
    height, width, size = 160, 220, 96
    offsets = np.array([[x, y] for y in (0, 64) for x in (0, 62, 124)])
    samples, shifted = [], []
    for ox, oy in offsets:
        n = 12
        xy = rng.uniform(0, size - 30, (n, 2))
        wh = rng.uniform(8, 30, (n, 2))
        if rotated:
            boxes = np.concatenate([xy + wh / 2, wh, rng.uniform(-1.5, 1.5, (n, 1))], axis=1)
        else:
            boxes = np.concatenate([xy, xy + wh], axis=1)
        found = dict(boxes=boxes.astype(np.float32), scores=rng.random(n).astype(np.float32),
                     labels=rng.integers(0, 3, n))
        inst = InstanceData(bboxes=torch.from_numpy(found['boxes']).clone(), scores=torch.from_numpy(found['scores']),
                            labels=torch.from_numpy(found['labels']))
        if not rotated:
            masks = np.zeros((n, size, size), dtype=bool)
            for i, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
                masks[i, y1:y2, x1:x2] = rng.random((y2 - y1, x2 - x1)) < 0.8
            found['masks'] = masks
            inst.masks = masks
        samples.append(DetDataSample(pred_instances=inst))
        shifted.append(_shift(found, PixelWindow(int(ox), int(oy), size, size)))
    reference = merge_results_by_nms(samples, offsets, (width, height),
                                     dict(type='nms_rotated' if rotated else 'nms', iou_threshold=0.25))
    ref = reference.pred_instances
    boxes = np.concatenate([np.asarray(s['boxes'], dtype=np.float32) for s in shifted])
    scores = np.concatenate([np.asarray(s['scores'], dtype=np.float32) for s in shifted])
    labels = np.concatenate([np.asarray(s['labels']) for s in shifted])
    keep = merge_detections(boxes, scores, labels, 0.25)
    ref_boxes = ref.bboxes.tensor if hasattr(ref.bboxes, 'tensor') else ref.bboxes
    assert np.array_equal(boxes[keep], ref_boxes.numpy())
    assert np.array_equal(scores[keep], ref.scores.numpy()) and np.array_equal(labels[keep], ref.labels.numpy())
    if not rotated:
        # (mmrotate's merge looks for masks in the sample instead of its predictions and leaves them
        # in window frames; its own paste, map_masks, gives the scene-size masks to compare with.)
        from mmrotate.utils.patch.merge_results import map_masks
        pasted = np.concatenate([map_masks(list(s.pred_instances.masks), offset, (width, height))
                                 for s, offset in zip(samples, offsets)])
        masks = [m for s in shifted for m in s['masks']]
        for i in keep:
            mine = np.zeros((height, width), dtype=bool)
            if masks[i] is not None:
                m = SceneMask.from_record(masks[i])
                mine[m.y:m.y + m.height, m.x:m.x + m.width] = decode(m.rle)
            assert np.array_equal(mine, pasted[i])
