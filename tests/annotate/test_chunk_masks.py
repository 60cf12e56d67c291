"""Batched masks + RLE (ChunkMaskEncoder) equal the per-object path and SAM's own post-processing, bit for bit."""
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from segment_anything.utils.transforms import ResizeLongestSide

from samrs_mm.annotate.engine import EngineConfigError, build_engine
from samrs_mm.annotate.engine.chunk_masks import ChunkMaskEncoder
from samrs_mm.annotate.engine.rle import window_to_rle
from samrs_mm.annotate.engine.upsample import WindowedMaskUpsampler
from samrs_mm.structures.rle import empty_rle, runs_to_rle

SIZES = [(1182, 1111), (977, 884), (800, 800), (2000, 300), (37, 53)]


def upsampler(original_size):
    return WindowedMaskUpsampler(256, 1024, ResizeLongestSide.get_preprocess_shape(*original_size, 1024),
                                 original_size)


def per_object(up, low, scores):
    """The per-object path of SamBackend: window_mask + window_to_rle."""
    height, width = up.original_size
    extents = up.positive_extents(low)
    out = []
    for j in range(low.shape[0]):
        window = up.window_mask(low[j], extents[j])
        if window.empty:
            rle, area, bbox = empty_rle(height, width), 0, (0.0, 0.0, 0.0, 0.0)
        else:
            rle, area, bbox = window_to_rle(window.mask, window.top, window.left, height, width)
        out.append((rle, area, bbox, float(scores[j])))
    return out


def logit_batch(rng, n=30):
    """Low-res logits of every kind: blobs, nearly all positive, all negative, corners only, noise."""
    low = torch.from_numpy(rng.normal(-6, 2, (n, 256, 256)).astype(np.float32))
    for b in range(n):
        kind = b % 6
        if kind == 0:
            r, c = (int(v) for v in rng.integers(0, 250, 2))
            h, w = (int(v) for v in rng.integers(1, 60, 2))
            low[b, r:r + h, c:c + w] += 9
        elif kind == 1:
            low[b] += 9  # the whole image: full-height windows, columns run into each other
        elif kind == 2:
            low[b] = -1.0
        elif kind == 3:
            low[b, 0, 0] = low[b, 255, 255] = low[b, 0, 255] = low[b, 255, 0] = 3.0
        elif kind == 4:
            low[b] = torch.from_numpy(rng.normal(0, 3, (256, 256)).astype(np.float32))
        else:
            low[b, 240:, :] += 9  # reaches the padding below the image
    return low


@pytest.mark.parametrize('original_size', SIZES)
@pytest.mark.parametrize('budget', [1 << 24, 1 << 20, 1])
def test_equals_the_per_object_path(original_size, budget):
    rng = np.random.default_rng(original_size[0])
    up = upsampler(original_size)
    low = logit_batch(rng)
    scores = torch.from_numpy(rng.random(low.shape[0]).astype(np.float32))
    # Budget 1: every object alone; 1 << 20: several per bucket, padded to the bucket's size.
    assert ChunkMaskEncoder(up, budget).encode(low, scores) == per_object(up, low, scores)


@pytest.mark.parametrize('original_size', [(1182, 1111), (37, 53), (2000, 300)])
def test_equals_sams_postprocess_masks(original_size, tiny_sam):
    rng = np.random.default_rng(1)
    up = upsampler(original_size)
    low = logit_batch(rng, 12)
    results = ChunkMaskEncoder(up).encode(low, torch.zeros(len(low)))
    ref = tiny_sam.postprocess_masks(low[:, None], up.input_size, original_size)[:, 0] > 0
    for (rle, area, bbox, _), mask in zip(results, ref.numpy()):
        coco = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle == {'size': list(original_size), 'counts': coco['counts'].decode('ascii')}
        assert area == mask.sum()
        np.testing.assert_array_equal(bbox, mask_utils.toBbox(coco))


def test_buckets_respect_the_budget():
    rng = np.random.default_rng(2)
    up = upsampler((1182, 1111))
    low = logit_batch(rng, 60)
    budget = 1 << 21
    enc = ChunkMaskEncoder(up, budget)
    table, buckets, _ = enc._plan(low, torch.zeros(len(low)))
    assert sorted(table[:, 0].tolist()) == sorted(set(table[:, 0].tolist()))  # each object once
    assert buckets[0][0] == 0 and buckets[-1][1] == len(table)
    for (start, stop, dims), nxt in zip(buckets, buckets[1:] + [(len(table), None, None)]):
        assert stop == nxt[0] and stop > start
        n = stop - start
        assert n == 1 or n * enc.bucket_cost(*dims) <= budget  # a lone large object may exceed it
        lh, lw, wh, ww = dims
        rows = table[start:stop]
        assert (rows[:, 3] <= wh).all() and (rows[:, 4] <= ww).all()
    # The whole-image windows cannot share a bucket under this budget.
    assert max(stop - start for start, stop, dims in buckets if dims[2] > 1000) == 1


