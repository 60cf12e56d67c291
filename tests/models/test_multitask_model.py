"""MultiTaskEncoderDecoder: one backbone pass, per-task / per-subset losses, gradients (issue 12).

A tiny model (configs/smoke/mtp.py, configs/mtp/mtp_r50.py shrunk: ResNet-18
with 16 base channels, 16-channel branches) on one 64 px sample of each SAMRS subset made by
the annotate runner; the full-size configs are only built.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, init_default_scope

import samrs_mm  # noqa: F401
from samrs_mm.launch import adapt_config_to_device
from samrs_mm.models.multitask.data_preprocessor import add_background_class
from tests.conftest import REPO_ROOT
from tests.toy_data import write_tiny_mtp_config

SUBSET_CLASSES = {'sota': 18, 'sior': 20, 'fast': 37}


@pytest.fixture(scope='module')
def tiny(samrs_objects, tmp_path_factory):
    """The tiny config, a built model and a raw batch with one training sample per subset."""
    root, _ = samrs_objects
    path = write_tiny_mtp_config(str(tmp_path_factory.mktemp('mtp_model') / 'tiny.py'), REPO_ROOT, root)
    cfg = adapt_config_to_device(Config.fromfile(path))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    samples = [dataset[i] for i in (0, 2, 4)]  # sota, sior, fast (two images each)
    assert [s['data_samples'].metainfo['subset'] for s in samples] == ['sota', 'sior', 'fast']
    return cfg, model, samples


def _losses(model, samples, seed=0):
    model.train()
    model.zero_grad()
    data = model.data_preprocessor(pseudo_collate(copy.deepcopy(samples)), True)
    torch.manual_seed(seed)
    losses = model(**data, mode='loss')
    total, log = model.parse_losses(losses)
    total.backward()
    return losses, total, log


def _grads(module):
    return {name: (None if p.grad is None else p.grad.clone()) for name, p in module.named_parameters()}


def _abs_sum(grads):
    return sum(float(g.abs().sum()) for g in grads.values() if g is not None)


@pytest.fixture()
def weights(tiny):
    """Restores the model's task and subset weights after a test changes them."""
    model = tiny[1]
    saved = dict(model.task_loss_weights), dict(model.subset_loss_weights)
    yield model
    model.task_loss_weights.update(saved[0])
    model.subset_loss_weights.update(saved[1])


def test_one_backbone_pass_per_batch_in_training_and_inference(tiny):
    _, model, samples = tiny
    calls = []
    handle = model.backbone.register_forward_hook(lambda *args: calls.append(1))
    try:
        _losses(model, samples)
        assert len(calls) == 1
        model.eval()
        with torch.no_grad():
            outputs = model.test_step(pseudo_collate(copy.deepcopy(samples)))
        assert len(calls) == 2
    finally:
        handle.remove()
    for output, sample in zip(outputs, samples):
        height, width = sample['data_samples'].metainfo['ori_shape']
        assert tuple(output.pred_sem_seg.data.shape) == (1, height, width)
        labels = set(output.pred_sem_seg.data.unique().tolist())
        assert labels <= set(range(SUBSET_CLASSES[output.metainfo['subset']])) | {255}
        assert output.pred_instances.masks.shape[1:] == (height, width)
        assert output.pred_rotated_instances.bboxes.shape[-1] == 5
        # each subset's detections use its own classes only (padded classes score 0)
        for field in ('pred_instances', 'pred_rotated_instances'):
            labels = getattr(output, field).labels.tolist()
            assert labels and max(labels) < SUBSET_CLASSES[output.metainfo['subset']]


def test_losses_per_task_and_subset_and_every_parameter_gets_a_gradient(tiny):
    _, model, samples = tiny
    losses, total, log = _losses(model, samples)
    for subset in SUBSET_CLASSES:
        assert f'semantic.decode.{subset}.loss_ce' in losses
        for loss in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
            assert f'instance.{subset}.{loss}' in losses
        for loss in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
            assert f'rotated.{subset}.{loss}' in losses
    assert not any(key.startswith('rotated.') and 'mask' in key for key in losses)
    parts = sum(value for key, value in log.items() if 'loss' in key and key != 'loss')
    assert abs(parts - float(total)) < 1e-4 * float(total)
    # DDP without find_unused_parameters needs every parameter in the graph
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


