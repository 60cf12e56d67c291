"""The authors' released checkpoints: every family recognised, converted key for key against the
full-size model of its config, and - on small variants - the converted model computes what the
authors' model computes (logits, RPN and RoI outputs) to float tolerance.

No real released file can be downloaded here: the files are written in the authors' exact
layout (``released_layouts.py``: key names and shapes from their model code, saved as their
scripts save them) with random values; the authors' forward passes are rebuilt in
``authors_reference.py`` or from the mmseg / mmdet / mmrotate modules they use.
"""
import os.path as osp
from contextlib import ExitStack

import pytest
import torch
from mmengine.registry import MODELS, DefaultScope

import samrs_mm  # noqa: F401
from samrs_mm.launch import adapt_config_to_device
from samrs_mm.models.backbones import convert_checkpoint
from samrs_mm.models.multitask.detection_branch import subset_routing
from samrs_mm.models.released import (
    FORMATS,
    ReleaseError,
    build_config,
    check_against_model,
    convert_released,
    map_released_state_dict,
)
from samrs_mm.models.released.formats import ENCODERS

from . import authors_reference as authors
from . import released_layouts as layouts
from .official_layouts import mae_b_pretrain_official

SUBSETS = list(layouts.SUBSET_CLASSES)

# --------------------------------------------------------------------------------- full size
FULL_SIZE = {
    'sep_unet_r50': lambda: layouts.samrs_sep('resnet50', 'unet'),
    'sep_upernet_r50': lambda: layouts.samrs_sep('resnet50'),
    'sep_upernet_swin_t': lambda: layouts.samrs_sep('swin_t'),
    'sep_upernet_vitaev2_s': lambda: layouts.samrs_sep('vitaev2_s'),
    'sep_upernet_internimage_t': lambda: layouts.samrs_sep('internimage_t'),
    'sep_upernet_vit_b': lambda: layouts.samrs_sep('vit_b'),
    'sep_upernet_vit_adapter_b': lambda: layouts.samrs_sep('vit_adapter_b'),
    'sep_upernet_vit_rvsa_b': lambda: layouts.samrs_sep('vit_b_rvsa'),
    'sep_mask2former_r50': lambda: layouts.samrs_sep('resnet50', 'mask2former'),
    'finetune_potsdam_upernet_swin_t': lambda: layouts.samrs_finetune('swin_t', 5),
    'finetune_isaid_upernet_swin_t': lambda: layouts.samrs_finetune('swin_t', 16),
    'finetune_potsdam_upernet_vitaev2_s': lambda: layouts.samrs_finetune('vitaev2_s', 5),
    'finetune_isaid_upernet_vitaev2_s': lambda: layouts.samrs_finetune('vitaev2_s', 16),
    'finetune_potsdam_upernet_internimage_t': lambda: layouts.samrs_finetune('internimage_t', 5),
    'finetune_isaid_upernet_internimage_t': lambda: layouts.samrs_finetune('internimage_t', 16),
    'finetune_potsdam_upernet_vit_adapter_b': lambda: layouts.samrs_finetune('vit_adapter_b', 5),
    'mae_vit_b': mae_b_pretrain_official,
    'mtp_vit_b_rvsa_mtp': lambda: layouts.mtp('vit_b_rvsa_mtp'),
    'mtp_vit_l_rvsa_mtp': lambda: layouts.mtp('vit_l_rvsa_mtp'),
    'mtp_internimage_xl': lambda: layouts.mtp('internimage_xl'),
}
# the *_encoder.pth files (SEP's, also written by fine-tuning, and MTP's backbone weights)
FULL_SIZE.update({f'encoder_{name}': layouts.ENCODERS[name][0] for name in (
    'resnet50', 'swin_t', 'vitaev2_s', 'internimage_t', 'vit_b', 'vit_adapter_b', 'vit_b_rvsa')})
FULL_SIZE.update({f'mtp_encoder_{name}': layouts.ENCODERS[name][0]
                  for name in ('vit_b_rvsa_mtp', 'vit_l_rvsa_mtp', 'internimage_xl')})



