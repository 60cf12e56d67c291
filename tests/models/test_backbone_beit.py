"""BEiT: the official checkpoint layout -> mmseg's ``BEiT`` (``beit`` converter, ``BEiTBackbone``).

Official state dicts are built from ``official_layouts.beit_official`` (keys and shapes of
microsoft/unilm's BEiT); the reference attention below is written from the official
definition (``beit/modeling_finetune.py``). Nothing is downloaded.
"""
import importlib.util
import os.path as osp
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones.beit import BEiT
from mmseg.registry import MODELS
from scipy.interpolate import RectBivariateSpline

import samrs_mm  # noqa: F401
from samrs_mm.models.backbones import (
    BEiTBackbone,
    UnmappableKeysError,
    convert_checkpoint,
    resize_relative_position_table,
)

from . import official_layouts as official

BEIT_B = dict(type='BEiT', img_size=224, patch_size=16, embed_dims=768, num_layers=12, num_heads=12,
              mlp_ratio=4, qv_bias=True, init_values=0.1, norm_cfg=dict(type='LN', eps=1e-6))


def small(**kwargs):
    """A small BEiTBackbone config (2 layers, 32 channels, 2 heads)."""
    cfg = dict(type='BEiTBackbone', patch_size=16, embed_dims=32, num_layers=2, num_heads=2,
               out_indices=(0, 1), norm_cfg=dict(type='LN', eps=1e-6))
    cfg.update(kwargs)
    return cfg


def official_relative_position_index(wh, ww):
    """``relative_position_index`` as the official ``Attention.__init__`` builds it."""
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    num = (2 * wh - 1) * (2 * ww - 1) + 3
    index = torch.zeros((wh * ww + 1, ) * 2, dtype=torch.long)
    index[1:, 1:] = rel.sum(-1)
    index[0, 0:] = num - 3  # class token -> patches
    index[0:, 0] = num - 2  # patches -> class token
    index[0, 0] = num - 1
    return index