def test_full_image_and_empty_masks():
    up = upsampler((37, 53))
    low = torch.stack([torch.full((256, 256), 5.0), torch.full((256, 256), -5.0)])
    full, empty = ChunkMaskEncoder(up).encode(low, torch.tensor([0.5, 0.25]))
    coco = mask_utils.encode(np.ones((37, 53), np.uint8, order='F'))
    assert full == ({'size': [37, 53], 'counts': coco['counts'].decode('ascii')}, 37 * 53, (0.0, 0.0, 53.0, 37.0), 0.5)
    assert empty == (empty_rle(37, 53), 0, (0.0, 0.0, 0.0, 0.0), 0.25)


@pytest.mark.parametrize('spec, batch', [('hbox', 64), ('rbox_mask', 7), ('hbox+cp', 256)])
def test_engine_paths_agree_on_real_images(spec, batch, tiny_sam, dota_record, deepforest_sample):
    """The engine's two mask paths give the same ObjectMasks on DOTA P0706 and the NEON trees."""
    rec, image = dota_record
    # 200 objects of P0706 for H-Box (three full batches and a ragged one), 100 for the others.
    cases = [(image, rec.instances[:200] if spec == 'hbox' else rec.instances[:100]), deepforest_sample]
    for img, instances in cases:
        outs = [build_engine(dict(prompt=spec, prompt_batch_size=batch, batched_masks=flag),
                             model=tiny_sam).annotate(img, instances, source='dota')
                for flag in (False, True)]
        assert len(outs[0]) == len(instances)
        assert outs[1] == outs[0]
        assert sum(m.area for m in outs[0]) > 0


def test_batched_masks_config(tiny_sam):
    assert build_engine(dict(prompt='hbox'), model=tiny_sam).backend.batched_masks is False  # CPU: per object
    assert build_engine(dict(prompt='hbox', batched_masks=True), model=tiny_sam).backend.batched_masks is True
    with pytest.raises(EngineConfigError, match="batched_masks must be True, False or 'auto', got 1"):
        build_engine(dict(prompt='hbox', batched_masks=1), model=tiny_sam)


def test_coco_strings_equal_pycocotools():
    """coco_string_bytes writes pycocotools' rleToString for every mask of a batch at once."""
    from samrs_mm.annotate.engine.chunk_masks import coco_string_bytes
    rng = np.random.default_rng(3)
    masks = [np.array([7]), np.array([0, 7]), np.array([3, 4]), np.array([2 ** 31 - 1])]  # single run, starts set
    for _ in range(40):
        n = int(rng.integers(1, 300))
        # Small and large runs, so deltas to the count two before are negative and positive.
        masks.append(np.where(rng.random(n) < 0.2, rng.integers(1, 5_000_000, n), rng.integers(1, 40, n)))
    counts = torch.from_numpy(np.concatenate(masks))
    first = torch.zeros(len(counts), dtype=torch.bool)
    first[np.cumsum([0] + [len(m) for m in masks[:-1]])] = True
    data, per_count = coco_string_bytes(counts, first)
    text, offset = data.numpy().tobytes(), 0
    lengths = np.add.reduceat(per_count.numpy(), np.flatnonzero(first.numpy()))
    for m, length in zip(masks, lengths):
        total = int(m.sum())
        assert text[offset:offset + length].decode('ascii') == runs_to_rle(m, 1, total)['counts']
        offset += int(length)
    assert offset == len(text)


@pytest.mark.parametrize('lowres, original_size', [(256, (1182, 1111)), (288, (977, 884)), (288, (37, 53))])
def test_one_step_families(lowres, original_size):
    """SAM 2 / SAM 3 (one resize, low-res -> image): batched masks equal the per-object path and
    ``SAM2Transforms.postprocess_masks`` (``F.interpolate`` to the image size) thresholded at 0."""
    import torch.nn.functional as F
    rng = np.random.default_rng(2)
    up = WindowedMaskUpsampler(lowres, None, None, original_size)
    low = torch.nn.functional.interpolate(logit_batch(rng, 12)[:, None], (lowres, lowres))[:, 0]
    scores = torch.zeros(len(low))
    results = ChunkMaskEncoder(up, 1 << 20).encode(low, scores)
    assert results == per_object(up, low, scores)
    ref = F.interpolate(low[:, None], original_size, mode='bilinear', align_corners=False)[:, 0] > 0
    for (rle, area, _, _), mask in zip(results, ref.numpy()):
        coco = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle['counts'] == coco['counts'].decode('ascii') and area == mask.sum()