def test_every_format_has_a_full_size_file():
    assert set(FULL_SIZE) <= set(FORMATS)
    # formats without a released file of their own: fine-tuned models of the other architectures
    # (their configs exist to fine-tune from the SEP releases) are covered by the same rules
    untested = {name for name in FORMATS if name not in FULL_SIZE}
    assert all(name.startswith('finetune_') for name in untested)


# what each kind of file may leave out (docs/model_zoo.md, "What is left out")
DOCUMENTED_DROPS = ({reason for encoder in ENCODERS.values() for _, reason in encoder.drops}
                    | {reason for fmt in FORMATS.values() for _, reason in fmt.drops})


def _content(name, state):
    if name == 'mae_vit_b':
        return layouts.mae_content(state)
    return layouts.file_content(state, finetune=name.startswith('finetune'))


@pytest.mark.parametrize('name', sorted(FULL_SIZE))
def test_every_released_family_converts_key_for_key(name, repo_root):
    state = layouts.on_meta(FULL_SIZE[name]())
    result = convert_released(_content(name, state), repo_root)
    assert result.format.name == name
    # every released key is mapped (one to one) or left out for a documented reason
    assert len(result.state_dict) + len(result.dropped) == len(state)
    assert set(result.dropped) <= set(state)
    assert set(result.dropped.values()) <= DOCUMENTED_DROPS
    # ... and the result is exactly the model of the named config (checked inside, key and shape)
    assert result.format.config.startswith('configs/') and osp.isfile(osp.join(repo_root, result.format.config))
    assert result.training_state == (['args', 'epoch', 'optimizer', 'scaler'] if name == 'mae_vit_b' else
                                     sorted(['epoch', 'optimizer', 'scheduler'] + (
                                         ['loss_finetune'] if name.startswith('finetune') else
                                         ['iteration', 'loss_pretrain'])))


def test_ddp_and_data_parallel_prefixes_are_removed(repo_root):
    state = layouts.on_meta(layouts.samrs_sep('vitaev2_s'))
    ddp = {'module.' + k: v for k, v in state.items()}
    assert convert_released(layouts.file_content(ddp), repo_root).format.name == 'sep_upernet_vitaev2_s'
    # SAMRS's non-distributed runs wrap encoder, decoder and each head in DataParallel
    parts = {k.split('.', 1)[0] + '.module.' + k.split('.', 1)[1]: v for k, v in state.items()}
    result = convert_released(layouts.file_content(parts), repo_root)
    assert len(result.state_dict) + len(result.dropped) == len(state)


def test_released_architectures_are_the_authors(repo_root):
    """UperNet as wide as the encoder's third output, no auxiliary head, plain ResNet-50,
    MTP's 256-wide semantic decoder and background class."""
    widths = {'upernet_r50': 512, 'upernet_swin_t': 192, 'upernet_vitaev2_s': 128, 'upernet_internimage_t': 128,
              'upernet_vit_b': 768, 'upernet_vit_adapter_b': 768, 'upernet_vit_rvsa_b': 768}
    for name, width in widths.items():
        cfg = build_config(osp.join(repo_root, 'configs/released/sep', name + '.py'))
        assert cfg.model.decode_head.channels == width and cfg.model.get('auxiliary_head') is None
    assert build_config(osp.join(repo_root, 'configs/released/sep/upernet_r50.py')).model.backbone.type == 'ResNet'
    for name in ('mtp_vit_rvsa_b', 'mtp_vit_rvsa_l', 'mtp_internimage_xl'):
        cfg = build_config(osp.join(repo_root, 'configs/released/mtp', name + '.py'))
        assert cfg.model.decode_head.channels == 256 and cfg.model.background
        assert cfg.model.get('auxiliary_head') is None and cfg.model.rotated.per_subset_regression


def test_a_missing_or_extra_key_is_named(repo_root):
    state = layouts.on_meta(layouts.samrs_sep('swin_t'))
    extra = dict(state, **{'decoder.extra_conv.weight': torch.empty(3, 3, device='meta')})
    with pytest.raises(ReleaseError, match=r'have no place in the model .*: decoder\.extra_conv\.weight'):
        convert_released(layouts.file_content(extra), repo_root)
    missing = {k: v for k, v in state.items() if k != 'decoder.fpn_convs.1.bn.running_var'}
    with pytest.raises(ReleaseError, match=r'lacks 1 tensor.*shared_decoder\.fpn_convs\.1\.bn\.running_var'):
        convert_released(layouts.file_content(missing), repo_root)
    encoder = dict(state, **{'encoder.head.weight': torch.empty(1000, 768, device='meta')})
    with pytest.raises(ReleaseError, match=r'encoder\.head\.weight has no place in the Swin-T'):
        convert_released(layouts.file_content(encoder), repo_root)