@pytest.mark.parametrize('task', ['semantic', 'instance', 'rotated'])
def test_each_branch_alone_reaches_the_shared_backbone(tiny, weights, task):
    _, model, samples = tiny
    for other in model.task_loss_weights:
        model.task_loss_weights[other] = 1.0 if other == task else 0.0
    losses, _, _ = _losses(model, samples)
    assert all(key.startswith(task + '.') for key in losses)
    assert _abs_sum(_grads(model.backbone)) > 0
    own = model.decode_head if task == 'semantic' else getattr(model, task)
    assert _abs_sum(_grads(own)) > 0
    for other in ('instance', 'rotated'):
        if other != task:  # switched off: in the graph (for DDP) with exactly zero gradients
            grads = _grads(getattr(model, other))
            assert all(g is not None and not g.any() for g in grads.values())


def test_a_branch_of_weight_zero_gets_no_gradient_and_leaves_the_others_alone(tiny, weights):
    cfg, model, samples = tiny
    model.task_loss_weights['instance'] = 0.0
    _losses(model, samples, seed=3)
    instance = _grads(model.instance)
    assert instance and all(g is not None and not g.any() for g in instance.values())
    with_zero = _grads(model.backbone)
    # the same model built without the instance branch, same weights and random stream
    without_cfg = copy.deepcopy(cfg.model)
    without_cfg['instance'] = None
    init_default_scope('mmseg')
    without = MODELS.build(without_cfg)
    missing, unexpected = without.load_state_dict(model.state_dict(), strict=False)
    assert missing == [] and all(key.startswith('instance.') for key in unexpected)
    _losses(without, samples, seed=3)
    for name, grad in _grads(without.backbone).items():
        torch.testing.assert_close(with_zero[name], grad)


def test_subsets_missing_from_a_batch_get_zero_gradients_and_weights_scale_losses(tiny, weights):
    _, model, samples = tiny
    losses, _, _ = _losses(model, samples[:2], seed=5)  # sota and sior only
    assert not any('.fast.' in key for key in losses)
    heads = {
        'semantic': model.decode_head.subset_heads,
        'instance': model.instance.roi_head.bbox_head.fc_cls.subset_heads,
        'instance-reg': model.instance.roi_head.bbox_head.fc_reg.subset_heads,
        'instance-mask': model.instance.roi_head.mask_head.conv_logits.subset_heads,
        'rotated': model.rotated.roi_head.bbox_head.fc_cls.subset_heads,
    }
    for name, layers in heads.items():
        assert _abs_sum(_grads(layers['sota'])) > 0, name
        fast = _grads(layers['fast'])
        assert all(g is not None and not g.any() for g in fast.values()), name
    model.subset_loss_weights['sota'] = 2.0
    model.task_loss_weights['rotated'] = 0.5
    scaled, _, _ = _losses(model, samples[:2], seed=5)
    for key in ('instance.sota.loss_cls', 'instance.sota.loss_mask'):
        torch.testing.assert_close(scaled[key], 2.0 * losses[key])
    torch.testing.assert_close(scaled['rotated.sota.loss_cls'], 1.0 * losses['rotated.sota.loss_cls'])
    torch.testing.assert_close(scaled['rotated.sior.loss_cls'], 0.5 * losses['rotated.sior.loss_cls'])
    torch.testing.assert_close(scaled['instance.sior.loss_cls'], losses['instance.sior.loss_cls'])


