"""ViTAEv2: registration, published sizes, forward/backward, options."""
import math

import pytest
import torch
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import ViTAEv2
from samrs_mm.models.backbones.vitaev2 import TokenAttention, window_merge, window_partition

from .backbone_checks import count_params, forward_backward
from .official_layouts import param_count, vitaev2_s_official

SMALL = dict(type='ViTAEv2', embed_dims=(8, 8, 16, 16), token_dims=(8, 16, 32, 32), rc_groups=(1, 2, 2, 2),
             nc_groups=(1, 2, 2, 2), depths=(1, 1, 2, 1), drop_path_rate=0.1)


def test_vitaev2_s_parameter_count_matches_official_architecture():
    model = MODELS.build(dict(type='ViTAEv2'))
    assert isinstance(model, ViTAEv2)
    assert count_params(model) == 18_842_688
    official = vitaev2_s_official(num_classes=1000)
    tables = sum(torch.Size(s).numel() for k, s in official.items() if k.endswith('relative_position_bias_table'))
    head = 512 * 1000 + 1000
    # the official classifier = this backbone + its head + never-used relative position tables
    assert param_count(official) == count_params(model) + head + tables == 19_357_040


def test_vitaev2_s_forward_backward_224():
    model = ViTAEv2()
    model.init_weights()
    shapes, missing = forward_backward(model)
    assert shapes == [(1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]
    assert missing == []


def test_window_partition_round_trip_with_padding():
    x = torch.randn(2, 9, 11, 3)
    windows, pads = window_partition(x, 4)
    assert windows.shape == (2 * 3 * 3, 16, 3) and pads == (1, 2, 0, 1)
    torch.testing.assert_close(window_merge(windows, 4, 2, 9, 11, pads), x)


def test_window_attention_equals_global_attention_inside_one_window():
    torch.manual_seed(0)
    win = TokenAttention(8, 8, 2, window_size=5)
    glob = TokenAttention(8, 8, 2, window_size=None)
    glob.load_state_dict(win.state_dict())
    x = torch.randn(1, 5, 5, 8)
    torch.testing.assert_close(win(x), glob(x))
    # a token in another window does not influence the first window
    y = torch.randn(1, 5, 10, 8)
    out_a = win(y)
    y2 = y.clone()
    y2[:, :, 7] += 10
    torch.testing.assert_close(win(y2)[:, :, :5], out_a[:, :, :5])


def test_any_input_size_and_checkpointing_equivalence():
    torch.manual_seed(0)
    model = MODELS.build(dict(SMALL, out_indices=(0, 2)))
    model.init_weights()
    model.eval()
    for size in ((64, 64), (58, 45)):  # 58 = 2 mod 4 exercises the PRM/PCM size alignment
        x = torch.randn(1, 3, *size)
        outs = model(x)
        h4, w4 = (size[0] - 3) // 4 + 1, (size[1] - 3) // 4 + 1
        assert tuple(outs[0].shape) == (1, 8, h4, w4)
        assert tuple(outs[1].shape) == (1, 32, math.ceil(math.ceil(h4 / 2) / 2), math.ceil(math.ceil(w4 / 2) / 2))
    cp_model = MODELS.build(dict(SMALL, out_indices=(0, 2), with_cp=True))
    cp_model.load_state_dict(model.state_dict())
    cp_model.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(model(x), cp_model(x)):
        torch.testing.assert_close(a, b)
    shapes, missing = forward_backward(cp_model, size=(64, 64))
    # stage 3 (index 3) is not returned, so only its parameters get no gradient
    assert missing and all(name.startswith('stages.3.') for name in missing)


def test_options_and_errors():
    model = MODELS.build(dict(SMALL, relative_pos=True, layer_scale=1e-2, frozen_stages=1, norm_eval=True))
    shapes, missing = forward_backward(model, size=(32, 32))
    assert missing == [] and len(shapes) == 4
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert not model.stages[3].cells[0].pcm.bn1.training  # norm_eval
    assert any('relative_position_bias_table' in n for n, _ in model.named_parameters())
    with pytest.raises(ValueError, match='per-stage settings'):
        ViTAEv2(depths=(1, 1, 1))
    with pytest.raises(ValueError, match='downsample_ratio'):
        ViTAEv2(downsample_ratios=(8, 2, 2, 2))