def test_another_architecture_names_the_nearest_format(repo_root):
    # an ImageNet classifier: the R-50 encoder plus torchvision's fc
    state = layouts.on_meta(layouts.resnet50())
    state.update(layouts.on_meta({'fc.weight': (1000, 2048), 'fc.bias': (1000, )}))
    with pytest.raises(ReleaseError, match=r'nearest: SAMRS ResNet-50 .*encoder.*it has fc\.weight'):
        convert_released({'state_dict': state}, repo_root)
    # a SEP file whose UperNet is narrower than the released one: the config says so
    narrow = layouts.on_meta(layouts.samrs_sep('resnet50', small=(layouts.resnet50(), [256, 512, 1024, 2048],
                                                                  dict(width=256))))
    with pytest.raises(ReleaseError, match=r'do not fit the model of configs/released/sep/upernet_r50\.py'):
        convert_released(layouts.file_content(narrow), repo_root)


def test_position_tables_for_another_input_size_say_which(repo_root):
    state = layouts.on_meta(layouts.mtp('vit_b_rvsa_mtp'))
    state.update(layouts.on_meta(layouts.prefixed('encoder.', {'pos_embed': (1, 784, 768)})))
    with pytest.raises(ReleaseError, match=r'448 x 448 inputs: add --cfg-options model\.backbone\.img_size=448'):
        convert_released(layouts.file_content(state), repo_root)
    for i in (2, 5, 8, 11):
        for axis in 'hw':
            state[f'encoder.blocks.{i}.attn.full_attn_rel_pos_{axis}'] = torch.empty(55, 64, device='meta')
    result = convert_released(layouts.file_content(state), repo_root, {'model.backbone.img_size': 448})
    assert result.state_dict['backbone.pos_embed'].shape == (1, 784, 768)


# --------------------------------------------------------------------------------- numerics
def _metas(size, subset):
    return [dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                 batch_input_shape=(size, size), subset=subset)]


def _build(repo_root, config, options):
    cfg = adapt_config_to_device(build_config(osp.join(repo_root, config), options))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()
    return cfg, model


def _load(model, state, name):
    """Map the authors' state with the package's rules and load it strictly."""
    own = model.state_dict()
    mapped = map_released_state_dict(state, FORMATS[name], target_keys=own)
    check_against_model(mapped.state_dict, {k: tuple(v.shape) for k, v in own.items()}, name,
                        backbone_only=FORMATS[name].backbone_only)
    target = model.backbone if FORMATS[name].backbone_only else model
    prefix = 'backbone.' if FORMATS[name].backbone_only else ''
    target.load_state_dict({k[len(prefix):]: v for k, v in mapped.state_dict.items()}, strict=True)
    return mapped


def _part(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _stock(cfg, state=None, registry='mmseg', strict=True):
    with DefaultScope.overwrite_default_scope(registry):
        module = MODELS.build(dict(cfg))
    if state is not None:
        missing, unexpected = module.load_state_dict(state, strict=False)
        assert not unexpected and (not missing if strict else all(k.startswith('conv_seg') for k in missing))
    module.eval()
    return module


def _close(ours, theirs):
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=2e-5)


R18 = dict(type='ResNet', depth=18, stem_channels=16, base_channels=16)
R18_CHANNELS = [16, 32, 64, 128]
R18_OPTIONS = {'model.backbone.depth': 18, 'model.backbone.stem_channels': 16, 'model.backbone.base_channels': 16}


