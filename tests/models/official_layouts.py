"""Key -> shape tables of the *official* checkpoints, written from the official model definitions.

Used by the converter tests to prove that every key of a published checkpoint maps (or is
deliberately left out) without downloading anything. ``BUFFER`` marks non-parameter entries
(BatchNorm statistics, index buffers) so parameter counts can be compared.
"""
from collections import OrderedDict

import torch

BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked', 'relative_position_index', 'attn_mask')


def is_buffer(key):
    """True for state-dict entries that are buffers, not parameters."""
    return key.endswith(BUFFER_SUFFIXES)


def param_count(shapes):
    """Number of parameters (buffers excluded) in a key -> shape table."""
    total = 0
    for key, shape in shapes.items():
        if not is_buffer(key):
            total += int(torch.Size(shape).numel())
    return total


def materialise(shapes, seed=0):
    """Random tensors for a key -> shape table (integer buffers get integers)."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith(('num_batches_tracked', 'relative_position_index')):
            out[key] = torch.randint(0, 5, shape, generator=gen)
        else:
            out[key] = torch.randn(shape, generator=gen)
    return out


def _linear(d, prefix, out_f, in_f, bias=True):
    d[prefix + '.weight'] = (out_f, in_f)
    if bias:
        d[prefix + '.bias'] = (out_f, )


def _norm(d, prefix, c):
    d[prefix + '.weight'] = (c, )
    d[prefix + '.bias'] = (c, )


def _bn(d, prefix, c):
    _norm(d, prefix, c)
    d[prefix + '.running_mean'] = (c, )
    d[prefix + '.running_var'] = (c, )
    d[prefix + '.num_batches_tracked'] = ()


def _conv(d, prefix, out_c, in_c, k, groups=1, bias=True):
    d[prefix + '.weight'] = (out_c, in_c // groups, k, k)
    if bias:
        d[prefix + '.bias'] = (out_c, )


# ----------------------------------------------------------------------------- ViTAEv2-S
def vitaev2_s_official(num_classes=1000, with_samrs_out_norms=False):
    """ViTAEv2-S as in ViTAE-Transformer (ImageNet) / ViTAE-Transformer-Remote-Sensing (RSP)."""
    d = OrderedDict()
    in_c = 3
    embed, token = (64, 64, 128, 256), (64, 128, 256, 512)
    kernels, n_dil = (7, 3, 3, 3), (4, 3, 2, 2)
    rc_heads, nc_heads = (1, 1, 2, 4), (1, 2, 4, 8)
    rc_groups, nc_groups = (1, 16, 32, 64), (1, 32, 64, 128)
    depths, window = (2, 2, 8, 2), (True, True, False, False)
    for i in range(4):
        e, t = embed[i], token[i]
        rc = f'layers.{i}.RC.'
        _conv(d, rc + 'PCM.0', e, in_c, 3, rc_groups[i])
        _bn(d, rc + 'PCM.1', e)
        _conv(d, rc + 'PCM.3', e, e, 3, rc_groups[i])
        _bn(d, rc + 'PCM.4', e)
        _conv(d, rc + 'PCM.6', t, e, 3, rc_groups[i])
        for j in range(n_dil[i]):
            _conv(d, rc + f'PRM.convs.{j}.0', e, in_c, kernels[i])
        prm = e * n_dil[i]
        _norm(d, rc + 'attn.norm1', prm)
        if window[i]:  # SwinTransformerBlock(in_dim=prm, out_dim=t), qkv bias, (unused) bias table
            d[rc + 'attn.attn.relative_position_bias_table'] = (169, rc_heads[i])
            d[rc + 'attn.attn.relative_position_index'] = (49, 49)
            _linear(d, rc + 'attn.attn.qkv', 3 * t, prm)
        else:  # Token_transformer: qkv without bias
            _linear(d, rc + 'attn.attn.qkv', 3 * t, prm, bias=False)
        _linear(d, rc + 'attn.attn.proj', t, t)
        _norm(d, rc + 'attn.norm2', t)
        _linear(d, rc + 'attn.mlp.fc1', t, t)
        _linear(d, rc + 'attn.mlp.fc2', t, t)
        for j in range(depths[i]):
            nc = f'layers.{i}.NC.{j}.'
            _norm(d, nc + 'norm1', t)
            if window[i]:
                d[nc + 'attn.relative_position_bias_table'] = (169, nc_heads[i])
                d[nc + 'attn.relative_position_index'] = (49, 49)
            _linear(d, nc + 'attn.qkv', 3 * t, t)
            _linear(d, nc + 'attn.proj', t, t)
            _norm(d, nc + 'norm2', t)
            _linear(d, nc + 'mlp.fc1', 4 * t, t)
            _linear(d, nc + 'mlp.fc2', t, 4 * t)
            _conv(d, nc + 'PCM.0', 4 * t, t, 3, nc_groups[i])
            _bn(d, nc + 'PCM.1', 4 * t)
            _conv(d, nc + 'PCM.3', t, 4 * t, 3, nc_groups[i])
            _bn(d, nc + 'PCM.4', t)
            _conv(d, nc + 'PCM.6', t, t, 3, nc_groups[i])
        in_c = t
    if with_samrs_out_norms:
        for i in range(4):
            _norm(d, f'norm{i}', token[i])
    if num_classes:
        _linear(d, 'head', num_classes, 512)
    return d


# ----------------------------------------------------------------------------- InternImage-T
def internimage_t_official(num_classes=1000, layer_scale=False):
    """InternImage-T as in OpenGVLab/InternImage (classification), LayerNorm everywhere."""
    d = OrderedDict()
    c, depths, groups = 64, (4, 4, 18, 4), (4, 8, 16, 32)
    _conv(d, 'patch_embed.conv1', c // 2, 3, 3)
    _norm(d, 'patch_embed.norm1.1', c // 2)
    _conv(d, 'patch_embed.conv2', c, c // 2, 3)
    _norm(d, 'patch_embed.norm2.1', c)
    for i in range(4):
        ch = c * 2**i
        for j in range(depths[i]):
            b = f'levels.{i}.blocks.{j}.'
            _norm(d, b + 'norm1.0', ch)
            _conv(d, b + 'dcn.dw_conv.0', ch, ch, 3, groups=ch)
            _norm(d, b + 'dcn.dw_conv.1.1', ch)
            _linear(d, b + 'dcn.offset', groups[i] * 18, ch)
            _linear(d, b + 'dcn.mask', groups[i] * 9, ch)
            _linear(d, b + 'dcn.input_proj', ch, ch)
            _linear(d, b + 'dcn.output_proj', ch, ch)
            _norm(d, b + 'norm2.0', ch)
            _linear(d, b + 'mlp.fc1', 4 * ch, ch)
            _linear(d, b + 'mlp.fc2', ch, 4 * ch)
            if layer_scale:
                d[b + 'gamma1'] = (ch, )
                d[b + 'gamma2'] = (ch, )
        _norm(d, f'levels.{i}.norm.0', ch)
        if i < 3:
            _conv(d, f'levels.{i}.downsample.conv', 2 * ch, ch, 3, bias=False)
            _norm(d, f'levels.{i}.downsample.norm.1', 2 * ch)
    if num_classes:
        _conv(d, 'conv_head.0', 768, 512, 1, bias=False)
        _bn(d, 'conv_head.1.0', 768)
        _linear(d, 'head', num_classes, 768)
    return d


# ----------------------------------------------------------------------------- ViT family
def _timm_vit(d, depth=12, dim=768, heads=12, patch=16, qkv_bias=True, beit=False):
    _conv(d, 'patch_embed.proj', dim, 3, patch)
    for i in range(depth):
        b = f'blocks.{i}.'
        if beit:
            d[b + 'gamma_1'] = (dim, )
            d[b + 'gamma_2'] = (dim, )
        _norm(d, b + 'norm1', dim)
        if beit:
            d[b + 'attn.q_bias'] = (dim, )
            d[b + 'attn.v_bias'] = (dim, )
            d[b + 'attn.relative_position_bias_table'] = (27 * 27 + 3, heads)
            d[b + 'attn.relative_position_index'] = (197, 197)
            _linear(d, b + 'attn.qkv', 3 * dim, dim, bias=False)
        else:
            _linear(d, b + 'attn.qkv', 3 * dim, dim, bias=qkv_bias)
        _linear(d, b + 'attn.proj', dim, dim)
        _norm(d, b + 'norm2', dim)
        _linear(d, b + 'mlp.fc1', 4 * dim, dim)
        _linear(d, b + 'mlp.fc2', dim, 4 * dim)


def deit_b_official():
    """DeiT-B (``deit_base_patch16_224-b5f2ef4d.pth``), the IMP ViT-B of SAMRS."""
    d = OrderedDict()
    d['cls_token'] = (1, 1, 768)
    d['pos_embed'] = (1, 197, 768)
    _timm_vit(d)
    _norm(d, 'norm', 768)
    _linear(d, 'head', 1000, 768)
    return d


def mae_b_pretrain_official():
    """MAE ViT-B pre-training checkpoint (e.g. MillionAID ``vit-b-checkpoint-1599.pth``), decoder included."""
    d = OrderedDict()
    d['cls_token'] = (1, 1, 768)
    d['pos_embed'] = (1, 197, 768)
    _timm_vit(d)
    _norm(d, 'norm', 768)
    d['mask_token'] = (1, 1, 512)
    d['decoder_pos_embed'] = (1, 197, 512)
    _linear(d, 'decoder_embed', 512, 768)
    for i in range(8):
        b = f'decoder_blocks.{i}.'
        _norm(d, b + 'norm1', 512)
        _linear(d, b + 'attn.qkv', 1536, 512)
        _linear(d, b + 'attn.proj', 512, 512)
        _norm(d, b + 'norm2', 512)
        _linear(d, b + 'mlp.fc1', 2048, 512)
        _linear(d, b + 'mlp.fc2', 512, 2048)
    _norm(d, 'decoder_norm', 512)
    _linear(d, 'decoder_pred', 768, 512)
    return d


def beit_b_22k_official():
    """BEiT-B (``beit_base_patch16_224_pt22k_ft22k.pth``): layer scale, q/v biases, relative positions."""
    d = OrderedDict()
    d['cls_token'] = (1, 1, 768)
    _timm_vit(d, beit=True)
    _norm(d, 'fc_norm', 768)
    _linear(d, 'head', 21841, 768)
    return d


def beit_official(depth=12, dim=768, heads=12, window=14, pretraining=False, num_classes=21841):
    """BEiT as in microsoft/unilm ``beit/modeling_finetune.py`` / ``modeling_pretrain.py``.

    ``pretraining=False``: an ImageNet fine-tuned model (``*_pt22k_ft22k.pth``): per-block
    relative position tables, mean pooling (``fc_norm``), classifier. ``pretraining=True``: a
    masked-image-modelling checkpoint (``*_pt22k.pth``): one shared ``rel_pos_bias`` table,
    final ``norm``, ``mask_token`` and the visual-token head ``lm_head`` (8192 tokens).
    """
    d = OrderedDict()
    table, tokens = ((2 * window - 1)**2 + 3, heads), window * window + 1
    d['cls_token'] = (1, 1, dim)
    if pretraining:
        d['mask_token'] = (1, 1, dim)
    _conv(d, 'patch_embed.proj', dim, 3, 16)
    if pretraining:
        d['rel_pos_bias.relative_position_bias_table'] = table
        d['rel_pos_bias.relative_position_index'] = (tokens, tokens)
    for i in range(depth):
        b = f'blocks.{i}.'
        d[b + 'gamma_1'] = (dim, )
        d[b + 'gamma_2'] = (dim, )
        _norm(d, b + 'norm1', dim)
        d[b + 'attn.q_bias'] = (dim, )
        d[b + 'attn.v_bias'] = (dim, )
        if not pretraining:
            d[b + 'attn.relative_position_bias_table'] = table
            d[b + 'attn.relative_position_index'] = (tokens, tokens)
        _linear(d, b + 'attn.qkv', 3 * dim, dim, bias=False)
        _linear(d, b + 'attn.proj', dim, dim)
        _norm(d, b + 'norm2', dim)
        _linear(d, b + 'mlp.fc1', 4 * dim, dim)
        _linear(d, b + 'mlp.fc2', dim, 4 * dim)
    if pretraining:
        _norm(d, 'norm', dim)
        _linear(d, 'lm_head', 8192, dim)
    else:
        _norm(d, 'fc_norm', dim)
        _linear(d, 'head', num_classes, dim)
    return d


def rvsa_b_official():
    """ViT-B + RVSA backbone as released with RVSA / SAMRS (``ViT_Win_RVSA_V3_WSZ7``)."""
    d = OrderedDict()
    _conv(d, 'patch_embed.proj', 768, 3, 16)
    for i in range(12):
        b = f'blocks.{i}.'
        _norm(d, b + 'norm1', 768)
        _linear(d, b + 'attn.qkv', 2304, 768)
        if (i + 1) % 3:
            d[b + 'attn.rel_pos_h'] = (13, 64)
            d[b + 'attn.rel_pos_w'] = (13, 64)
            _conv(d, b + 'attn.sampling_offsets.2', 24, 768, 1)
            _conv(d, b + 'attn.sampling_scales.2', 24, 768, 1)
            _conv(d, b + 'attn.sampling_angles.2', 12, 768, 1)
            d[b + 'attn.relative_position_bias_table'] = (169, 12)
            d[b + 'attn.relative_position_index'] = (49, 49)
        _linear(d, b + 'attn.proj', 768, 768)
        _norm(d, b + 'norm2', 768)
        _linear(d, b + 'mlp.fc1', 3072, 768)
        _linear(d, b + 'mlp.fc2', 768, 3072)
    _norm(d, 'norm', 768)
    d['fpn1.0.weight'] = (768, 768, 2, 2)
    d['fpn1.0.bias'] = (768, )
    _norm(d, 'fpn1.1.ln', 768)
    d['fpn1.3.weight'] = (768, 768, 2, 2)
    d['fpn1.3.bias'] = (768, )
    d['fpn2.0.weight'] = (768, 768, 2, 2)
    d['fpn2.0.bias'] = (768, )
    return d


# ----------------------------------------------------------------------------- Swin-T
def swin_t_official(num_classes=1000):
    """Swin-T (``swin_tiny_patch4_window7_224.pth``, and the RSP Swin-T) as in microsoft/Swin-Transformer."""
    d = OrderedDict()
    _conv(d, 'patch_embed.proj', 96, 3, 4)
    _norm(d, 'patch_embed.norm', 96)
    depths, heads = (2, 2, 6, 2), (3, 6, 12, 24)
    for i in range(4):
        c = 96 * 2**i
        for j in range(depths[i]):
            b = f'layers.{i}.blocks.{j}.'
            _norm(d, b + 'norm1', c)
            d[b + 'attn.relative_position_bias_table'] = (169, heads[i])
            d[b + 'attn.relative_position_index'] = (49, 49)
            _linear(d, b + 'attn.qkv', 3 * c, c)
            _linear(d, b + 'attn.proj', c, c)
            _norm(d, b + 'norm2', c)
            _linear(d, b + 'mlp.fc1', 4 * c, c)
            _linear(d, b + 'mlp.fc2', c, 4 * c)
            if j % 2 == 1 and i < 3:
                res = 56 // 2**i
                d[b + 'attn_mask'] = ((res // 7)**2, 49, 49)
        if i < 3:
            _linear(d, f'layers.{i}.downsample.reduction', 2 * c, 4 * c, bias=False)
            _norm(d, f'layers.{i}.downsample.norm', 4 * c)
    _norm(d, 'norm', 768)
    if num_classes:
        _linear(d, 'head', num_classes, 768)
    return d
