"""Layer-wise lr decay constructors: exact per-parameter lr / weight decay."""
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

import samrs_mm  # noqa: F401  (registers the constructors and backbones)

BASE_LR, BASE_WD = 1e-3, 0.05


class TinySegmentor(nn.Module):
    """A backbone plus a head, the two attributes the constructors look at."""

    def __init__(self, backbone_cfg):
        super().__init__()
        self.backbone = MODELS.build(backbone_cfg)
        self.decode_head = nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))


def build_groups(model, constructor, **paramwise):
    cfg = dict(type=constructor,
               optim_wrapper_cfg=dict(type='OptimWrapper',
                                      optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=BASE_WD)),
               paramwise_cfg=paramwise)
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(cfg)(model)
    by_name = {}
    for group in wrapper.optimizer.param_groups:
        for name in group['param_names']:
            by_name[name] = (group['lr'], group['weight_decay'])
    return wrapper, by_name


def test_vit_family_decay_is_exact_for_rvsa():
    model = TinySegmentor(dict(type='ViTRVSA', embed_dims=32, num_layers=4, num_heads=2, interval=2,
                               out_indices=(0, 1, 2, 3)))
    wrapper, lrs = build_groups(model, 'LayerDecayOptimWrapperConstructor', layer_decay_rate=0.9)
    num_ids = 4 + 2
    named = dict(model.named_parameters())
    assert set(lrs) == set(named)  # every trainable parameter is in exactly one group
    for name, param in named.items():
        if name.startswith('backbone.patch_embed'):
            layer = 0
        elif name.startswith('backbone.layers.'):
            layer = int(name.split('.')[2]) + 1
        else:  # pyramid and decode head
            layer = num_ids - 1
        lr, wd = lrs[name]
        assert lr == pytest.approx(BASE_LR * 0.9**(num_ids - 1 - layer)), name
        no_decay = (param.ndim == 1 or name.endswith('.bias') or 'rel_pos' in name
                    or 'relative_position_bias_table' in name)
        assert wd == (0. if no_decay else BASE_WD), name
    # spot checks on concrete names
    assert lrs['backbone.layers.0.attn.rel_pos_h'] == (pytest.approx(BASE_LR * 0.9**4), 0.)
    assert lrs['backbone.layers.3.ffn.layers.0.0.weight'] == (pytest.approx(BASE_LR * 0.9), BASE_WD)
    assert lrs['decode_head.0.weight'] == (pytest.approx(BASE_LR), BASE_WD)
    assert lrs['decode_head.1.weight'][1] == 0.
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == len(named)


def test_vit_adapter_adapter_modules_train_at_full_rate():
    model = TinySegmentor(dict(type='ViTAdapter', img_size=32, embed_dims=32, num_layers=4, num_heads=2,
                               deform_num_heads=2, conv_inplane=8, interaction_indexes=((0, 1), (2, 3))))
    _, lrs = build_groups(model, 'LayerDecayOptimWrapperConstructor', layer_decay_rate=0.95)
    assert lrs['backbone.pos_embed'] == (pytest.approx(BASE_LR * 0.95**5), 0.)
    assert lrs['backbone.layers.1.attn.attn.in_proj_weight'][0] == pytest.approx(BASE_LR * 0.95**3)
    assert lrs['backbone.interactions.0.injector.attn.value_proj.weight'] == (pytest.approx(BASE_LR), BASE_WD)
    assert lrs['backbone.level_embed'] == (pytest.approx(BASE_LR), 0.)
    assert lrs['backbone.layers.0.gamma1'][1] == 0.  # layer scale: 1-D, no decay


def test_mmseg_vit_by_builtin_rules_and_custom_keys():
    model = TinySegmentor(dict(type='VisionTransformer', img_size=32, patch_size=16, embed_dims=32, num_layers=3,
                               num_heads=2, out_indices=(2, )))
    _, lrs = build_groups(model, 'LayerDecayOptimWrapperConstructor', layer_decay_rate=0.5,
                          custom_keys={'decode_head': dict(lr_mult=10.)})
    assert lrs['backbone.cls_token'] == (pytest.approx(BASE_LR * 0.5**4), 0.)
    assert lrs['backbone.layers.2.ln1.weight'][0] == pytest.approx(BASE_LR * 0.5)
    assert lrs['decode_head.0.weight'] == (pytest.approx(10 * BASE_LR), BASE_WD)


