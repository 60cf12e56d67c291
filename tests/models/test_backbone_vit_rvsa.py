"""ViT-B + RVSA: registration, published sizes, forward/backward, the attention itself."""
import math

import pytest
import torch
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import RotatedVariedSizeWindowAttention, ViTRVSA

from .backbone_checks import count_params, forward_backward
from .official_layouts import param_count, rvsa_b_official

SMALL = dict(type='ViTRVSA', embed_dims=32, num_layers=4, num_heads=2, window_size=3, interval=2,
             out_indices=(0, 1, 2, 3), drop_path_rate=0.1)


def test_vit_b_rvsa_parameter_count_matches_official_architecture():
    model = MODELS.build(dict(type='ViTRVSA'))
    assert isinstance(model, ViTRVSA)
    assert count_params(model) == 93_125_440
    # the official module holds one more, unused, final LayerNorm (2 x 768)
    assert param_count(rvsa_b_official()) == count_params(model) + 2 * 768
    # global attention in layers 2, 5, 8, 11; RVSA elsewhere
    assert [model.is_global_layer(i) for i in range(12)] == [(i + 1) % 3 == 0 for i in range(12)]


def test_vit_b_rvsa_forward_backward_224():
    model = ViTRVSA()
    model.init_weights()
    shapes, missing = forward_backward(model)
    assert shapes == [(1, 768, 56, 56), (1, 768, 28, 28), (1, 768, 14, 14), (1, 768, 7, 7)]
    assert missing == []


def reference_window_attention(attn, x, h, w, key_map=None):
    """Plain window attention with RVSA's position terms, written with explicit loops.

    ``key_map(a, b) -> (a', b')`` optionally says where, inside its window, the key/value of
    window position (a, b) is read (to check rotations).
    """
    ws, heads, c = attn.window_size, attn.num_heads, attn.embed_dims
    d = c // heads
    pad_h, pad_w = (-h) % ws, (-w) % ws
    top, left = pad_h // 2, pad_w // 2
    qkv = attn.qkv(x).view(h, w, 3, heads, d)
    grid = torch.zeros(h + pad_h, w + pad_w, 3, heads, d, dtype=x.dtype)  # projections zero padded
    grid[top:top + h, left:left + w] = qkv
    out = torch.zeros(h + pad_h, w + pad_w, heads, d, dtype=x.dtype)
    for wy in range(0, h + pad_h, ws):
        for wx in range(0, w + pad_w, ws):
            for n in range(heads):
                for qa in range(ws):
                    for qb in range(ws):
                        q = grid[wy + qa, wx + qb, 0, n]
                        logits, values = [], []
                        for ka in range(ws):
                            for kb in range(ws):
                                sa, sb = key_map(ka, kb) if key_map else (ka, kb)
                                k = grid[wy + sa, wx + sb, 1, n]
                                logit = (q * attn.scale) @ k
                                logit = (logit + q @ attn.rel_pos_h[qa - ka + ws - 1]
                                         + q @ attn.rel_pos_w[qb - kb + ws - 1])
                                logit = logit + attn.relative_position_bias_table[
                                    (qa - ka + ws - 1) * (2 * ws - 1) + (qb - kb + ws - 1), n]
                                logits.append(logit)
                                values.append(grid[wy + sa, wx + sb, 2, n])
                        weights = torch.stack(logits).softmax(0)
                        out[wy + qa, wx + qb, n] = (weights[:, None] * torch.stack(values)).sum(0)
    out = out[top:top + h, left:left + w].reshape(h * w, c)
    return attn.proj(out)


def _random_attention(ws=3, dims=8, heads=2):
    torch.manual_seed(0)
    attn = RotatedVariedSizeWindowAttention(dims, heads, window_size=ws).double()
    with torch.no_grad():
        attn.rel_pos_h.normal_()
        attn.rel_pos_w.normal_()
        attn.relative_position_bias_table.normal_()
    return attn


@pytest.mark.parametrize('h,w', [(6, 6), (5, 7)])
def test_identity_transform_is_window_attention(h, w):
    attn = _random_attention()
    x = torch.randn(1, h * w, 8, dtype=torch.float64)
    got = attn(x, (h, w))[0]
    torch.testing.assert_close(got, reference_window_attention(attn, x[0], h, w))


