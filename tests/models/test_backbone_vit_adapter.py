"""ViT-Adapter-B: registration, published sizes, forward/backward, interaction behaviour."""
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import ViTAdapter
from samrs_mm.models.backbones.vit_adapter import DeformableCrossAttention

from .backbone_checks import count_params, forward_backward
from .official_layouts import deit_b_official, param_count

SMALL = dict(type='ViTAdapter', img_size=64, embed_dims=32, num_layers=4, num_heads=2, deform_num_heads=2,
             conv_inplane=8, interaction_indexes=((0, 1), (2, 3)), drop_path_rate=0.1)


def test_vit_adapter_b_parameter_count_matches_official_architecture():
    model = MODELS.build(dict(type='ViTAdapter'))
    assert isinstance(model, ViTAdapter)
    assert count_params(model) == 99_495_392
    vit_part = sum(p.numel() for n, p in model.named_parameters()
                   if n.startswith(('patch_embed', 'pos_embed', 'layers.')))
    deit = deit_b_official()
    deit_backbone = param_count(deit) - 768 * 1000 - 1000 - 2 * 768 - 768  # head, final norm, class token
    layer_scales = 12 * 2 * 768  # ViT-Adapter's ViT has layer scale (DeiT has none)
    assert vit_part == deit_backbone + layer_scales == 85_814_784
    assert count_params(model) - vit_part == 13_680_608  # the adapter ("+14M" in the paper)


def test_vit_adapter_b_forward_backward_224():
    model = ViTAdapter()
    model.init_weights()
    shapes, missing = forward_backward(model)
    assert shapes == [(1, 768, 56, 56), (1, 768, 28, 28), (1, 768, 14, 14), (1, 768, 7, 7)]
    assert missing == []


def test_deformable_cross_attention_is_mmcv_attention_without_residual():
    torch.manual_seed(0)
    ours = DeformableCrossAttention(16, 2, num_levels=1, num_points=2, dropout=0., batch_first=True)
    stock = MultiScaleDeformableAttention(16, 2, num_levels=1, num_points=2, dropout=0., batch_first=True)
    ours.init_weights()
    stock.load_state_dict(ours.state_dict())
    query, value = torch.randn(2, 6, 16), torch.randn(2, 12, 16)
    shapes = torch.tensor([[3, 4]])
    start = torch.tensor([0])
    ref = torch.rand(1, 6, 1, 2)
    want = stock(query, value=value, reference_points=ref, spatial_shapes=shapes, level_start_index=start)
    torch.testing.assert_close(ours(query, value, ref, shapes, start) + query, want)


def test_injector_starts_as_identity_so_vit_path_is_the_plain_vit():
    torch.manual_seed(0)
    model = MODELS.build(SMALL)
    model.init_weights()
    model.eval()
    captured = {}
    model.layers[-1].register_forward_hook(lambda m, i, o: captured.setdefault('vit', o))
    x = torch.randn(1, 3, 64, 64)
    model(x)
    tokens, hw = model.patch_embed(x)
    tokens = tokens + model.pos_embed[:, 1:]
    for layer in model.layers:
        tokens = layer(tokens)
    torch.testing.assert_close(captured['vit'], tokens)


def test_odd_sizes_checkpointing_and_errors():
    torch.manual_seed(0)
    model = MODELS.build(dict(SMALL, out_indices=(0, 3)))
    model.init_weights()
    model.eval()
    outs = model(torch.randn(1, 3, 100, 76))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 25, 19), (1, 32, 4, 3)]
    cp_model = MODELS.build(dict(SMALL, out_indices=(0, 3), with_cp=True))
    cp_model.load_state_dict(model.state_dict())
    cp_model.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(model(x), cp_model(x)):
        torch.testing.assert_close(a, b)
    _, missing = forward_backward(cp_model, size=(64, 64))
    assert missing == ['out_norms.1.weight', 'out_norms.1.bias', 'out_norms.2.weight', 'out_norms.2.bias']
    with pytest.raises(ValueError, match='interaction_indexes'):
        ViTAdapter(num_layers=4, interaction_indexes=((0, 1), (3, 3)))
    adapted = model.adapt_pretrained_state_dict({'pos_embed': torch.randn(1, 197, 32)})
    assert adapted['pos_embed'].shape == model.pos_embed.shape == (1, 17, 32)
