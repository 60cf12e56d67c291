"""The authors' released files, key for key: key -> shape tables as their training scripts save them.

Written from the authors' model code (ViTAE-Transformer/SAMRS ``Pretraining and Finetuning``,
ViTAE-Transformer/MTP ``Multi-Task_Pretrain``): encoders from the official layouts of
``official_layouts.py`` plus what SAMRS / MTP change (Swin's output norms, the plain ViT-B,
ViT-Adapter's modules, MTP's RVSA, InternImage-XL); decoders that the authors take from
mmseg / mmdet / mmrotate (UperNet, Mask2Former, FPN, RPN and RoI heads) are built from those
packages with the authors' arguments, their classifiers removed as the authors' copies remove
them. ``file_content`` wraps a state dict as their scripts save it. Full-size tables are
materialised on the meta device (no memory); small variants with random values for numerics.
"""
from collections import OrderedDict

import numpy as np
import torch

from . import official_layouts as official
from .official_layouts import _conv, _linear, _norm

SUBSET_CLASSES = {'sota': 18, 'sior': 20, 'fast': 37}


def module_shapes(cfg, registry='mmseg', drop=()):
    """key -> shape of a stock OpenMMLab module built (on meta) from ``cfg``, ``drop`` prefixes removed."""
    from mmengine.registry import MODELS, DefaultScope

    from samrs_mm.models.released import ParametersOnMeta
    with DefaultScope.overwrite_default_scope(registry), ParametersOnMeta():
        module = MODELS.build(cfg)
    return OrderedDict((k, tuple(v.shape)) for k, v in module.state_dict().items() if not k.startswith(tuple(drop)))


def prefixed(prefix, shapes):
    """The table with ``prefix`` before every key."""
    return OrderedDict((prefix + k, v) for k, v in shapes.items())


# ----------------------------------------------------------------------------- encoders
def resnet50():
    """SAMRS's ``backbone/resnet_mmseg_10.py``: mmseg's plain ResNet-50 (its copy), BN buffers included."""
    return module_shapes(dict(type='ResNet', depth=50))


def swin_t_seg():
    """SAMRS's segmentation Swin-T: the official blocks, persistent index buffers, output norms norm0-3."""
    d = OrderedDict((k, v) for k, v in official.swin_t_official(num_classes=0).items()
                    if not k.endswith('attn_mask') and not k.startswith('norm.'))
    for i, c in enumerate((96, 192, 384, 768)):
        _norm(d, f'norm{i}', c)
    return d


def vitaev2_s():
    """SAMRS's ViTAEv2-S (``vitaev2_s()``): no classifier, four unused output norms."""
    return official.vitaev2_s_official(num_classes=0, with_samrs_out_norms=True)