@pytest.mark.parametrize('decoder', ['upernet', 'unet', 'mask2former'])
def test_sep_resnet_models_give_the_authors_logits(decoder, repo_root):
    """UperNet / UNet / Mask2Former on SAMRS's ResNet (mmseg's plain ResNet: the authors' copy)."""
    small = {'upernet': dict(width=32), 'unet': dict(blocks=(32, 16, 16, 8)), 'mask2former': dict(layers=(1, 2, 10))}
    state = layouts.materialise(layouts.samrs_sep(
        'resnet50', decoder, small=(layouts.module_shapes(R18), R18_CHANNELS, small[decoder])))
    options = dict(R18_OPTIONS)
    name = {'upernet': 'sep_upernet_r50', 'unet': 'sep_unet_r50', 'mask2former': 'sep_mask2former_r50'}[decoder]
    head = 'decode_head.' if decoder == 'mask2former' else 'decode_head.decoder.'
    options[head.replace('decoder.', '') + 'in_channels'] = R18_CHANNELS
    if decoder == 'upernet':
        options['decode_head.channels'] = 32
    elif decoder == 'unet':
        options['decode_head.decoder_channels'] = (32, 16, 16, 8)
    else:
        options.update({'decode_head.pixel_decoder.encoder.num_layers': 1,
                        'decode_head.transformer_decoder.num_layers': 2, 'decode_head.num_queries': 10})
    options = {('model.' + k if not k.startswith('model.') else k): v for k, v in options.items()}
    _, model = _build(repo_root, f'configs/released/sep/{name[4:]}.py', options)
    _load(model, state, name)

    encoder = _stock(dict(R18, norm_cfg=dict(type='BN')), _part(state, 'encoder.'))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = encoder(x)
        for k, subset in enumerate(SUBSETS, 1):
            classes = layouts.SUBSET_CLASSES[subset]
            ours = model.encode_decode(x, _metas(64, subset) * 2)[:, :classes]
            if decoder == 'upernet':
                uper = _stock(layouts.uperhead_config(R18_CHANNELS, 32, 'BN'), _part(state, 'decoder.'), strict=False)
                theirs = authors.upernet_logits(uper, feats, state[f'semseghead_{k}.1.weight'],
                                                state[f'semseghead_{k}.1.bias'])
            elif decoder == 'unet':
                theirs = torch.nn.functional.conv2d(authors.unet_decoder(_part(state, 'decoder.'), feats),
                                                    state[f'semseghead_{k}.0.weight'], state[f'semseghead_{k}.0.bias'],
                                                    padding=1)
            else:
                cfg = layouts.mask2former_head_config(R18_CHANNELS, classes, layers=(1, 2, 10))
                head_state = dict(_part(state, 'decoder.'), **{'cls_embed.' + p: state[f'semseghead_{k}.cls_embed.{p}']
                                                              for p in ('weight', 'bias')})
                head = _stock(cfg, head_state)
                theirs = head.predict(feats, _metas(64, subset) * 2, dict(mode='whole'))
            _close(ours, theirs)


