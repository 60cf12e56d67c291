"""The authors' forward passes, written in the tests from their model code (SAMRS / MTP).

Each function computes what the released module computes from the released tensors (authors'
key names), so a converted model can be compared with it: ``vit_forward`` (SAMRS's
``backbone/vit.py`` and MTP's / SAMRS's ``vit_win_rvsa_v3_wsz7.py``: patch embedding, optional
position embedding, blocks with global attention (MTP: decomposed relative positions from the
*scaled* query) or rotated varied-size window attention, final norm where used, the simple
feature pyramid ``fpn1``-``fpn4``), ``unet_decoder`` (SAMRS's ``unet.py``) and
``upernet_logits`` (SAMRS: the UperNet features upsampled 4x, then the set's 1x1 classifier).
"""
import torch
import torch.nn.functional as F


def _linear(state, prefix, x):
    return F.linear(x, state[prefix + '.weight'], state.get(prefix + '.bias'))


def _rel_pos(q, rel_h, rel_w, h, w):
    """``q . R_h[qy - ky + h - 1] + q . R_w[qx - kx + w - 1]`` for every query / key pair."""
    b, heads, _, d = q.shape
    rows, cols = torch.arange(h), torch.arange(w)
    table_h = rel_h[rows[:, None] - rows[None, :] + h - 1]  # (qy, ky, d)
    table_w = rel_w[cols[:, None] - cols[None, :] + w - 1]
    q = q.reshape(b, heads, h, w, d)
    by_row = torch.einsum('bnyxd,ykd->bnyxk', q, table_h)
    by_col = torch.einsum('bnyxd,xkd->bnyxk', q, table_w)
    return (by_row[..., :, None] + by_col[..., None, :]).reshape(b, heads, h * w, h * w)