def internimage(channels=64, depths=(4, 4, 18, 4), groups=(4, 8, 16, 32), layer_scale=True, post_norm=False,
                mlp_ratio=4):
    """InternImage as SAMRS (T: layer scale, pre-norm) and MTP (XL: post-norm, no level norms) build it."""
    d = OrderedDict()
    c = channels
    _conv(d, 'patch_embed.conv1', c // 2, 3, 3)
    _norm(d, 'patch_embed.norm1.1', c // 2)
    _conv(d, 'patch_embed.conv2', c, c // 2, 3)
    _norm(d, 'patch_embed.norm2.1', c)
    for i, depth in enumerate(depths):
        ch = c * 2**i
        for j in range(depth):
            b = f'levels.{i}.blocks.{j}.'
            if layer_scale:
                d[b + 'gamma1'] = (ch, )
                d[b + 'gamma2'] = (ch, )
            _norm(d, b + 'norm1.0', ch)
            _conv(d, b + 'dcn.dw_conv.0', ch, ch, 3, groups=ch)
            _norm(d, b + 'dcn.dw_conv.1.1', ch)
            _linear(d, b + 'dcn.offset', groups[i] * 18, ch)
            _linear(d, b + 'dcn.mask', groups[i] * 9, ch)
            _linear(d, b + 'dcn.input_proj', ch, ch)
            _linear(d, b + 'dcn.output_proj', ch, ch)
            _norm(d, b + 'norm2.0', ch)
            _linear(d, b + 'mlp.fc1', int(mlp_ratio * ch), ch)
            _linear(d, b + 'mlp.fc2', ch, int(mlp_ratio * ch))
        if not post_norm:
            _norm(d, f'levels.{i}.norm.0', ch)
        if i < len(depths) - 1:
            _conv(d, f'levels.{i}.downsample.conv', 2 * ch, ch, 3, bias=False)
            _norm(d, f'levels.{i}.downsample.norm.1', 2 * ch)
    return d


def _pyramid(d, dim):
    d['fpn1.0.weight'] = (dim, dim, 2, 2)
    d['fpn1.0.bias'] = (dim, )
    _norm(d, 'fpn1.1.ln', dim)
    d['fpn1.3.weight'] = (dim, dim, 2, 2)
    d['fpn1.3.bias'] = (dim, )
    d['fpn2.0.weight'] = (dim, dim, 2, 2)
    d['fpn2.0.bias'] = (dim, )


def vit_b(img_size=224, dim=768, depth=12, heads=12):
    """SAMRS's ``backbone/vit.py`` ViT: position embedding without class slot, final norm, fpn1 / fpn2."""
    d = OrderedDict()
    d['pos_embed'] = (1, (img_size // 16)**2, dim)
    official._timm_vit(d, depth=depth, dim=dim, heads=heads)
    _norm(d, 'norm', dim)
    _pyramid(d, dim)
    return d


def rvsa(img_size=224, dim=768, depth=12, heads=12, interval=3, mtp=True, window=7):
    """``ViT_Win_RVSA_V3_WSZ7``: SAMRS's (``mtp=False``: no position embedding) and MTP's (position
    embedding, ``full_attn_rel_pos_h/w`` over the token grid in the global blocks)."""
    d = OrderedDict()
    hd, grid = dim // heads, img_size // 16
    _conv(d, 'patch_embed.proj', dim, 3, 16)
    if mtp:
        d['pos_embed'] = (1, grid * grid, dim)
    for i in range(depth):
        b = f'blocks.{i}.'
        _norm(d, b + 'norm1', dim)
        _linear(d, b + 'attn.qkv', 3 * dim, dim)
        if (i + 1) % interval:
            d[b + 'attn.rel_pos_h'] = (2 * window - 1, hd)
            d[b + 'attn.rel_pos_w'] = (2 * window - 1, hd)
            _conv(d, b + 'attn.sampling_offsets.2', 2 * heads, dim, 1)
            _conv(d, b + 'attn.sampling_scales.2', 2 * heads, dim, 1)
            _conv(d, b + 'attn.sampling_angles.2', heads, dim, 1)
            d[b + 'attn.relative_position_bias_table'] = ((2 * window - 1)**2, heads)
            d[b + 'attn.relative_position_index'] = (window * window, window * window)
        elif mtp:
            d[b + 'attn.full_attn_rel_pos_h'] = (2 * grid - 1, hd)
            d[b + 'attn.full_attn_rel_pos_w'] = (2 * grid - 1, hd)
        _linear(d, b + 'attn.proj', dim, dim)
        _norm(d, b + 'norm2', dim)
        _linear(d, b + 'mlp.fc1', 4 * dim, dim)
        _linear(d, b + 'mlp.fc2', dim, 4 * dim)
    _norm(d, 'norm', dim)
    _pyramid(d, dim)
    return d


def _bn(d, prefix, c):
    official._bn(d, prefix, c)


def vit_adapter_b(dim=768, depth=12, heads=12, deform_heads=12, inplanes=64, points=4, deform_ratio=0.5,
                  cffn_ratio=0.25, interactions=((0, 2), (3, 5), (6, 8), (9, 11))):
    """SAMRS's ``backbone/vit_adapter.py`` (czczup/ViT-Adapter): TIMM ViT with layer scale
    ``gamma1/2``, spatial prior module, interactions (the last with two extra extractors),
    level embedding, ``up`` and SyncBN output norms ``norm1-4``."""
    d = OrderedDict()
    d['pos_embed'] = (1, 197, dim)
    _conv(d, 'patch_embed.proj', dim, 3, 16)
    for i in range(depth):
        b = f'blocks.{i}.'
        _norm(d, b + 'norm1', dim)
        _linear(d, b + 'attn.qkv', 3 * dim, dim)
        _linear(d, b + 'attn.proj', dim, dim)
        _norm(d, b + 'norm2', dim)
        _linear(d, b + 'mlp.fc1', 4 * dim, dim)
        _linear(d, b + 'mlp.fc2', dim, 4 * dim)
        d[b + 'gamma1'] = (dim, )
        d[b + 'gamma2'] = (dim, )
    d['level_embed'] = (3, dim)
    for index, (i_in, c_in, c_out) in enumerate(((0, 3, inplanes), (3, inplanes, inplanes),
                                                  (6, inplanes, inplanes))):
        _conv(d, f'spm.stem.{i_in}', c_out, c_in, 3, bias=False)
        _bn(d, f'spm.stem.{i_in + 1}', c_out)
    for name, c_in, c_out in (('conv2', inplanes, 2 * inplanes), ('conv3', 2 * inplanes, 4 * inplanes),
                              ('conv4', 4 * inplanes, 4 * inplanes)):
        _conv(d, f'spm.{name}.0', c_out, c_in, 3, bias=False)
        _bn(d, f'spm.{name}.1', c_out)
    for k, c_in in enumerate((inplanes, 2 * inplanes, 4 * inplanes, 4 * inplanes), 1):
        _conv(d, f'spm.fc{k}', dim, c_in, 1)
    value = int(dim * deform_ratio)
    hidden = int(dim * cffn_ratio)

    def deform(prefix, levels):
        _linear(d, prefix + 'sampling_offsets', deform_heads * levels * points * 2, dim)
        _linear(d, prefix + 'attention_weights', deform_heads * levels * points, dim)
        _linear(d, prefix + 'value_proj', value, dim)
        _linear(d, prefix + 'output_proj', dim, value)

    def extractor(prefix):
        _norm(d, prefix + 'query_norm', dim)
        _norm(d, prefix + 'feat_norm', dim)
        deform(prefix + 'attn.', 1)
        _linear(d, prefix + 'ffn.fc1', hidden, dim)
        _conv(d, prefix + 'ffn.dwconv.dwconv', hidden, hidden, 3, groups=hidden)
        _linear(d, prefix + 'ffn.fc2', dim, hidden)
        _norm(d, prefix + 'ffn_norm', dim)

    for i in range(len(interactions)):
        p = f'interactions.{i}.'
        d[p + 'injector.gamma'] = (dim, )
        _norm(d, p + 'injector.query_norm', dim)
        _norm(d, p + 'injector.feat_norm', dim)
        deform(p + 'injector.attn.', 3)
        extractor(p + 'extractor.')
        if i == len(interactions) - 1:
            extractor(p + 'extra_extractors.0.')
            extractor(p + 'extra_extractors.1.')
    d['up.weight'] = (dim, dim, 2, 2)
    d['up.bias'] = (dim, )
    for k in range(1, 5):
        _bn(d, f'norm{k}', dim)
    return d


ENCODERS = {
    'resnet50': (resnet50, [256, 512, 1024, 2048]),
    'swin_t': (swin_t_seg, [96, 192, 384, 768]),
    'vitaev2_s': (vitaev2_s, [64, 128, 256, 512]),
    'internimage_t': (internimage, [64, 128, 256, 512]),
    'vit_b': (vit_b, [768] * 4),
    'vit_adapter_b': (vit_adapter_b, [768] * 4),
    'vit_b_rvsa': (lambda: rvsa(mtp=False), [768] * 4),
    'vit_b_rvsa_mtp': (lambda: rvsa(img_size=224), [768] * 4),
    'vit_l_rvsa_mtp': (lambda: rvsa(img_size=448, dim=1024, depth=24, heads=16, interval=6), [1024] * 4),
    'internimage_xl': (lambda: internimage(192, (5, 5, 24, 5), (12, 24, 48, 96), post_norm=True),
                       [192, 384, 768, 1536]),
}


# ----------------------------------------------------------------------------- decoders
def uperhead_config(in_channels, channels, norm='SyncBN'):
    """The UPerHead SAMRS (``channels`` = the encoder's third width) and MTP (256) build."""
    return dict(type='UPerHead', in_channels=list(in_channels), in_index=[0, 1, 2, 3], channels=channels,
                pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=1,
                norm_cfg=dict(type=norm, requires_grad=True), align_corners=False)


def uperhead(in_channels, channels, with_conv_seg=False):
    """``upernet_mmseg_30.UPerHead`` (SAMRS: mmseg's UPerHead without conv_seg) / MTP's mmseg UPerHead."""
    return module_shapes(uperhead_config(in_channels, channels), drop=() if with_conv_seg else ('conv_seg.', ))


def unet_decoder(encoder_channels=(256, 512, 1024, 2048), decoder_channels=(512, 256, 128, 64)):
    """SAMRS's ``unet.UnetDecoder`` (n_blocks 4, batch norm, no attention, no centre block)."""
    d = OrderedDict()
    deep = list(encoder_channels)[::-1]
    ins = [deep[0]] + list(decoder_channels[:-1])
    skips = deep[1:] + [0]
    for i, (c_in, skip, c_out) in enumerate(zip(ins, skips, decoder_channels)):
        _conv(d, f'blocks.{i}.conv1.0', c_out, c_in + skip, 3, bias=False)
        _bn(d, f'blocks.{i}.conv1.1', c_out)
        _conv(d, f'blocks.{i}.conv2.0', c_out, c_out, 3, bias=False)
        _bn(d, f'blocks.{i}.conv2.1', c_out)
    return d


def mask2former_head_config(in_channels=(256, 512, 1024, 2048), num_classes=18, layers=None):
    """The Mask2Former head SAMRS builds (mmseg's settings); ``layers=(pixel, transformer, queries)``
    shrinks it for numerical checks."""
    from mmengine.config import Config
    cfg = Config.fromfile(_repo_path('configs/_base_/models/mask2former_r50.py')).model.decode_head
    cfg.update(num_classes=num_classes, in_channels=list(in_channels))
    cfg.loss_cls.class_weight = [1.0] * num_classes + [0.1]
    if layers is not None:
        cfg.pixel_decoder.encoder.num_layers, cfg.transformer_decoder.num_layers, cfg.num_queries = layers
    import mmdet.models  # noqa: F401  (the pixel / transformer decoders)
    return cfg


def mask2former_decoder(in_channels=(256, 512, 1024, 2048), layers=None):
    """``Decoupled_MMSEG_Mask2FormerDecoder``: mmdet's Mask2FormerHead without ``cls_embed``."""
    return module_shapes(mask2former_head_config(in_channels, layers=layers), drop=('cls_embed.', ))


def _repo_path(relative):
    import os.path as osp
    return osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), relative)


def mtp_branches(in_channels, model=None):
    """MTP's ``inssegdecoder`` / ``rotdetdecoder``: the stock FPN, RPN and RoI heads of its
    Mask R-CNN / Oriented R-CNN (the settings of configs/_base_/models/mtp_upernet_r50.py, equal
    to MTP's; ``model``: another model config's branches), without the per-set layers
    (``fc_cls``, ``fc_reg``, ``conv_logits``)."""
    from mmengine.config import Config

    from samrs_mm.compat import import_mmrotate
    model = model or Config.fromfile(_repo_path('configs/_base_/models/mtp_upernet_r50.py')).model
    d = OrderedDict()
    last = ('roi_head.bbox_head.fc_cls.', 'roi_head.bbox_head.fc_reg.', 'roi_head.mask_head.conv_logits.')
    import_mmrotate()
    from mmrotate.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    for task, prefix, scope in (('instance', 'inssegdecoder.', 'mmdet'), ('rotated', 'rotdetdecoder.', 'mmrotate')):
        branch = model[task]
        for part in ('neck', 'rpn_head', 'roi_head'):
            cfg = branch[part].to_dict()
            if part == 'neck':
                cfg['in_channels'] = list(in_channels)
            if part == 'roi_head':
                cfg['bbox_head'] = dict(cfg['bbox_head'], num_classes=18)
                if 'mask_head' in cfg:
                    cfg['mask_head'] = dict(cfg['mask_head'], num_classes=18)
            shapes = module_shapes(cfg, registry=scope)
            d.update((prefix + f'{part}.' + k, v) for k, v in shapes.items()
                     if not (f'{part}.' + k).startswith(last))
    return d


# ----------------------------------------------------------------------------- whole files
def samrs_sep(encoder, decoder='upernet', small=None):
    """``SemsegPretrnFramework.state_dict()`` (and ``End_to_End``'s for Mask2Former).

    ``small=(encoder table, out channels, decoder options)`` replaces the full-size encoder
    (numerical checks): ``width`` of UperNet, ``blocks`` of UNet, ``layers`` of Mask2Former.
    """
    layout, channels = ENCODERS[encoder]
    table, options = (layout(), {}) if small is None else (small[0], small[2])
    channels = channels if small is None else small[1]
    d = prefixed('encoder.', table)
    if decoder == 'upernet':
        width = options.get('width', channels[1])
        d.update(prefixed('decoder.', uperhead(channels, width)))
        for k, classes in enumerate(SUBSET_CLASSES.values(), 1):
            _conv(d, f'semseghead_{k}.1', classes, width, 1)
    elif decoder == 'unet':
        blocks = options.get('blocks', (512, 256, 128, 64))
        d.update(prefixed('decoder.', unet_decoder(channels, blocks)))
        for k, classes in enumerate(SUBSET_CLASSES.values(), 1):
            _conv(d, f'semseghead_{k}.0', classes, blocks[-1], 3)
    else:
        d.update(prefixed('decoder.', mask2former_decoder(channels, options.get('layers'))))
        for k, classes in enumerate(SUBSET_CLASSES.values(), 1):
            _linear(d, f'semseghead_{k}.cls_embed', classes + 1, 256)
    return d


def samrs_finetune(encoder, classes, small=None):
    """``SemsegFinetuneFramework.state_dict()``: Potsdam 5 / iSAID 16 classes, one ``semseghead``."""
    layout, channels = ENCODERS[encoder]
    table = layout() if small is None else small[0]
    channels = channels if small is None else small[1]
    width = channels[1] if small is None else small[2]['width']
    d = prefixed('encoder.', table)
    d.update(prefixed('decoder.', uperhead(channels, width)))
    _conv(d, 'semseghead.1', classes, width, 1)
    return d


def mtp(encoder, small=None):
    """``MutliTaskPretrnFramework.state_dict()`` with ``--background True`` (19 / 21 / 38 semantic classes).

    ``small=(encoder table, out channels[, dict(width=semantic decoder width, model=a model
    config whose branches to take)])`` for numerical checks.
    """
    layout, channels = ENCODERS[encoder]
    table = layout() if small is None else small[0]
    channels = channels if small is None else small[1]
    options = {} if small is None or len(small) < 3 else small[2]
    width, model = options.get('width', 256), options.get('model')
    fc = model.instance.roi_head.bbox_head.fc_out_channels if model else 1024
    rotated_fc = model.rotated.roi_head.bbox_head.fc_out_channels if model else 1024
    mask = model.instance.roi_head.mask_head.conv_out_channels if model else 256
    d = prefixed('encoder.', table)
    d.update(prefixed('semsegdecoder.decode_head.', uperhead(channels, width, with_conv_seg=True)))
    for k, classes in enumerate(SUBSET_CLASSES.values(), 1):
        _conv(d, f'semseghead_{k}.1', classes + 1, width, 1)
    d.update(mtp_branches(channels, model))
    for k, classes in enumerate(SUBSET_CLASSES.values(), 1):
        _linear(d, f'inssegroiboxhead_fc_cls{k}', classes + 1, fc)
        _linear(d, f'inssegroiboxhead_fc_reg{k}', classes * 4, fc)
        _conv(d, f'inssegroimaskhead_conv{k}', classes, mask, 1)
        _linear(d, f'rotdetroiboxhead_fc_cls{k}', classes + 1, rotated_fc)
        _linear(d, f'rotdetroiboxhead_fc_reg{k}', 5, rotated_fc)
    return d


def materialise(shapes, seed=0):
    """Random tensors for a key -> shape table that behave like trained ones: small weights,
    norm scales near 1, positive running variances, valid index buffers."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(1000)
        elif key.endswith('relative_position_index'):
            out[key] = torch.randint(0, 4, shape, generator=gen)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 1 and key.endswith('weight'):  # norm scales
            out[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            out[key] = 0.05 * torch.randn(shape, generator=gen)
    return out


def on_meta(shapes):
    """A full-size state dict of meta tensors for a key -> shape table (no memory)."""
    out = OrderedDict()
    for key, shape in shapes.items():
        dtype = torch.long if key.endswith(('num_batches_tracked', 'relative_position_index')) else torch.float32
        out[key] = torch.empty(shape, dtype=dtype, device='meta')
    return out


def file_content(state_dict, encoder_only=False, finetune=False, iteration=80000):
    """What the authors' scripts ``torch.save``: weights with their training state."""
    loss_key = 'loss_finetune' if finetune else 'loss_pretrain'
    content = {'epoch': 3, 'state_dict': state_dict,
               'optimizer': {'state': {}, 'param_groups': [{'lr': 0.0, 'params': []}]},
               'scheduler': {'last_epoch': iteration}, loss_key: np.array([2.5, 1.5], dtype=np.float64)}
    if not finetune:
        content['iteration'] = iteration
    return content


def mae_content(state_dict):
    """What MAE's ``main_pretrain.py`` saves (SAMRS-MAE): ``{'model', 'optimizer', 'epoch', 'scaler', 'args'}``."""
    return {'model': state_dict, 'optimizer': {'state': {}, 'param_groups': []}, 'epoch': 1599,
            'scaler': {'scale': 65536.0}, 'args': None}