@pytest.mark.parametrize('backbone', ['BEiT', 'BEiTBackbone'])
def test_mmseg_beit_layer_ids_as_the_official_beit_recipe(backbone):
    """mmseg's BEiT (and this package's loader subclass): class token and patch embedding 0,
    block i -> i + 1 (its layer scales, q/v biases and relative position table included),
    final norm and head last; no weight decay on tables, layer scales, q/v biases."""
    model = TinySegmentor(dict(type=backbone, img_size=32, patch_size=16, embed_dims=32, num_layers=3,
                               num_heads=2, out_indices=(2, ), final_norm=True))
    _, lrs = build_groups(model, 'LayerDecayOptimWrapperConstructor', layer_decay_rate=0.9)
    num_ids = 3 + 2
    for name, param in model.named_parameters():
        if name.startswith(('backbone.cls_token', 'backbone.patch_embed')):
            layer = 0
        elif name.startswith('backbone.layers.'):
            layer = int(name.split('.')[2]) + 1
        else:  # final norm ln1 and the head
            layer = num_ids - 1
        no_decay = param.ndim <= 1 or 'relative_position_bias_table' in name or 'cls_token' in name
        assert lrs[name] == (pytest.approx(BASE_LR * 0.9**(num_ids - 1 - layer)), 0. if no_decay else BASE_WD), name
    assert lrs['backbone.layers.0.attn.relative_position_bias_table'] == (pytest.approx(BASE_LR * 0.9**3), 0.)
    assert lrs['backbone.layers.2.gamma_2'] == (pytest.approx(BASE_LR * 0.9), 0.)
    assert lrs['backbone.layers.1.attn.qkv.weight'] == (pytest.approx(BASE_LR * 0.9**2), BASE_WD)
    assert lrs['backbone.ln1.weight'] == (pytest.approx(BASE_LR), 0.)


def test_hierarchical_decay_for_internimage_vitaev2_swin_resnet():
    cases = [
        (dict(type='InternImage', channels=16, depths=(1, 1, 2, 1), groups=(1, 2, 4, 8)),
         {'backbone.stem.conv1.weight': 0, 'backbone.stages.0.blocks.0.dcn.offset.weight': 1,
          'backbone.stages.0.downsample.conv.weight': 1, 'backbone.stages.2.blocks.1.mlp.fc1.weight': 4,
          'backbone.stages.3.norm.weight': 5}, 7),
        (dict(type='ViTAEv2', embed_dims=(8, 8, 16, 16), token_dims=(8, 16, 32, 32), rc_groups=(1, 2, 2, 2),
              nc_groups=(1, 2, 2, 2), depths=(1, 1, 2, 1)),
         {'backbone.stages.0.reduction.prm.convs.0.weight': 1, 'backbone.stages.0.cells.0.attn.qkv.weight': 2,
          'backbone.stages.2.reduction.attn.qkv.weight': 5, 'backbone.stages.3.cells.0.mlp.fc2.weight': 9}, 11),
        (dict(type='SwinTransformer', embed_dims=16, depths=(1, 2, 1, 1), num_heads=(1, 1, 2, 2), window_size=2),
         {'backbone.patch_embed.projection.weight': 0, 'backbone.stages.1.blocks.1.attn.w_msa.qkv.weight': 3,
          'backbone.stages.1.downsample.reduction.weight': 3, 'backbone.norm3.weight': 6}, 7),
        (dict(type='ResNet', depth=18),
         {'backbone.conv1.weight': 0, 'backbone.layer1.0.conv1.weight': 1, 'backbone.layer4.1.conv2.weight': 8},
         10),
    ]
    for backbone, expected, num_ids in cases:
        model = TinySegmentor(backbone)
        _, lrs = build_groups(model, 'HierarchicalLayerDecayOptimWrapperConstructor', layer_decay_rate=0.8)
        for name, layer in expected.items():
            assert lrs[name][0] == pytest.approx(BASE_LR * 0.8**(num_ids - 1 - layer)), (backbone['type'], name)
        assert lrs['decode_head.0.weight'][0] == pytest.approx(BASE_LR)


def test_rate_one_only_removes_weight_decay_from_norms_and_biases():
    model = TinySegmentor(dict(type='InternImage', channels=16, depths=(1, 1, 1, 1), groups=(1, 2, 4, 8)))
    _, lrs = build_groups(model, 'HierarchicalLayerDecayOptimWrapperConstructor', layer_decay_rate=1.0)
    assert all(lr == pytest.approx(BASE_LR) for lr, _ in lrs.values())
    assert lrs['backbone.stages.1.blocks.0.norm1.weight'][1] == 0.
    assert lrs['backbone.stages.1.blocks.0.gamma1'][1] == 0.
    assert lrs['backbone.stages.1.blocks.0.dcn.input_proj.weight'][1] == BASE_WD


def test_unknown_backbone_gives_a_clear_error():
    model = TinySegmentor(dict(type='ResNet', depth=18))
    with pytest.raises(TypeError, match='HierarchicalLayerDecayOptimWrapperConstructor'):
        build_groups(model, 'LayerDecayOptimWrapperConstructor', layer_decay_rate=0.9)
    model = nn.Module()
    with pytest.raises(ValueError, match="no 'backbone'"):
        build_groups(model, 'LayerDecayOptimWrapperConstructor')


def test_frozen_parameters_are_left_out_and_steps_work():
    model = TinySegmentor(dict(type='InternImage', channels=16, depths=(1, 1, 1, 1), groups=(1, 2, 4, 8),
                               frozen_stages=1))
    wrapper, lrs = build_groups(model, 'HierarchicalLayerDecayOptimWrapperConstructor', layer_decay_rate=0.9)
    assert not any(name.startswith('backbone.stem') for name in lrs)
    outs = model.backbone(torch.randn(1, 3, 64, 64))
    wrapper.update_params(sum(o.mean() for o in outs))
