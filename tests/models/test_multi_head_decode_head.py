"""MultiHeadDecodeHead: routing, summed per-subset losses, equivalence with a stock head."""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models.decode_heads import FCNHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import samrs_mm  # noqa: F401
from samrs_mm.models.decode_heads.multi_head import PAD_LOGIT, MultiHeadDecodeHead

SUBSETS = [dict(name='a', num_classes=2), dict(name='b', num_classes=3)]
FCN = dict(type='FCNHead', in_channels=8, channels=4, num_convs=1, concat_input=False,
           dropout_ratio=0.0, in_index=0, num_classes=99, norm_cfg=None, align_corners=False,
           loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))


def _head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='MultiHeadDecodeHead', subsets=SUBSETS, decoder=dict(FCN), **kwargs))


def _samples(subsets, size=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for subset in subsets:
        classes = {'a': 2, 'b': 3}.get(subset, 2)
        label = torch.randint(0, classes, (1, size, size), generator=gen)
        label[0, 0, :] = 255
        sample = SegDataSample(metainfo=dict(subset=subset, img_shape=(size, size),
                                             pad_shape=(size, size), img_path=f'{subset}.png'))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return samples


def _inputs(batch, seed=1):
    return [torch.randn(batch, 8, 8, 8, generator=torch.Generator().manual_seed(seed))]


def test_state_dict_layout_is_the_documented_contract():
    keys = set(_head().state_dict())
    assert {'subset_heads.a.weight', 'subset_heads.a.bias',
            'subset_heads.b.weight', 'subset_heads.b.bias'} <= keys
    assert all(k.startswith(('shared_decoder.', 'subset_heads.')) for k in keys)
    assert not any('conv_seg' in k for k in keys)
    assert _head().subset_heads['b'].weight.shape == (3, 4, 1, 1)


def test_each_sample_uses_its_source_classifier_and_is_padded():
    head = _head()
    inputs = _inputs(3)
    logits = head.forward(inputs, ['a', 'b', 'a'])
    assert logits.shape == (3, 3, 8, 8)
    feats = head.shared_decoder._forward_feature(inputs)
    assert torch.allclose(logits[0, :2], head.subset_heads['a'](feats[0:1])[0])
    assert torch.allclose(logits[1], head.subset_heads['b'](feats[1:2])[0])
    assert torch.all(logits[[0, 2], 2] == PAD_LOGIT)


def test_single_source_head_equals_the_stock_head():
    stock = FCNHead(**{k: v for k, v in FCN.items() if k != 'type'} | dict(num_classes=2))
    multi = MODELS.build(dict(type='MultiHeadDecodeHead', decoder=dict(FCN),
                              subsets=[dict(name='a', num_classes=2)]))
    state = {('shared_decoder.' + k if not k.startswith('conv_seg') else
              k.replace('conv_seg', 'subset_heads.a')): v for k, v in stock.state_dict().items()}
    multi.load_state_dict(state, strict=True)
    inputs, samples = _inputs(2), _samples(['a', 'a'])
    assert torch.equal(multi.forward(inputs, ['a', 'a']), stock.forward(inputs))
    ours, theirs = multi.loss(inputs, samples, {}), stock.loss(inputs, samples, {})
    assert torch.equal(ours['a.loss_ce'], theirs['loss_ce'])
    assert torch.equal(ours['a.acc_seg'], theirs['acc_seg'])


def test_loss_is_the_sum_of_per_source_losses():
    head = _head()
    inputs, samples = _inputs(4), _samples(['b', 'a', 'b', 'a'])
    losses = head.loss(inputs, samples, {})
    assert set(losses) == {'a.loss_ce', 'a.acc_seg', 'b.loss_ce', 'b.acc_seg'}
    logits = head.forward(inputs, ['b', 'a', 'b', 'a'])
    ref_a = head.shared_decoder.loss_by_feat(logits[[1, 3], :2], [samples[1], samples[3]])
    ref_b = head.shared_decoder.loss_by_feat(logits[[0, 2], :3], [samples[0], samples[2]])
    assert torch.allclose(losses['a.loss_ce'], ref_a['loss_ce'])
    assert torch.allclose(losses['b.loss_ce'], ref_b['loss_ce'])


def test_source_loss_weights():
    inputs, samples = _inputs(2), _samples(['a', 'b'])
    plain = _head().loss(inputs, samples, {})
    weighted = _head(subset_loss_weights=dict(b=0.5)).loss(inputs, samples, {})
    assert torch.allclose(weighted['b.loss_ce'], plain['b.loss_ce'] * 0.5)
    assert torch.equal(weighted['a.loss_ce'], plain['a.loss_ce'])
    with pytest.raises(ValueError, match="unknown subsets \\['c'\\]"):
        _head(subset_loss_weights=dict(c=1.0))


def test_heads_absent_from_the_batch_still_get_zero_gradients():
    head = _head()
    losses = head.loss(_inputs(2), _samples(['a', 'a']), {})
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert head.subset_heads['b'].weight.grad is not None
    assert torch.count_nonzero(head.subset_heads['b'].weight.grad) == 0
    assert torch.count_nonzero(head.subset_heads['a'].weight.grad) > 0


def test_predict_by_sample_source_or_test_cfg():
    head = _head().eval()
    metas = [dict(subset='b', img_shape=(16, 16), pad_shape=(16, 16)), dict(img_shape=(16, 16), pad_shape=(16, 16))]
    with pytest.raises(KeyError, match='no "subset"'):
        head.predict(_inputs(2), metas, {})
    out = head.predict(_inputs(2), copy.deepcopy(metas), dict(subset='a'))
    assert out.shape == (2, 3, 16, 16)
    assert torch.all(out[1, 2] == PAD_LOGIT) and not torch.any(out[0, 2] == PAD_LOGIT)
    with pytest.raises(KeyError, match="test_cfg.subset='z'"):
        head.predict(_inputs(2), metas, dict(subset='z'))


def test_unknown_sample_source_names_the_file():
    with pytest.raises(KeyError, match="c.png comes from subset 'c'"):
        _head().loss(_inputs(1), _samples(['c']), {})


def test_config_errors():
    with pytest.raises(ValueError, match='exactly one of'):
        MultiHeadDecodeHead(subsets=SUBSETS)
    with pytest.raises(ValueError, match='listed twice'):
        MultiHeadDecodeHead(subsets=SUBSETS + SUBSETS[:1], decoder=dict(FCN))
    flat = MultiHeadDecodeHead(decoder_type='FCNHead', **{k: v for k, v in FCN.items() if k != 'type'})
    assert flat.subset_names == ('sota', 'sior', 'fast')  # the SAMRS default heads
    assert flat.num_classes == 37 and flat.out_channels == 37


def test_unet_head_shapes_and_relu():
    head = MODELS.build(dict(type='UNetHead', in_channels=[8, 16, 32, 64], decoder_channels=(32, 16, 8),
                             num_classes=5, norm_cfg=None, dropout_ratio=0.0))
    feats = [torch.randn(2, c, 64 // s, 64 // s) for c, s in zip([8, 16, 32, 64], [4, 8, 16, 32])]
    out = head(feats)
    assert out.shape == (2, 5, 64, 64)
    assert out.min() >= 0  # the paper's ReLU on the logits
    raw = MODELS.build(dict(type='UNetHead', in_channels=[8, 16, 32, 64], decoder_channels=(32, 16, 8),
                            num_classes=5, norm_cfg=None, logit_activation=None))
    assert raw(feats).min() < 0
    multi = MODELS.build(dict(type='MultiHeadDecodeHead', subsets=SUBSETS, decoder=dict(
        type='UNetHead', in_channels=[8, 16, 32, 64], decoder_channels=(32, 16, 8), num_classes=1,
        norm_cfg=None)))
    logits = multi.forward(feats, ['a', 'b'])
    assert logits.shape == (2, 3, 64, 64)
    # Padded channels go through the head's ReLU too: 0 there, never above a real class.
    assert torch.all(logits[0, 2] == 0)