@pytest.mark.parametrize('encoder', ['swin_t', 'vitaev2_s', 'internimage_t'])
def test_sep_pyramid_backbones_give_the_authors_logits(encoder, repo_root):
    """Full-size Swin-T / ViTAEv2-S / InternImage-T encoders (their layouts through the verified
    official converters into the package's backbones), UperNet of the released width."""
    layout, channels = layouts.ENCODERS[encoder]
    state = layouts.materialise(layouts.samrs_sep(encoder, small=(layout(), channels, dict(width=32))))
    name = f'sep_upernet_{encoder}'
    cfg, model = _build(repo_root, FORMATS[name].config, {'model.decode_head.channels': 32})
    _load(model, state, name)
    backbone = _stock(cfg.model.backbone)
    own = backbone.state_dict()
    converted = convert_checkpoint(ENCODERS[encoder].converter, _part(state, 'encoder.'), target_keys=own)
    backbone.load_state_dict(dict(own, **converted.state_dict))
    assert set(converted.state_dict) | {k for k in own if k.endswith('num_batches_tracked')} >= set(own)
    uper = _stock(layouts.uperhead_config(channels, 32, 'BN'), _part(state, 'decoder.'), strict=False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = backbone(x)
        for k, subset in enumerate(SUBSETS, 1):
            theirs = authors.upernet_logits(uper, feats, state[f'semseghead_{k}.1.weight'],
                                            state[f'semseghead_{k}.1.bias'])
            _close(model.encode_decode(x, _metas(64, subset))[:, :layouts.SUBSET_CLASSES[subset]], theirs)


def _vit_options(dims, layers, heads, img_size, **extra):
    options = {'model.backbone.embed_dims': dims, 'model.backbone.num_layers': layers,
               'model.backbone.num_heads': heads, 'model.backbone.img_size': img_size,
               'model.decode_head.in_channels': [dims] * 4, 'model.decode_head.channels': 32}
    options.update({'model.backbone.' + k: v for k, v in extra.items()})
    return options


@pytest.mark.parametrize('variant', ['vit_b', 'vit_b_rvsa', 'finetune'])
def test_sep_vits_give_the_authors_logits(variant, repo_root):
    """SAMRS's plain ViT-B (last layer, final norm, pyramid) and ViT-B + RVSA (window transforms
    regressed from the content: non-zero here), against the authors' forward pass; a fine-tuned
    model's single classifier."""
    if variant == 'vit_b':
        table, size, extra = layouts.vit_b(img_size=64, dim=32, depth=2, heads=2), 64, dict(out_indices=(1, 1, 1, 1))
        name, depth, outs = 'sep_upernet_vit_b', 2, ()
    else:
        table, size = layouts.rvsa(img_size=224, dim=32, depth=4, heads=2, interval=2, mtp=False), 224
        extra, name, depth, outs = dict(interval=2, out_indices=(0, 1, 2, 3)), 'sep_upernet_vit_rvsa_b', 4, (0, 1, 2, 3)
    if variant == 'finetune':
        state = layouts.materialise(layouts.samrs_finetune('vit_b_rvsa', 16, small=(table, [32] * 4, dict(width=32))))
        name = 'finetune_isaid_upernet_vit_rvsa_b'
    else:
        state = layouts.materialise(layouts.samrs_sep(variant, small=(table, [32] * 4, dict(width=32))))
    _, model = _build(repo_root, FORMATS[name].config, _vit_options(32, depth, 2, size, **extra))
    _load(model, state, name)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    uper = _stock(layouts.uperhead_config([32] * 4, 32, 'BN'), _part(state, 'decoder.'), strict=False)
    with torch.no_grad():
        feats = authors.vit_forward(_part(state, 'encoder.'), x, depth, 2, outs, final_norm=variant == 'vit_b')
        for got, want in zip(model.backbone(x), feats):
            _close(got, want)
        if variant == 'finetune':
            theirs = authors.upernet_logits(uper, feats, state['semseghead.1.weight'], state['semseghead.1.bias'])
            _close(model.encode_decode(x, _metas(size, None)), theirs)
            return
        for k, subset in enumerate(SUBSETS, 1):
            theirs = authors.upernet_logits(uper, feats, state[f'semseghead_{k}.1.weight'],
                                            state[f'semseghead_{k}.1.bias'])
            _close(model.encode_decode(x, _metas(size, subset))[:, :layouts.SUBSET_CLASSES[subset]], theirs)


def test_sep_vit_adapter_maps_its_modules_and_gives_the_decoders_logits(repo_root):
    """ViT-Adapter's own modules land where they belong (spot checks), and decoder + heads
    compute the authors' UperNet output on the backbone's features."""
    table = layouts.vit_adapter_b(dim=32, depth=4, heads=2, deform_heads=2, inplanes=8, interactions=((0, 1), (2, 3)))
    state = layouts.materialise(layouts.samrs_sep('vit_adapter_b', small=(table, [32] * 4, dict(width=32))))
    options = _vit_options(32, 4, 2, 224, deform_num_heads=2, conv_inplane=8, interaction_indexes=((0, 1), (2, 3)))
    _, model = _build(repo_root, FORMATS['sep_upernet_vit_adapter_b'].config, options)
    _load(model, state, 'sep_upernet_vit_adapter_b')
    backbone = model.backbone
    for ours, theirs in ((backbone.spm.stem[1].conv.weight, 'spm.stem.3.weight'),
                         (backbone.spm.stem[2].bn.running_var, 'spm.stem.7.running_var'),
                         (backbone.spm.conv3.bn.weight, 'spm.conv3.1.weight'),
                         (backbone.out_norms[3].running_mean, 'norm4.running_mean'),
                         (backbone.layers[3].gamma2, 'blocks.3.gamma2'),
                         (backbone.interactions[1].extra_extractors[1].ffn.dwconv.dwconv.weight,
                          'interactions.1.extra_extractors.1.ffn.dwconv.dwconv.weight'),
                         (backbone.layers[1].attn.attn.in_proj_weight, 'blocks.1.attn.qkv.weight')):
        torch.testing.assert_close(ours, state['encoder.' + theirs])
    uper = _stock(layouts.uperhead_config([32] * 4, 32, 'BN'), _part(state, 'decoder.'), strict=False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = backbone(x)
        theirs = authors.upernet_logits(uper, feats, state['semseghead_2.1.weight'], state['semseghead_2.1.bias'])
        _close(model.encode_decode(x, _metas(64, 'sior'))[:, :20], theirs)


def _rois(size, rotated, count=6):
    gen = torch.Generator().manual_seed(2)
    centre = torch.rand(count, 2, generator=gen) * size * 0.6 + size * 0.2
    extent = torch.rand(count, 2, generator=gen) * size * 0.3 + 8
    index = torch.zeros(count, 1)
    if rotated:
        return torch.cat([index, centre, extent, torch.rand(count, 1, generator=gen) - 0.5], 1)
    return torch.cat([index, centre - extent / 2, centre + extent / 2], 1)


def _authors_branch(model_cfg, task, state, prefix, subset, k, channels):
    """The authors' branch for set ``k``: stock neck / RPN / RoI heads with that set's last layers."""
    cfg = model_cfg[task]
    scope = 'mmdet' if task == 'instance' else 'mmrotate'
    neck = _stock(dict(cfg.neck, in_channels=channels), _part(state, prefix + 'neck.'), scope)
    rpn = _stock(cfg.rpn_head, _part(state, prefix + 'rpn_head.'), scope)
    classes = layouts.SUBSET_CLASSES[subset]
    roi = dict(cfg.roi_head, bbox_head=dict(cfg.roi_head.bbox_head, num_classes=classes))
    last = {'bbox_head.fc_cls': ('roiboxhead_fc_cls', True), 'bbox_head.fc_reg': ('roiboxhead_fc_reg', True),
            'mask_head.conv_logits': ('roimaskhead_conv', True)}
    if 'mask_head' in roi:
        roi['mask_head'] = dict(roi['mask_head'], num_classes=classes)
    roi_state = _part(state, prefix + 'roi_head.')
    name = 'insseg' if task == 'instance' else 'rotdet'
    for layer, (stem, _) in last.items():
        for p in ('weight', 'bias'):
            key = f'{name}{stem}{k}.{p}'
            if key in state:
                roi_state[f'{layer}.{p}'] = state[key]
    with DefaultScope.overwrite_default_scope(scope):
        roi_head = MODELS.build(dict(roi, train_cfg=None, test_cfg=None))
    roi_head.load_state_dict(roi_state, strict=True)
    roi_head.eval()
    return neck, rpn, roi_head


def _roi_outputs(neck, rpn, roi_head, feats, rois):
    x = neck(feats)
    outputs = [t for level in rpn(x) for t in level]
    bbox = roi_head.bbox_head(roi_head.bbox_roi_extractor(x[:roi_head.bbox_roi_extractor.num_inputs], rois))
    outputs += list(bbox)
    if getattr(roi_head, 'with_mask', False):
        outputs.append(roi_head.mask_head(roi_head.mask_roi_extractor(x[:roi_head.mask_roi_extractor.num_inputs],
                                                                      rois)))
    return outputs


@pytest.mark.parametrize('encoder', ['vit_b_rvsa_mtp', 'internimage_xl'])
def test_mtp_models_give_the_authors_logits_and_roi_outputs(encoder, repo_root):
    """MTP: semantic logits (background class first), and per set the instance branch's RPN
    maps, box scores / deltas and mask logits and the rotated branch's RPN maps, box scores and
    its own class-agnostic deltas, against the stock modules with that set's layers."""
    if encoder == 'vit_b_rvsa_mtp':
        table, channels, size = layouts.rvsa(img_size=112, dim=32, depth=4, heads=2, interval=2), [32] * 4, 112
        options = _vit_options(32, 4, 2, 112, interval=2, out_indices=(0, 1, 2, 3))
    else:
        table = layouts.internimage(16, (1, 1, 2, 1), (1, 2, 4, 8), post_norm=True)
        channels, size = [16, 32, 64, 128], 64
        options = {'model.backbone.channels': 16, 'model.backbone.depths': (1, 1, 2, 1),
                   'model.backbone.groups': (1, 2, 4, 8), 'model.decode_head.in_channels': channels}
    options.pop('model.decode_head.channels', None)
    options.update({'model.instance.neck.in_channels': channels, 'model.rotated.neck.in_channels': channels})
    state = layouts.materialise(layouts.mtp(encoder, small=(table, channels)))
    name = f'mtp_{encoder}'
    cfg, model = _build(repo_root, FORMATS[name].config, options)
    _load(model, state, name)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    if encoder == 'vit_b_rvsa_mtp':
        feats = authors.vit_forward(_part(state, 'encoder.'), x, 4, 2, (0, 1, 2, 3))
    else:
        backbone = _stock(cfg.model.backbone)
        backbone.load_state_dict(convert_checkpoint('internimage', _part(state, 'encoder.')).state_dict)
        feats = backbone(x)
    uper = _stock(layouts.uperhead_config(channels, 256, 'BN'), _part(state, 'semsegdecoder.decode_head.'))
    with torch.no_grad(), ExitStack():
        ours_feats = model.extract_feat(x)
        for got, want in zip(ours_feats, feats):
            _close(got, want)
        for k, subset in enumerate(SUBSETS, 1):
            classes = layouts.SUBSET_CLASSES[subset] + 1  # background is class 0
            logits = torch.nn.functional.conv2d(uper._forward_feature(feats), state[f'semseghead_{k}.1.weight'],
                                                state[f'semseghead_{k}.1.bias'])
            theirs = torch.nn.functional.interpolate(logits, size=(size, size), mode='bilinear')
            _close(model.encode_decode(x, _metas(size, subset))[:, :classes], theirs)
            for task, prefix in (('instance', 'inssegdecoder.'), ('rotated', 'rotdetdecoder.')):
                rois = _rois(size, task == 'rotated')
                branch = getattr(model, task)
                theirs = _roi_outputs(*_authors_branch(cfg.model, task, state, prefix, subset, k, channels),
                                      feats, rois)
                with subset_routing(branch, subset):
                    ours = _roi_outputs(branch.neck, branch.rpn_head, branch.roi_head, ours_feats, rois)
                bbox_head = branch.roi_head.bbox_head
                rpn_outputs = len(ours) - (3 if task == 'instance' else 2)
                ours[rpn_outputs] = bbox_head.fc_cls.select(ours[rpn_outputs], subset)
                ours[rpn_outputs + 1] = bbox_head.fc_reg.select(ours[rpn_outputs + 1], subset)
                if task == 'instance':
                    ours[-1] = branch.roi_head.mask_head.conv_logits.select(ours[-1], subset)
                assert len(ours) == len(theirs)
                for got, want in zip(ours, theirs):
                    _close(got, want)


def test_mtp_encoder_file_gives_the_authors_features(repo_root):
    table = layouts.rvsa(img_size=112, dim=32, depth=4, heads=2, interval=2)
    state = layouts.materialise(table)
    options = _vit_options(32, 4, 2, 112, interval=2, out_indices=(0, 1, 2, 3))
    options.update({'model.instance.neck.in_channels': [32] * 4, 'model.rotated.neck.in_channels': [32] * 4})
    _, model = _build(repo_root, FORMATS['mtp_encoder_vit_b_rvsa_mtp'].config, options)
    mapped = _load(model, state, 'mtp_encoder_vit_b_rvsa_mtp')
    assert set(mapped.dropped.values()) == {'index buffer the model rebuilds',
                                            "final LayerNorm of the authors' RVSA module, never used by its forward"}
    x = torch.randn(2, 3, 112, 112, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for got, want in zip(model.backbone(x), authors.vit_forward(state, x, 4, 2, (0, 1, 2, 3))):
            _close(got, want)
