"""InternImage: registration, published sizes, forward/backward, options."""
import pytest
import torch
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import InternImage

from .backbone_checks import count_params, forward_backward
from .official_layouts import internimage_t_official, param_count

SMALL = dict(type='InternImage', channels=16, depths=(1, 1, 2, 1), groups=(1, 2, 4, 8), drop_path_rate=0.1)


def test_internimage_t_parameter_count_matches_official_architecture():
    model = MODELS.build(dict(type='InternImage'))
    assert isinstance(model, InternImage)
    # 28,769,520 = official InternImage-T backbone (the ImageNet classifier's 29,918,424 minus its
    # 1,163,752-parameter head) + 14,848 layer-scale factors (SAMRS builds layer_scale=1.0).
    assert count_params(model) == 28_769_520
    official_backbone = param_count(internimage_t_official(num_classes=0))
    assert official_backbone == 28_754_672  # no layer scale in the ImageNet checkpoint
    assert param_count(internimage_t_official()) == 29_918_424  # published "30M"
    gammas = sum(p.numel() for n, p in model.named_parameters() if 'gamma' in n)
    assert gammas == 2 * (64 * 4 + 128 * 4 + 256 * 18 + 512 * 4) == 14_848
    assert count_params(model) - gammas == official_backbone
    assert count_params(InternImage(layer_scale=None)) == official_backbone


def test_internimage_t_forward_backward_224():
    model = InternImage(dcn_impl='pytorch')
    model.init_weights()
    shapes, missing = forward_backward(model)
    assert shapes == [(1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]
    assert missing == []


def test_out_indices_odd_sizes_and_checkpointing_are_equivalent():
    torch.manual_seed(0)
    model = MODELS.build(dict(SMALL, out_indices=(1, 3)))
    model.init_weights()
    model.eval()
    x = torch.randn(2, 3, 70, 50)
    outs = model(x)
    assert [tuple(o.shape) for o in outs] == [(2, 32, 9, 7), (2, 128, 3, 2)]
    cp_model = MODELS.build(dict(SMALL, out_indices=(1, 3), with_cp=True))
    cp_model.load_state_dict(model.state_dict())
    cp_model.eval()
    for a, b in zip(outs, cp_model(x)):
        torch.testing.assert_close(a, b)
    shapes, missing = forward_backward(cp_model, size=(64, 64))
    assert missing == []


def test_frozen_stages_and_bad_config():
    model = MODELS.build(dict(SMALL, frozen_stages=2))
    model.train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stages[1].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert not model.stages[0].training and model.stages[2].training
    with pytest.raises(ValueError, match='same length'):
        InternImage(depths=(1, 1), groups=(1, 2, 4))
    with pytest.raises(ValueError, match='out_indices'):
        InternImage(out_indices=(4, ))


def test_post_norm_and_no_layer_scale_variants_run():
    for extra in (dict(post_norm=True), dict(layer_scale=None)):
        model = MODELS.build(dict(SMALL, **extra))
        shapes, missing = forward_backward(model, size=(32, 32))
        assert shapes[-1] == (1, 128, 1, 1) and missing == []
