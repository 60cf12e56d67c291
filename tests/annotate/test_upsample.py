"""Windowed mask post-processing equals Sam.postprocess_masks + threshold."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from samrs_mm.annotate.engine.upsample import WindowedMaskUpsampler, linear_taps


@pytest.mark.parametrize('in_size, out_size', [(962, 1111), (1024, 800), (256, 1024), (927, 977), (154, 300)])
def test_taps_equal_atens_weights(in_size, out_size):
    # Read ATen's weights off the resize of one-hot rows.
    eye = torch.eye(in_size)[:, None, None, :]
    ref = F.interpolate(eye, (1, out_size), mode='bilinear', align_corners=False)[:, 0, 0, :].numpy()
    i0, i1, w0, w1 = linear_taps(in_size, out_size)
    ours = np.zeros_like(ref)
    np.add.at(ours, (i0, np.arange(out_size)), w0)
    np.add.at(ours, (i1, np.arange(out_size)), w1)
    np.testing.assert_array_equal(ours, ref)


def lowres_cases(rng):
    """Random logits: spread out, one blob, touching the borders, and all negative."""
    yield torch.from_numpy(rng.normal(0, 3, (256, 256)).astype(np.float32))
    blob = torch.from_numpy(rng.normal(-8, 1, (256, 256)).astype(np.float32))
    blob[100:112, 30:61] += 12
    yield blob
    edges = torch.from_numpy(-rng.random((256, 256)).astype(np.float32))
    edges[0, 0] = edges[255, 255] = edges[0, 255] = 2.0
    yield edges
    yield torch.full((256, 256), -1.0)


@pytest.mark.parametrize('original_size', [(1182, 1111), (977, 884), (800, 800), (400, 400), (816, 1172),
                                           (1024, 1024), (2000, 300), (37, 53)])
def test_windowed_equals_postprocess_masks(original_size, tiny_sam):
    input_size = ResizeLongestSide.get_preprocess_shape(*original_size, 1024)
    up = WindowedMaskUpsampler(256, 1024, input_size, original_size)
    rng = np.random.default_rng(original_size[0])
    for low in lowres_cases(rng):
        ref = tiny_sam.postprocess_masks(low[None, None], input_size, original_size)[0, 0]
        extent = up.positive_extents(low[None])[0]
        window = up.window_mask(low, extent)
        mask = np.zeros(original_size, bool)
        mask[window.top:window.top + window.mask.shape[0], window.left:window.left + window.mask.shape[1]] = window.mask
        np.testing.assert_array_equal(mask, (ref > 0).numpy())
        res = up.window_logits(low, extent)
        if res is None:
            assert (ref <= 0).all()
            continue
        logits, top, left = res
        inside = ref[top:top + logits.shape[0], left:left + logits.shape[1]]
        # Same samples, weights and fused multiply-adds as ATen: equal up to (here: without) rounding.
        assert (logits - inside).abs().max().item() <= 1e-6 * max(1.0, inside.abs().max().item())
        outside = torch.ones(original_size, dtype=torch.bool)
        outside[top:top + logits.shape[0], left:left + logits.shape[1]] = False
        assert (ref[outside] <= 0).all()  # nothing positive is left out of the window


def test_window_is_small_for_a_small_object():
    up = WindowedMaskUpsampler(256, 1024, (1024, 962), (1182, 1111))
    low = torch.full((256, 256), -5.0)
    low[100:104, 50:53] = 3.0
    window = up.window_mask(low, up.positive_extents(low[None])[0])
    # 4 x 3 low-res pixels are ~18 x 14 image pixels; the window adds at most a few pixels.
    assert window.mask.shape[0] <= 26 and window.mask.shape[1] <= 22
    assert window.mask.any()


def test_rejects_a_non_sam_frame():
    with pytest.raises(ValueError, match='4 \\* lowres_size'):
        WindowedMaskUpsampler(256, 1000, (1000, 1000), (500, 500))


@pytest.mark.parametrize('lowres, original_size', [(256, (1182, 1111)), (256, (400, 400)), (288, (977, 884)),
                                                   (288, (2000, 300)), (288, (37, 53))])
def test_one_step_equals_sam2_postprocess_masks(lowres, original_size):
    """SAM 2 / SAM 3: one bilinear resize from the low-res logits to the image (``SAM2Transforms``)."""
    up = WindowedMaskUpsampler(lowres, None, None, original_size)
    rng = np.random.default_rng(lowres + original_size[0])
    for low in lowres_cases(rng):
        low = F.interpolate(low[None, None], (lowres, lowres))[0, 0]
        ref = F.interpolate(low[None, None], original_size, mode='bilinear', align_corners=False)[0, 0]
        extent = up.positive_extents(low[None])[0]
        window = up.window_mask(low, extent)
        mask = np.zeros(original_size, bool)
        mask[window.top:window.top + window.mask.shape[0], window.left:window.left + window.mask.shape[1]] = window.mask
        np.testing.assert_array_equal(mask, (ref > 0).numpy())
        res = up.window_logits(low, extent)
        if res is not None:
            logits, top, left = res
            inside = ref[top:top + logits.shape[0], left:left + logits.shape[1]]
            # Bit for bit on these kernels when upsampling; shrinking (288 -> 37) differs in rounding only.
            assert (logits - inside).abs().max().item() <= 1e-6 * max(1.0, inside.abs().max().item())