def official_attention(state, prefix, x, heads, window):
    """BEiT attention: q/v biases (no k bias), scaled dot product + relative position bias."""
    b, n, c = x.shape
    v_bias = state[prefix + 'v_bias']
    bias = torch.cat([state[prefix + 'q_bias'], torch.zeros_like(v_bias), v_bias])
    q, k, v = F.linear(x, state[prefix + 'qkv.weight'], bias).reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4)
    attn = (q * (c // heads)**-0.5) @ k.transpose(-2, -1)
    index = official_relative_position_index(*window)
    rel = state[prefix + 'relative_position_bias_table'][index.view(-1)].view(n, n, -1).permute(2, 0, 1)
    attn = (attn + rel.unsqueeze(0)).softmax(-1)
    return F.linear((attn @ v).transpose(1, 2).reshape(b, n, c), state[prefix + 'proj.weight'],
                    state[prefix + 'proj.bias'])


def official_block(state, i, x, heads, window, eps=1e-6):
    """One official BEiT block: pre-norm, layer-scaled residual branches."""
    p = f'blocks.{i}.'
    c = x.shape[-1]
    h = F.layer_norm(x, (c, ), state[p + 'norm1.weight'], state[p + 'norm1.bias'], eps)
    x = x + state[p + 'gamma_1'] * official_attention(state, p + 'attn.', h, heads, window)
    h = F.layer_norm(x, (c, ), state[p + 'norm2.weight'], state[p + 'norm2.bias'], eps)
    h = F.linear(F.gelu(F.linear(h, state[p + 'mlp.fc1.weight'], state[p + 'mlp.fc1.bias'])),
                 state[p + 'mlp.fc2.weight'], state[p + 'mlp.fc2.bias'])
    return x + state[p + 'gamma_2'] * h


@pytest.fixture(scope='module')
def beit_b_state():
    """An official ``beit_base_patch16_224_pt22k_ft22k.pth`` state dict (random values)."""
    return official.materialise(official.beit_official())


def test_official_beit_b_loads_into_mmseg_beit_and_one_block_matches_the_reference(beit_b_state):
    state = beit_b_state
    model = MODELS.build(dict(BEIT_B))  # mmseg's own registered BEiT, as in its upernet_beit base
    model.eval()
    result = convert_checkpoint('beit', state, target_keys=model.state_dict().keys())
    index_keys = [f'blocks.{i}.attn.relative_position_index' for i in range(12)]
    assert result.dropped == {
        **{k: 'buffer rebuilt by the model' for k in index_keys},
        'fc_norm.weight': 'classifier pooling norm', 'fc_norm.bias': 'classifier pooling norm',
        'head.weight': 'classifier', 'head.bias': 'classifier'}
    assert len(result.state_dict) == len(state) - len(result.dropped)
    incompatible = model.load_state_dict(result.state_dict, strict=False)
    assert incompatible.unexpected_keys == []
    # the only model keys not in the file: the index buffers, a function of the grid that the
    # model builds itself (the reference below uses the official construction instead)
    assert incompatible.missing_keys == [f'layers.{i}.attn.relative_position_index' for i in range(12)]
    torch.testing.assert_close(model.layers[7].attn.relative_position_bias_table,
                               state['blocks.7.attn.relative_position_bias_table'])
    torch.testing.assert_close(model.layers[7].gamma_2, state['blocks.7.gamma_2'])
    torch.testing.assert_close(model.layers[7].attn.q_bias, state['blocks.7.attn.q_bias'])
    torch.testing.assert_close(model.patch_embed.projection.weight, state['patch_embed.proj.weight'])

    # block 5 in float64: attention output and block output equal the official computation
    block = model.layers[5].double()
    state64 = {k: v.double() for k, v in state.items() if k.startswith('blocks.5.')}
    torch.manual_seed(0)
    x = torch.randn(1, 197, 768, dtype=torch.float64)
    with torch.no_grad():
        ours = block.attn(block.ln1(x))
        want = official_attention(state64, 'blocks.5.attn.', F.layer_norm(
            x, (768, ), state64['blocks.5.norm1.weight'], state64['blocks.5.norm1.bias'], 1e-6), 12, (14, 14))
        torch.testing.assert_close(ours, want)
        torch.testing.assert_close(block(x), official_block(state64, 5, x, 12, (14, 14)))


def test_small_beit_forward_equals_the_official_forward():
    state = official.materialise(official.beit_official(depth=2, dim=32, heads=2, window=2), seed=1)
    model = MODELS.build(small(type='BEiT', img_size=32))
    result = convert_checkpoint('beit', state, target_keys=model.state_dict().keys())
    model.load_state_dict(result.state_dict, strict=False)
    model.double().eval()
    state = {k: v.double() for k, v in state.items()}
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        tokens = F.conv2d(x, state['patch_embed.proj.weight'], state['patch_embed.proj.bias'], stride=16)
        tokens = torch.cat([state['cls_token'].expand(2, -1, -1), tokens.flatten(2).transpose(1, 2)], 1)
        outs = []
        for i in range(2):
            tokens = official_block(state, i, tokens, 2, (2, 2))
            outs.append(tokens[:, 1:].transpose(1, 2).reshape(2, 32, 2, 2))
        for ours, want in zip(model(x), outs):
            torch.testing.assert_close(ours, want)


def test_pretraining_checkpoint_shares_one_table_with_every_block():
    state = official.materialise(official.beit_official(depth=3, dim=32, heads=2, pretraining=True))
    model = MODELS.build(small(type='BEiT', num_layers=3, img_size=224, final_norm=True))
    result = convert_checkpoint('beit', state, target_keys=model.state_dict().keys())
    assert result.dropped == {'mask_token': 'BEiT pre-training mask token',
                              'rel_pos_bias.relative_position_index': 'buffer rebuilt by the model',
                              'lm_head.weight': 'BEiT pre-training head', 'lm_head.bias': 'BEiT pre-training head'}
    incompatible = model.load_state_dict(result.state_dict, strict=False)
    assert incompatible.unexpected_keys == []
    assert incompatible.missing_keys == [f'layers.{i}.attn.relative_position_index' for i in range(3)]
    shared = state['rel_pos_bias.relative_position_bias_table']
    tables = [result.state_dict[f'layers.{i}.attn.relative_position_bias_table'] for i in range(3)]
    for table in tables:
        torch.testing.assert_close(table, shared)
    assert tables[0].data_ptr() != tables[1].data_ptr()  # copies: fine-tuning trains them apart
    torch.testing.assert_close(model.ln1.weight, state['norm.weight'])  # final norm -> ln1
    # without a final norm in the model, the official one is reported as left out
    plain = MODELS.build(small(type='BEiT', num_layers=3, img_size=224))
    dropped = convert_checkpoint('beit', state, target_keys=plain.state_dict().keys()).dropped
    assert dropped['ln1.weight'] == 'no such parameter in this model configuration'  # reported by target name


def test_keys_mmseg_beit_cannot_hold_are_refused_by_name():
    state = official.materialise(official.beit_official(depth=1, dim=32, heads=2))
    state['blocks.0.attn.qkv.bias'] = torch.zeros(96)  # a full qkv bias: not a BEiT checkpoint
    state['blocks.0.attn.k_bias'] = torch.zeros(32)
    with pytest.raises(UnmappableKeysError) as err:
        convert_checkpoint('beit', state)
    assert err.value.keys == ['blocks.0.attn.qkv.bias', 'blocks.0.attn.k_bias']


class LegacyInterp2d:
    """``scipy.interpolate.interp2d(x, y, z, kind='cubic')`` on a regular grid, as SciPy < 1.14
    computed it (FITPACK ``regrid_smth`` with s=0, evaluated by ``bispev``); z is (len(y), len(x))."""

    def __init__(self, x, y, z, kind):
        assert kind == 'cubic'
        self.spline = RectBivariateSpline(x, y, np.asarray(z).T, kx=3, ky=3, s=0)

    def __call__(self, x, y):
        return self.spline(x, y).T


def test_table_resizing_is_mmsegs_geometric_interpolation():
    torch.manual_seed(0)
    table = torch.randn(27 * 27 + 3, 4)
    mmseg_model = BEiT(img_size=(512, 512), embed_dims=32, num_layers=1, num_heads=4)
    checkpoint = {'layers.0.attn.relative_position_bias_table': table.clone()}
    with mock.patch('mmseg.models.backbones.beit.interpolate.interp2d', LegacyInterp2d):
        want = mmseg_model.resize_rel_pos_embed(checkpoint)['layers.0.attn.relative_position_bias_table']
    resized = resize_relative_position_table(table, (32, 32))
    assert resized.shape == (63 * 63 + 3, 4)
    torch.testing.assert_close(resized, want, rtol=0, atol=1e-6)
    # the class-token entries are kept; offsets -1..1 are knots of the spline: kept exactly
    torch.testing.assert_close(resized[-3:], table[-3:], rtol=0, atol=0)
    centre = resized[:-3].view(63, 63, 4)[30:33, 30:33]
    torch.testing.assert_close(centre, table[:-3].view(27, 27, 4)[12:15, 12:15], rtol=0, atol=1e-6)
    # a non-square target stretches the axes separately; same grid: unchanged
    assert resize_relative_position_table(table, (16, 24)).shape == (31 * 47 + 3, 4)
    wide = resize_relative_position_table(table, (14, 20))[:-3].view(27, 39, 4)
    torch.testing.assert_close(wide[:, 19], table[:-3].view(27, 27, 4)[:, 13], rtol=0, atol=1e-6)
    assert resize_relative_position_table(table, (14, 14)) is table
    with pytest.raises(ValueError, match='not a square'):
        resize_relative_position_table(torch.zeros(30, 4), (4, 4))


def test_init_cfg_loads_the_official_file_at_another_input_size(tmp_path):
    state = official.materialise(official.beit_official(depth=2, dim=32, heads=2, window=4))
    path = str(tmp_path / 'beit_small_official.pth')
    torch.save({'model': state}, path)  # the official files wrap the weights in 'model'
    model = MODELS.build(small(img_size=96, init_cfg=dict(type='Pretrained', checkpoint=path)))
    assert isinstance(model, BEiTBackbone) and isinstance(model, BEiT)
    model.init_weights()
    torch.testing.assert_close(model.layers[1].ffn.layers[0][0].weight, state['blocks.1.mlp.fc1.weight'])
    torch.testing.assert_close(model.layers[0].gamma_1, state['blocks.0.gamma_1'])
    # 4 x 4 -> 6 x 6 grid: tables resized on load, index buffers the model's own
    torch.testing.assert_close(model.layers[1].attn.relative_position_bias_table,
                               resize_relative_position_table(state['blocks.1.attn.relative_position_bias_table'],
                                                              (6, 6)))
    assert torch.equal(model.layers[1].attn.relative_position_index, official_relative_position_index(6, 6))
    model.eval()
    with torch.no_grad():
        assert [tuple(f.shape) for f in model(torch.randn(1, 3, 96, 96))] == [(1, 32, 6, 6)] * 2

    # a SEP segmentor checkpoint (mmseg names under backbone.) loads natively, resized likewise
    seg_path = str(tmp_path / 'sep.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()}}, seg_path)
    again = MODELS.build(small(img_size=64, init_cfg=dict(type='Pretrained', checkpoint=seg_path)))
    again.init_weights()
    torch.testing.assert_close(again.layers[0].attn.v_bias, state['blocks.0.attn.v_bias'])
    assert again.layers[0].attn.relative_position_bias_table.shape == (7 * 7 + 3, 2)
    assert torch.equal(again.layers[0].attn.relative_position_index, official_relative_position_index(4, 4))


def test_without_a_checkpoint_it_initialises_as_mmseg_beit():
    torch.manual_seed(0)
    ours = MODELS.build(small(img_size=32))
    ours.init_weights()
    torch.manual_seed(0)
    theirs = MODELS.build(small(type='BEiT', img_size=32))
    theirs.init_weights()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name


def test_convert_official_cli_beit_verify(beit_b_state, tmp_path, repo_root, capsys):
    spec = importlib.util.spec_from_file_location(
        'convert_official_cli_beit', osp.join(repo_root, 'tools', 'model_converters', 'convert_official.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    src, dst = tmp_path / 'beit_base_patch16_224_pt22k_ft22k.pth', tmp_path / 'beit_mmseg.pth'
    torch.save({'model': beit_b_state}, src)
    assert module.main(['beit', str(src), str(dst), '--verify']) == 0
    out = capsys.readouterr().out
    assert 'dropped (buffer rebuilt by the model): 12' in out
    assert 'verify against BEiTBackbone: 0 missing, 0 unexpected, 0 shape mismatches' in out
    converted = torch.load(dst, map_location='cpu')
    assert converted['meta']['source_format'] == 'beit'
    assert converted['state_dict']['layers.11.attn.relative_position_bias_table'].shape == (732, 12)
