"""DCNv3: the pure-PyTorch core against a direct bilinear-sampling reference, and the module."""
import math

import pytest
import torch

from samrs_mm.models.backbones.dcnv3 import DCNv3, compiled_dcnv3_available, dcnv3_core, dcnv3_core_pytorch


def reference_dcnv3(value, offset, mask, kernel, stride, pad, dilation, groups, offset_scale):
    """Slow, obviously-correct DCNv3: explicit loops, explicit bilinear interpolation, zeros outside."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, pad, dilation
    n, h, w, c = value.shape
    gc, points = c // groups, kh * kw
    _, ho, wo, _ = offset.shape
    value, offset, mask = value.double(), offset.double(), mask.double()
    out = torch.zeros(n, ho, wo, c, dtype=torch.float64)

    def pixel(b, y, x, g):
        if 0 <= y < h and 0 <= x < w:
            return value[b, y, x, g * gc:(g + 1) * gc]
        return torch.zeros(gc, dtype=torch.float64)

    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                # centre of the (dilated) kernel window of this output, in input pixels
                cy = oy * sh - ph + dh * (kh - 1) // 2
                cx = ox * sw - pw + dw * (kw - 1) // 2
                for g in range(groups):
                    for ix in range(kw):  # the official kernel enumerates points x-major
                        for iy in range(kh):
                            p = ix * kh + iy
                            off_x = offset[b, oy, ox, (g * points + p) * 2].item()
                            off_y = offset[b, oy, ox, (g * points + p) * 2 + 1].item()
                            x = cx + offset_scale * (ix * dw - dw * (kw - 1) // 2 + off_x)
                            y = cy + offset_scale * (iy * dh - dh * (kh - 1) // 2 + off_y)
                            x0, y0 = math.floor(x), math.floor(y)
                            fx, fy = x - x0, y - y0
                            sample = ((1 - fx) * (1 - fy) * pixel(b, y0, x0, g)
                                      + fx * (1 - fy) * pixel(b, y0, x0 + 1, g)
                                      + (1 - fx) * fy * pixel(b, y0 + 1, x0, g)
                                      + fx * fy * pixel(b, y0 + 1, x0 + 1, g))
                            out[b, oy, ox, g * gc:(g + 1) * gc] += mask[b, oy, ox, g * points + p] * sample
    return out


CASES = [
    # kernel, stride, pad, dilation, groups, offset_scale, H, W
    ((3, 3), (1, 1), (1, 1), (1, 1), 2, 1.0, 5, 6),
    ((3, 3), (2, 2), (1, 1), (2, 2), 3, 0.5, 7, 5),
    ((1, 3), (1, 1), (0, 1), (1, 1), 1, 1.0, 4, 4),
    ((5, 5), (1, 2), (2, 2), (1, 1), 2, 2.0, 6, 7),
]


@pytest.mark.parametrize('kernel,stride,pad,dilation,groups,offset_scale,h,w', CASES)
def test_pytorch_core_matches_direct_reference(kernel, stride, pad, dilation, groups, offset_scale, h, w):
    gen = torch.Generator().manual_seed(hash((kernel, stride, h, w)) % 2**31)
    n, channels = 2, 3 * groups
    ho = (h + 2 * pad[0] - (dilation[0] * (kernel[0] - 1) + 1)) // stride[0] + 1
    wo = (w + 2 * pad[1] - (dilation[1] * (kernel[1] - 1) + 1)) // stride[1] + 1
    points = kernel[0] * kernel[1]
    value = torch.randn(n, h, w, channels, generator=gen)
    # offsets of a few pixels so that samples leave the image and cross pixel boundaries
    offset = 2.5 * torch.randn(n, ho, wo, groups * points * 2, generator=gen)
    mask = torch.rand(n, ho, wo, groups * points, generator=gen)
    got = dcnv3_core_pytorch(value, offset, mask, kernel, stride, pad, dilation, groups, offset_scale)
    want = reference_dcnv3(value, offset, mask, kernel, stride, pad, dilation, groups, offset_scale)
    assert got.shape == (n, ho, wo, channels)
    torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-5)


def test_zero_offsets_and_one_hot_mask_pick_kernel_taps():
    # With zero offsets and all weight on one tap, DCNv3 is a shift of the input.
    value = torch.arange(2 * 4 * 5 * 2, dtype=torch.float32).view(2, 4, 5, 2)
    offset = torch.zeros(2, 4, 5, 18)
    mask = torch.zeros(2, 4, 5, 9)
    mask[..., 2 * 3 + 1] = 1  # tap ix=2 (x + 1), iy=1 (same row)
    out = dcnv3_core_pytorch(value, offset, mask, 3, 1, 1, 1, 1, 1.0)
    torch.testing.assert_close(out[:, :, :-1], value[:, :, 1:])
    assert out[:, :, -1].abs().max() == 0  # beyond the right border reads zeros


def test_pytorch_core_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(3)
    value = torch.randn(1, 4, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    offset = (0.3 + 0.4 * torch.rand(1, 4, 4, 2 * 9 * 2, generator=gen, dtype=torch.float64)).requires_grad_()
    mask = torch.rand(1, 4, 4, 2 * 9, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, o, m: dcnv3_core_pytorch(v, o, m, 3, 1, 1, 1, 2, 1.0),
                                    (value, offset, mask), eps=1e-6, atol=1e-5)


def test_core_selection():
    x = torch.randn(1, 3, 3, 4)
    offset, mask = torch.zeros(1, 3, 3, 18), torch.full((1, 3, 3, 9), 1 / 9)
    torch.testing.assert_close(dcnv3_core(x, offset, mask, groups=1, impl='auto'),
                               dcnv3_core_pytorch(x, offset, mask, groups=1))
    with pytest.raises(ValueError, match='impl must be'):
        dcnv3_core(x, offset, mask, impl='cuda')
    if not compiled_dcnv3_available():
        with pytest.raises(RuntimeError, match='no importable'):
            dcnv3_core(x, offset, mask, impl='compiled')
    with pytest.raises(ValueError, match='channels'):
        dcnv3_core_pytorch(x, offset, mask, groups=3)


def test_module_starts_as_uniform_3x3_average_of_projected_input():
    torch.manual_seed(0)
    dcn = DCNv3(channels=8, groups=2)
    x = torch.randn(2, 6, 5, 8)
    out = dcn(x)
    assert out.shape == x.shape
    # zero offsets + uniform softmax weights = 3x3 mean (zero padded) of input_proj(x)
    value = dcn.input_proj(x).permute(0, 3, 1, 2)
    mean = torch.nn.functional.avg_pool2d(value, 3, 1, 1, count_include_pad=True).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, dcn.output_proj(mean), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert dcn.offset.weight.grad is not None and dcn.offset.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='divisible'):
        DCNv3(channels=10, groups=4)


@pytest.mark.skipif(not (torch.cuda.is_available() and compiled_dcnv3_available()),
                    reason='needs CUDA and the compiled DCNv3 extension')
def test_compiled_kernel_matches_pytorch_core():  # pragma: no cover - GPU only
    gen = torch.Generator().manual_seed(0)
    value = torch.randn(2, 8, 8, 16, generator=gen).cuda()
    offset = torch.randn(2, 8, 8, 4 * 18, generator=gen).cuda()
    mask = torch.rand(2, 8, 8, 4 * 9, generator=gen).cuda()
    torch.testing.assert_close(dcnv3_core(value, offset, mask, groups=4, impl='compiled'),
                               dcnv3_core_pytorch(value, offset, mask, groups=4), rtol=1e-4, atol=1e-4)