def test_background_switch_adds_a_class_and_keeps_padding_ignored(tiny):
    _, model, samples = tiny
    assert model.background  # MTP's default in the configs
    assert {name: head.out_channels for name, head in model.decode_head.subset_heads.items()} == \
        {name: count + 1 for name, count in SUBSET_CLASSES.items()}
    label = torch.tensor([[[255, 0, 3], [17, 255, 1]]])
    assert add_background_class(label).tolist() == [[[0, 1, 4], [18, 0, 2]]]
    data = model.data_preprocessor(pseudo_collate(copy.deepcopy(samples)), True)
    for sample, raw in zip(data['data_samples'], samples):
        original = raw['data_samples'].gt_sem_seg.data
        height, width = original.shape[-2:]
        shifted = sample.gt_sem_seg.data
        assert torch.equal(shifted[..., :height, :width], add_background_class(original))
        assert (shifted[..., height:, :] == 255).all() and (shifted[..., :, width:] == 255).all()


@pytest.mark.parametrize('config', ['mtp_r50.py', 'mtp_vit_rvsa_b.py'])
def test_the_full_size_models_build_from_the_configs(config):
    cfg = adapt_config_to_device(Config.fromfile(osp.join(REPO_ROOT, 'configs', 'mtp', config)))
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    state = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    for subset, count in SUBSET_CLASSES.items():
        assert state[f'decode_head.subset_heads.{subset}.weight'] == (count + 1, 512, 1, 1)  # background on
        prefix = 'instance.roi_head.'
        assert state[f'{prefix}bbox_head.fc_cls.subset_heads.{subset}.weight'] == (count + 1, 1024)
        assert state[f'{prefix}bbox_head.fc_reg.subset_heads.{subset}.weight'] == (4 * count, 1024)
        assert state[f'{prefix}mask_head.conv_logits.subset_heads.{subset}.weight'] == (count, 256, 1, 1)
        assert state[f'rotated.roi_head.bbox_head.fc_cls.subset_heads.{subset}.weight'] == (count + 1, 1024)
    assert state['rotated.roi_head.bbox_head.fc_reg.weight'] == (5, 1024)  # class-agnostic: shared
    channels = 768 if 'vit' in config else 2048
    assert state['instance.neck.lateral_convs.3.conv.weight'] == (256, channels, 1, 1)
    assert not any(key.startswith('auxiliary_head.') for key in state)


def _without_class_counts(node):
    if isinstance(node, dict):
        return {k: _without_class_counts(v) for k, v in node.items() if k not in ('num_classes', '_scope_')}
    if isinstance(node, (list, tuple)):
        return [_without_class_counts(v) for v in node]
    return node


def test_the_branches_are_the_stock_detectors_and_the_vit_backbone_seps():
    """Key for key: what tools/convert_sep_checkpoint.py --target instance / rotated relies on."""
    mtp = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'mtp_upernet_r50.py')).model
    stock = {
        'instance': Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models',
                                             'mask-rcnn_r50-v1c_fpn.py')).model,
        'rotated': Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models',
                                            'oriented-rcnn-le90_r50-v1c_fpn.py')).model,
    }
    for task, detector in stock.items():
        branch = mtp[task].to_dict()
        assert branch.pop('type') == detector.type.replace('mmdet.', '' if task == 'instance' else 'mmdet.')
        for key, value in branch.items():
            assert _without_class_counts(value) == _without_class_counts(detector[key].to_dict()), (task, key)
    vit = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'mtp_upernet_vit_rvsa_b.py')).model
    sep = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'upernet_vit_rvsa_b.py')).model
    assert vit.backbone == sep.backbone
    assert vit.decode_head.in_channels == sep.decode_head.in_channels


def test_a_sample_without_a_tasks_ground_truth_is_named(tiny):
    _, model, samples = tiny
    broken = copy.deepcopy(samples)
    del broken[1]['data_samples'].gt_rotated_instances
    data = model.data_preprocessor(pseudo_collate(broken), True)
    with pytest.raises(KeyError, match='sior_0.*no gt_rotated_instances.*LoadRotatedBoxes'):
        model(**data, mode='loss')