def test_rotation_by_90_degrees_reads_rotated_windows():
    attn = _random_attention()
    with torch.no_grad():
        attn.angle_head.bias.fill_(math.pi / 2)
    x = torch.randn(1, 36, 8, dtype=torch.float64)
    # a quarter turn maps window offset (dx, dy) to (-dy, dx): key row a, col b reads (b, 2 - a)
    want = reference_window_attention(attn, x[0], 6, 6, key_map=lambda a, b: (b, 2 - a))
    torch.testing.assert_close(attn(x, (6, 6))[0], want)


def test_scaling_by_two_reads_a_dilated_window():
    attn = _random_attention()
    with torch.no_grad():
        attn.scale_head.bias.fill_(1.0)  # factor (1 + 1) on both axes
    x = torch.randn(1, 81, 8, dtype=torch.float64)
    got = attn(x, (9, 9))[0]
    # centre window (3..5) now reads rows/cols 2, 4, 6: reference on the dilated neighbourhood
    qkv = attn.qkv(x[0]).view(9, 9, 3, 2, 4)
    q = qkv[3:6, 3:6, 0].reshape(9, 2, 4).transpose(0, 1)
    k = qkv[2::2, 2::2, 1][:3, :3].reshape(9, 2, 4).transpose(0, 1)
    v = qkv[2::2, 2::2, 2][:3, :3].reshape(9, 2, 4).transpose(0, 1)
    idx = torch.arange(3)
    dist = idx[:, None] - idx[None, :] + 2
    logits = (q * attn.scale) @ k.transpose(-1, -2)
    rel_h = torch.einsum('nyxd,ykd->nyxk', q.view(2, 3, 3, 4), attn.rel_pos_h[dist])
    rel_w = torch.einsum('nyxd,xkd->nyxk', q.view(2, 3, 3, 4), attn.rel_pos_w[dist])
    logits = logits + (rel_h[..., :, None] + rel_w[..., None, :]).reshape(2, 9, 9)
    table = attn.relative_position_bias_table[attn.relative_position_index.view(-1)].view(9, 9, 2).permute(2, 0, 1)
    out = (logits + table).softmax(-1) @ v  # (heads, 9, d)
    centre = attn.proj(out.transpose(0, 1).reshape(3, 3, 8))
    torch.testing.assert_close(got.view(9, 9, 8)[3:6, 3:6], centre)


def test_window_transform_heads_receive_gradients():
    attn = RotatedVariedSizeWindowAttention(8, 2, window_size=3)
    with torch.no_grad():
        for head in (attn.offset_head, attn.scale_head, attn.angle_head):
            head.bias.normal_(0, 0.3)
    x = torch.randn(2, 36, 8)
    attn(x, (6, 6)).pow(2).sum().backward()
    for head in (attn.offset_head, attn.scale_head, attn.angle_head):
        assert head.weight.grad.abs().sum() > 0


def test_odd_sizes_abs_pos_embed_and_checkpointing():
    torch.manual_seed(0)
    model = MODELS.build(dict(SMALL, img_size=64, use_abs_pos_embed=True))
    model.init_weights()
    model.eval()
    outs = model(torch.randn(1, 3, 100, 76))  # 7 x 5 tokens (patch embedding pads)
    assert [tuple(o.shape) for o in outs] == [(1, 32, 28, 20), (1, 32, 14, 10), (1, 32, 7, 5), (1, 32, 3, 2)]
    cp_model = MODELS.build(dict(SMALL, img_size=64, use_abs_pos_embed=True, with_cp=True))
    cp_model.load_state_dict(model.state_dict())
    cp_model.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(model(x), cp_model(x)):
        torch.testing.assert_close(a, b)
    _, missing = forward_backward(cp_model, size=(64, 64))
    assert missing == []
    # a 14 x 14 (+ class slot) MAE position embedding is resized to this model's 4 x 4 grid
    adapted = model.adapt_pretrained_state_dict({'pos_embed': torch.randn(1, 197, 32)})
    assert adapted['pos_embed'].shape == (1, 16, 32)
    with pytest.raises(ValueError, match='out_indices'):
        ViTRVSA(out_indices=(3, 5, 7))
