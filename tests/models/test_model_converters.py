"""Published checkpoints -> this package: every official key maps or is deliberately dropped.

The official state dicts are built from key/shape tables written after the official model
definitions (``official_layouts.py``); ResNet-50 uses torchvision's real model. Nothing is
downloaded.
"""
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import CheckpointShapeError, UnmappableKeysError, convert_checkpoint, extract_state_dict
from samrs_mm.models.backbones.pretrained import _swin_merge_order
from tests.conftest import run_tool

from . import official_layouts as official


def check_coverage(fmt, official_shapes, model, allowed_missing=(), allowed_dropped=()):
    """Convert, then require: shapes fit, all model keys covered except ``allowed_missing`` patterns,
    every dropped key explained by one of ``allowed_dropped`` reasons; load strictly what is there."""
    state = official.materialise(official_shapes)
    own = model.state_dict()
    result = convert_checkpoint(fmt, state, target_keys=own.keys())
    bad = {k: (tuple(v.shape), tuple(own[k].shape)) for k, v in result.state_dict.items()
           if tuple(v.shape) != tuple(own[k].shape)}
    assert not bad, bad
    missing = [k for k in own if k not in result.state_dict
               and not any(re.search(p, k) for p in allowed_missing)]
    assert missing == [], missing[:10]
    reasons = set(result.dropped.values())
    assert reasons <= set(allowed_dropped), reasons - set(allowed_dropped)
    # exact accounting: every official key was converted or dropped (BEiT's q/v biases merge into one)
    merged = sum(k.endswith('attn.q_bias') for k in state)
    assert len(result.state_dict) + len(result.dropped) + merged == len(state)
    model.load_state_dict(result.state_dict, strict=not allowed_missing)
    return result, state


def test_vitaev2_s_imagenet_and_rsp_layouts_map_completely():
    model = MODELS.build(dict(type='ViTAEv2'))
    result, state = check_coverage(
        'vitaev2', official.vitaev2_s_official(with_samrs_out_norms=True), model,
        allowed_dropped={'classifier', 'buffer rebuilt by the model', 'no such parameter in this model configuration',
                         'output norms the SAMRS ViTAEv2 variant defines but never applies'})
    # the (unused) relative position tables are the only parameters left out besides head / norms
    assert sorted({k.split('.')[-1] for k, r in result.dropped.items()
                   if r == 'no such parameter in this model configuration'}) == ['relative_position_bias_table']
    pcm = model.stages[1].cells[0].pcm
    torch.testing.assert_close(pcm.bn2.running_var, state['layers.1.NC.0.PCM.4.running_var'])
    torch.testing.assert_close(model.stages[2].reduction.prm.convs[1].weight, state['layers.2.RC.PRM.convs.1.0.weight'])


def test_vitaev2_relative_tables_are_kept_when_the_model_uses_them():
    model = MODELS.build(dict(type='ViTAEv2', relative_pos=True))
    result, state = check_coverage('vitaev2', official.vitaev2_s_official(), model,
                                   allowed_dropped={'classifier', 'buffer rebuilt by the model'})
    torch.testing.assert_close(model.stages[0].cells[1].attn.relative_position_bias_table,
                               state['layers.0.NC.1.attn.relative_position_bias_table'])


def test_internimage_t_imagenet_layout_maps_completely():
    model = MODELS.build(dict(type='InternImage'))
    # the ImageNet checkpoint has no layer scale: those keep their initial value 1.0
    check_coverage('internimage', official.internimage_t_official(), model, allowed_missing=[r'\.gamma[12]$'],
                   allowed_dropped={'classifier', 'classification head (1x1 conv + BN)'})
    model = MODELS.build(dict(type='InternImage'))
    result, state = check_coverage('internimage', official.internimage_t_official(layer_scale=True), model,
                                   allowed_dropped={'classifier', 'classification head (1x1 conv + BN)'})
    torch.testing.assert_close(model.stages[2].blocks[17].dcn.dw_norm.weight,
                               state['levels.2.blocks.17.dcn.dw_conv.1.1.weight'])