def global_attention(state, p, x, h, w, heads):
    """Their ``Attention``: softmax(q k^T / sqrt(d) [+ relative positions of the scaled q]) v."""
    b, n, c = x.shape
    q, k, v = _linear(state, p + 'qkv', x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q = q * (c // heads)**-0.5
    attn = q @ k.transpose(-2, -1)
    if p + 'full_attn_rel_pos_h' in state:
        attn = attn + _rel_pos(q, state[p + 'full_attn_rel_pos_h'], state[p + 'full_attn_rel_pos_w'], h, w)
    out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
    return _linear(state, p + 'proj', out)


def _window_index(ws):
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


def rvsa_attention(state, p, x, h, w, heads, ws=7):
    """Their ``RotatedVariedSizeWindowAttention``: per head and window, keys / values sampled
    on the window scaled, rotated (about its centre) and moved by what three 1x1 convs regress
    from the average-pooled window; decomposed relative positions of the unscaled query and a
    relative position bias table on the logits."""
    b, n, c = x.shape
    d = c // heads
    pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
    top, left = pad_h // 2, pad_w // 2
    pads = (left, pad_w - left, top, pad_h - top)
    hp, wp = h + pad_h, w + pad_w
    nh, nw = hp // ws, wp // ws
    # pixel centres in [-1, 1]: channel 0 the column (x), channel 1 the row (y)
    ys, xs = torch.linspace(-1, 1, hp), torch.linspace(-1, 1, wp)
    image = torch.stack([xs[None, :].expand(hp, wp), ys[:, None].expand(hp, wp)])[None]
    centres = F.avg_pool2d(image, ws).reshape(1, 2, nh, 1, nw, 1)
    local_y = torch.arange(ws) * 2 / (hp - 1)
    local_x = torch.arange(ws) * 2 / (wp - 1)
    local_y, local_x = local_y - local_y.mean(), local_x - local_x.mean()
    lx = local_x.repeat(nw)[None, :].expand(nh * ws, nw * ws)
    ly = local_y.repeat(nh)[:, None].expand(nh * ws, nw * ws)
    local = torch.stack([lx, ly]).reshape(1, 2, nh, ws, nw, ws)

    padded = F.pad(x.transpose(1, 2).reshape(b, c, h, w), pads)
    pooled = F.leaky_relu(F.avg_pool2d(padded, ws))

    def regress(name, parts):
        out = F.conv2d(pooled, state[p + f'sampling_{name}.2.weight'], state[p + f'sampling_{name}.2.bias'])
        return out.reshape(b * heads, parts, nh, nw)

    offsets, scales, angles = regress('offsets', 2), regress('scales', 2), regress('angles', 1)
    offsets = torch.stack([offsets[:, 0] / (h // ws), offsets[:, 1] / (w // ws)], 1)  # as released
    scaled = local * (scales[:, :, :, None, :, None] + 1)
    cos, sin = angles[:, 0, :, None, :, None].cos(), angles[:, 0, :, None, :, None].sin()
    turned = torch.stack([scaled[:, 0] * cos - scaled[:, 1] * sin, scaled[:, 1] * cos + scaled[:, 0] * sin], 1)
    coords = centres + turned + offsets[:, :, :, None, :, None]
    grid = coords.permute(0, 2, 3, 4, 5, 1).reshape(b * heads, hp, wp, 2)

    qkv = _linear(state, p + 'qkv', x).transpose(1, 2).reshape(b, 3, heads, d, h, w)
    qkv = F.pad(qkv.transpose(0, 1).reshape(3 * b * heads, d, h, w), pads).reshape(3, b * heads, d, hp, wp)
    q, k, v = qkv[0], qkv[1], qkv[2]
    k = F.grid_sample(k, grid, padding_mode='zeros', align_corners=True)
    v = F.grid_sample(v, grid, padding_mode='zeros', align_corners=True)

    def windows(t):
        return t.reshape(b, heads, d, nh, ws, nw, ws).permute(0, 3, 5, 1, 4, 6, 2).reshape(b * nh * nw, heads,
                                                                                             ws * ws, d)

    q, k, v = windows(q), windows(k), windows(v)
    dots = (q @ k.transpose(-2, -1)) * d**-0.5
    dots = dots + _rel_pos(q, state[p + 'rel_pos_h'], state[p + 'rel_pos_w'], ws, ws)
    bias = state[p + 'relative_position_bias_table'][_window_index(ws).reshape(-1)]
    dots = dots + bias.reshape(ws * ws, ws * ws, heads).permute(2, 0, 1)[None]
    out = dots.softmax(-1) @ v  # (b nh nw, heads, ws ws, d)
    out = out.reshape(b, nh, nw, heads, ws, ws, d).permute(0, 3, 6, 1, 4, 2, 5).reshape(b, c, hp, wp)
    out = out[:, :, top:top + h, left:left + w].reshape(b, c, h * w).transpose(1, 2)
    return _linear(state, p + 'proj', out)


def _norm(state, prefix, x, eps=1e-6):
    return F.layer_norm(x, x.shape[-1:], state[prefix + '.weight'], state[prefix + '.bias'], eps)


def vit_forward(state, x, depth, heads, out_indices, final_norm=False):
    """The four pyramid maps of their plain / RVSA ViT (``blocks.i.attn.sampling_*`` marks RVSA)."""
    tokens = F.conv2d(x, state['patch_embed.proj.weight'], state['patch_embed.proj.bias'], stride=16)
    b, c, h, w = tokens.shape
    tokens = tokens.flatten(2).transpose(1, 2)
    if 'pos_embed' in state:
        tokens = tokens + state['pos_embed']
    feats = []
    for i in range(depth):
        p = f'blocks.{i}.'
        y = _norm(state, p + 'norm1', tokens)
        if p + 'attn.sampling_offsets.2.weight' in state:
            y = rvsa_attention(state, p + 'attn.', y, h, w, heads)
        else:
            y = global_attention(state, p + 'attn.', y, h, w, heads)
        tokens = tokens + y
        y = _norm(state, p + 'norm2', tokens)
        tokens = tokens + _linear(state, p + 'mlp.fc2', F.gelu(_linear(state, p + 'mlp.fc1', y)))
        if i in out_indices:
            feats.append(tokens)
    if final_norm:
        feats = [_norm(state, 'norm', tokens)] * 4
    maps = [f.transpose(1, 2).reshape(b, c, h, w) for f in feats]

    def deconv(prefix, t):
        return F.conv_transpose2d(t, state[prefix + '.weight'], state[prefix + '.bias'], stride=2)

    up = deconv('fpn1.0', maps[0])
    up = F.gelu(F.layer_norm(up.permute(0, 2, 3, 1), (c, ), state['fpn1.1.ln.weight'], state['fpn1.1.ln.bias'],
                             1e-6).permute(0, 3, 1, 2))
    return [deconv('fpn1.3', up), deconv('fpn2.0', maps[1]), maps[2], F.max_pool2d(maps[3], 2)]


def _conv_bn_relu(state, p, x):
    x = F.conv2d(x, state[p + '.0.weight'], padding=1)
    x = F.batch_norm(x, state[p + '.1.running_mean'], state[p + '.1.running_var'], state[p + '.1.weight'],
                     state[p + '.1.bias'], False, 0.0, 1e-5)
    return F.relu(x)


def unet_decoder(state, feats):
    """Their ``UnetDecoder`` (4 blocks, the last without skip) and the final 2x bilinear upsampling."""
    x, skips = feats[-1], list(feats[-2::-1]) + [None]
    for i, skip in enumerate(skips):
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        if skip is not None:
            x = torch.cat([x, F.interpolate(skip, size=x.shape[2:], mode='bilinear')], 1)
        x = _conv_bn_relu(state, f'blocks.{i}.conv2', _conv_bn_relu(state, f'blocks.{i}.conv1', x))
    return F.interpolate(x, scale_factor=2, mode='bilinear')


def upernet_logits(uperhead, feats, weight, bias):
    """SAMRS's UperNet output: the UperNet features, 4x bilinear upsampling, the set's 1x1 conv."""
    x = F.interpolate(uperhead._forward_feature(feats), scale_factor=4, mode='bilinear')
    return F.conv2d(x, weight, bias)