def test_resnet50_torchvision_weights_give_identical_features():
    tv = torchvision.models.resnet50().eval()
    model = MODELS.build(dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)))
    model.eval()  # mmseg's train() returns None
    result = convert_checkpoint('resnet', tv.state_dict(), target_keys=model.state_dict().keys())
    assert set(result.dropped) == {'fc.weight', 'fc.bias'}
    model.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
        want = []
        for layer in (tv.layer1, tv.layer2, tv.layer3, tv.layer4):
            feats = layer(feats)
            want.append(feats)
        for a, b in zip(model(x), want):
            torch.testing.assert_close(a, b)


def test_swin_t_official_layout_maps_and_patch_merging_is_reordered_exactly():
    model = MODELS.build(dict(type='SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                              window_size=7, out_indices=(0, 1, 2, 3)))
    # official Swin has one final norm (-> norm3); mmseg's per-level norms 0-2 keep their init
    check_coverage('swin', official.swin_t_official(), model, allowed_missing=[r'^norm[012]\.'],
                   allowed_dropped={'classifier', 'buffer rebuilt by the model'})
    # numerical check of the 2x2 neighbour reordering against the official merging rule
    torch.manual_seed(0)
    c = 4
    x = torch.randn(1, 6, 6, c)
    weight, norm_w, norm_b = torch.randn(2 * c, 4 * c), torch.randn(4 * c), torch.randn(4 * c)
    parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]]
    official_out = F.linear(F.layer_norm(torch.cat(parts, -1), (4 * c, ), norm_w, norm_b), weight)
    merge = model.stages[0].downsample.__class__(in_channels=c, out_channels=2 * c)
    merge.reduction.weight.data = _swin_merge_order(weight)
    merge.norm.weight.data, merge.norm.bias.data = _swin_merge_order(norm_w), _swin_merge_order(norm_b)
    ours, _ = merge(x.reshape(1, 36, c), (6, 6))
    torch.testing.assert_close(ours, official_out.reshape(1, 9, 2 * c))


def reference_vit_forward(state, x, depth, heads, eps=1e-6):
    """A timm-style ViT forward written from the official definition (pre-norm blocks)."""
    tokens = F.conv2d(x, state['patch_embed.proj.weight'], state['patch_embed.proj.bias'], stride=16)
    tokens = tokens.flatten(2).transpose(1, 2)
    b, n, c = tokens.shape
    tokens = torch.cat([state['cls_token'].expand(b, -1, -1), tokens], 1) + state['pos_embed']
    for i in range(depth):
        p = f'blocks.{i}.'
        h = F.layer_norm(tokens, (c, ), state[p + 'norm1.weight'], state[p + 'norm1.bias'], eps)
        q, k, v = F.linear(h, state[p + 'attn.qkv.weight'], state[p + 'attn.qkv.bias']).view(
            b, n + 1, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = ((q * (c // heads)**-0.5) @ k.transpose(-1, -2)).softmax(-1) @ v
        tokens = tokens + F.linear(attn.transpose(1, 2).reshape(b, n + 1, c), state[p + 'attn.proj.weight'],
                                   state[p + 'attn.proj.bias'])
        h = F.layer_norm(tokens, (c, ), state[p + 'norm2.weight'], state[p + 'norm2.bias'], eps)
        h = F.linear(F.gelu(F.linear(h, state[p + 'mlp.fc1.weight'], state[p + 'mlp.fc1.bias'])),
                     state[p + 'mlp.fc2.weight'], state[p + 'mlp.fc2.bias'])
        tokens = tokens + h
    return tokens


def test_deit_weights_give_identical_features_in_mmseg_vit():
    torch.manual_seed(0)
    dims, depth, heads = 32, 2, 2
    shapes = {'cls_token': (1, 1, dims), 'pos_embed': (1, 5, dims), 'patch_embed.proj.weight': (dims, 3, 16, 16),
              'patch_embed.proj.bias': (dims, ), 'head.weight': (10, dims), 'head.bias': (10, )}
    for i in range(depth):
        p = f'blocks.{i}.'
        shapes.update({p + 'norm1.weight': (dims, ), p + 'norm1.bias': (dims, ),
                       p + 'attn.qkv.weight': (3 * dims, dims),
                       p + 'attn.qkv.bias': (3 * dims, ), p + 'attn.proj.weight': (dims, dims),
                       p + 'attn.proj.bias': (dims, ), p + 'norm2.weight': (dims, ), p + 'norm2.bias': (dims, ),
                       p + 'mlp.fc1.weight': (4 * dims, dims), p + 'mlp.fc1.bias': (4 * dims, ),
                       p + 'mlp.fc2.weight': (dims, 4 * dims), p + 'mlp.fc2.bias': (dims, )})
    state = official.materialise(shapes)
    model = MODELS.build(dict(type='VisionTransformer', img_size=32, patch_size=16, embed_dims=dims,
                              num_layers=depth, num_heads=heads, out_indices=(depth - 1, ), patch_bias=True,
                              norm_cfg=dict(type='LN', eps=1e-6)))
    model.eval()
    result = convert_checkpoint('vit', state, target_keys=model.state_dict().keys())
    assert set(result.dropped) == {'head.weight', 'head.bias'}
    model.load_state_dict(result.state_dict, strict=True)
    model.double()  # float64 so that the comparison is exact up to rounding
    state = {k: v.double() for k, v in state.items()}
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        want = reference_vit_forward(state, x, depth, heads)[:, 1:].transpose(1, 2).reshape(2, dims, 2, 2)
        torch.testing.assert_close(model(x)[0], want)


def test_deit_and_beit_checkpoints_into_vit_adapter():
    model = MODELS.build(dict(type='ViTAdapter'))
    adapter_keys = [r'^(spm|interactions|level_embed|up|out_norms)']
    check_coverage('vit_adapter', official.deit_b_official(), model,
                   allowed_missing=adapter_keys + [r'\.gamma[12]$'],
                   allowed_dropped={'classifier', 'no such parameter in this model configuration'})
    result, state = check_coverage(
        'vit_adapter', official.beit_b_22k_official(), model, allowed_missing=adapter_keys + ['^pos_embed$'],
        allowed_dropped={'classifier', 'classifier pooling norm', 'buffer rebuilt by the model',
                         'no such parameter in this model configuration'})
    # BEiT's q/v biases become one qkv bias with a zero key part; its layer scales are kept
    bias = model.layers[3].attn.attn.in_proj_bias
    torch.testing.assert_close(bias[:768], state['blocks.3.attn.q_bias'])
    assert bias[768:1536].abs().max() == 0
    torch.testing.assert_close(bias[1536:], state['blocks.3.attn.v_bias'])
    torch.testing.assert_close(model.layers[3].gamma2, state['blocks.3.gamma_2'])
    assert {k for k, r in result.dropped.items() if r == 'no such parameter in this model configuration'} == {
        f'layers.{i}.attn.relative_position_bias_table' for i in range(12)} | {'cls_token'}


def test_mae_millionaid_and_official_rvsa_checkpoints_into_vit_rvsa():
    model = MODELS.build(dict(type='ViTRVSA'))
    rvsa_only = [r'offset_head|scale_head|angle_head|rel_pos_[hw]|relative_position_bias_table', r'^pyramid\.']
    result, state = check_coverage(
        'vit_rvsa', official.mae_b_pretrain_official(), model, allowed_missing=rvsa_only,
        allowed_dropped={'MAE/BEiT pre-training decoder', 'ViT-RVSA has no class token',
                         'final ViT norm (unused: outputs go through the feature pyramid)',
                         'no such parameter in this model configuration'})
    assert result.dropped['pos_embed'] == 'no such parameter in this model configuration'
    # windowed layers take timm's qkv as is; global layers as mmseg's in_proj
    torch.testing.assert_close(model.layers[0].attn.qkv.weight, state['blocks.0.attn.qkv.weight'])
    torch.testing.assert_close(model.layers[2].attn.attn.in_proj_weight, state['blocks.2.attn.qkv.weight'])
    model = MODELS.build(dict(type='ViTRVSA'))
    result, state = check_coverage(
        'vit_rvsa', official.rvsa_b_official(), model,
        allowed_dropped={'buffer rebuilt by the model',
                         'final ViT norm (unused: outputs go through the feature pyramid)'})
    torch.testing.assert_close(model.layers[4].attn.angle_head.weight, state['blocks.4.attn.sampling_angles.2.weight'])
    torch.testing.assert_close(model.pyramid.upsample_4x[1].weight, state['fpn1.1.ln.weight'])


def test_unknown_keys_are_reported_by_name():
    state = official.materialise(official.internimage_t_official())
    state['levels.0.blocks.0.dcn.center_feature_scale_proj_weight'] = torch.zeros(4, 64)
    state['something.else'] = torch.zeros(1)
    with pytest.raises(UnmappableKeysError) as err:
        convert_checkpoint('internimage', state)
    assert err.value.keys == ['levels.0.blocks.0.dcn.center_feature_scale_proj_weight', 'something.else']
    assert 'something.else' in str(err.value)
    with pytest.raises(ValueError, match='unknown checkpoint format'):
        convert_checkpoint('convnext', state)


def test_extract_state_dict_unwraps_training_checkpoints():
    t = torch.zeros(1)
    assert list(extract_state_dict({'model': {'module.a': t, 'module.b': t}})) == ['a', 'b']
    segmentor = {'state_dict': {'backbone.x': t, 'decode_head.y': t}, 'meta': {}}
    assert list(extract_state_dict(segmentor)) == ['x']
    with pytest.raises(ValueError, match='no state dict'):
        extract_state_dict({})


def test_backbones_load_official_checkpoints_through_init_cfg(tmp_path):
    state = official.materialise(official.vitaev2_s_official())
    path = str(tmp_path / 'ViTAEv2-S.pth.tar')
    torch.save({'state_dict_ema': state}, path)
    model = MODELS.build(dict(type='ViTAEv2', init_cfg=dict(type='Pretrained', checkpoint=path)))
    model.init_weights()
    torch.testing.assert_close(model.stages[3].cells[1].mlp.fc2.weight, state['layers.3.NC.1.mlp.fc2.weight'])
    # this package's own checkpoints (e.g. a SEP segmentor) load natively
    seg_path = str(tmp_path / 'sep.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()}}, seg_path)
    again = MODELS.build(dict(type='ViTAEv2', init_cfg=dict(type='Pretrained', checkpoint=seg_path)))
    again.init_weights()
    torch.testing.assert_close(again.stages[0].reduction.pcm.conv3.weight, model.stages[0].reduction.pcm.conv3.weight)
    # a checkpoint of another variant is refused with the offending keys
    small = MODELS.build(dict(type='ViTAEv2', token_dims=(64, 128, 256, 256), nc_heads=(1, 2, 4, 4),
                              init_cfg=dict(type='Pretrained', checkpoint=path)))
    with pytest.raises(CheckpointShapeError, match='stages.3'):
        small.init_weights()


def test_internimage_and_rvsa_init_cfg_loading(tmp_path):
    state = official.materialise(official.internimage_t_official())
    path = str(tmp_path / 'internimage_t_1k_224.pth')
    torch.save({'model': state}, path)
    model = MODELS.build(dict(type='InternImage', init_cfg=dict(type='Pretrained', checkpoint=path)))
    model.init_weights()
    torch.testing.assert_close(model.stages[1].blocks[2].dcn.offset.weight,
                               state['levels.1.blocks.2.dcn.offset.weight'])
    assert torch.all(model.stages[0].blocks[0].gamma1 == 1.0)


def _cli_main(repo_root):
    """The converter script's ``main``, imported in-process (the subprocess run is tested once)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'convert_official_cli', osp.join(repo_root, 'tools', 'model_converters', 'convert_official.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_convert_official_cli(tmp_path, repo_root, capsys):
    src, dst = tmp_path / 'deit.pth', tmp_path / 'out' / 'deit_mmseg.pth'
    torch.save({'model': official.materialise(official.deit_b_official())}, src)
    proc = run_tool(['tools/model_converters/convert_official.py', 'vit', str(src), str(dst)], cwd=repo_root)
    assert 'dropped (classifier): 2' in proc.stdout
    converted = torch.load(dst, map_location='cpu')
    assert converted['meta']['source_format'] == 'vit'
    assert converted['state_dict']['layers.11.attn.attn.in_proj_weight'].shape == (2304, 768)

    main = _cli_main(repo_root)
    assert main(['vit_adapter', str(src), str(tmp_path / 'adapter.pth'), '--verify']) == 0
    out = capsys.readouterr().out
    assert 'verify against ViTAdapter:' in out and '0 shape mismatches' in out
    assert "unexpected (ignored): ['cls_token', 'ln1.weight', 'ln1.bias']" in out
    bad = tmp_path / 'bad.pth'
    torch.save({'not.a.vit.key': torch.zeros(1)}, bad)
    assert main(['vit', str(bad), str(tmp_path / 'never.pth')]) == 2
    assert 'not.a.vit.key' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'never.pth')
    assert main(['vit', str(tmp_path / 'missing.pth'), str(dst)]) == 1
