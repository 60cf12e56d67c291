"""The SEP configs of the four added backbones: Table 7 settings, full-size build, 2 CPU iterations."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

import samrs_mm  # noqa: F401

# config -> (backbone type, lr, weight decay, layer decay, constructor, init checkpoint fragment)
CONFIGS = {
    'upernet_vitaev2.py': ('ViTAEv2', 6e-5, 1e-2, 1.0, 'Hierarchical', 'ViTAEv2-S.pth.tar'),
    'upernet_vitaev2_rsp.py': ('ViTAEv2', 6e-5, 1e-2, 1.0, 'Hierarchical', 'rsp-vitaev2-s-ckpt.pth'),
    'upernet_internimage_t.py': ('InternImage', 6e-5, 5e-2, 1.0, 'Hierarchical', 'internimage_t_1k_224.pth'),
    'upernet_vit_adapter_b.py': ('ViTAdapter', 6e-5, 1e-2, 0.95, 'LayerDecay', 'deit_base_patch16_224'),
    'upernet_vit_adapter_b_beit.py': ('ViTAdapter', 6e-5, 1e-2, 0.95, 'LayerDecay', 'beit_base_patch16_224_pt22k'),
    'upernet_vit_rvsa_b.py': ('ViTRVSA', 6e-5, 5e-2, 0.9, 'LayerDecay', 'vit-b-checkpoint-1599.pth'),
    'upernet_vit_rvsa_b_samrs_mae.py': ('ViTRVSA', 6e-5, 5e-2, 0.9, 'LayerDecay', 'samrs-mae_vit-b.pth'),
}
OUT_CHANNELS = {'ViTAEv2': [64, 128, 256, 512], 'InternImage': [64, 128, 256, 512], 'ViTAdapter': [768] * 4,
                'ViTRVSA': [768] * 4}
# tiny versions of each backbone for the 2-iteration runs (decode heads follow out_channels)
TINY = {
    'ViTAEv2': (dict(embed_dims=(8, 8, 16, 16), token_dims=(8, 16, 32, 32), rc_groups=(1, 2, 2, 2),
                     nc_groups=(1, 2, 2, 2), depths=(1, 1, 1, 1)), [8, 16, 32, 32]),
    'InternImage': (dict(channels=16, depths=(1, 1, 1, 1), groups=(1, 2, 4, 8)), [16, 32, 64, 128]),
    'ViTAdapter': (dict(embed_dims=32, num_layers=4, num_heads=2, deform_num_heads=2, conv_inplane=8,
                        interaction_indexes=((0, 1), (2, 3))), [32] * 4),
    'ViTRVSA': (dict(embed_dims=32, num_layers=4, num_heads=2, interval=2, out_indices=(0, 1, 2, 3)), [32] * 4),
}


def load(repo_root, name):
    return Config.fromfile(osp.join(repo_root, 'configs', 'sep', name))


def _two_iterations_no_workers(cfg, work_dir):
    """Shrink a SEP config's run to 2 iterations of batch 3, in-process loading, no checkpoint."""
    cfg.work_dir = work_dir
    cfg.train_cfg.update(max_iters=2, val_interval=100)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=2)]
    cfg.train_dataloader.update(batch_size=3, num_workers=0, persistent_workers=False)
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.default_hooks.checkpoint = None  # saving pretty-prints the config: slow, and not what is tested
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.pop('visualization', None)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_follows_table_7(repo_root, name):
    backbone, lr, wd, decay, constructor, init = CONFIGS[name]
    cfg = load(repo_root, name)
    assert cfg.model.backbone.type == backbone
    assert init in cfg.model.backbone.init_cfg.checkpoint
    assert cfg.model.get('neck') is None and cfg.model.get('pretrained') is None
    assert cfg.model.decode_head.in_channels == OUT_CHANNELS[backbone]
    assert cfg.model.decode_head.type == 'MultiHeadDecodeHead'
    aux_index = cfg.model.auxiliary_head.get('in_index', 2)
    assert cfg.model.auxiliary_head.in_channels == OUT_CHANNELS[backbone][aux_index]
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and tuple(optim.optimizer.betas) == (0.9, 0.999)
    assert (optim.optimizer.lr, optim.optimizer.weight_decay) == (lr, wd)
    assert optim.constructor.startswith(constructor)
    assert dict(optim.paramwise_cfg) == dict(layer_decay_rate=decay)
    assert cfg.param_scheduler[0].eta_min == 0.0 and cfg.train_cfg.max_iters == 80000
    # One batch size (the loader's, 12 per GPU) and an exact, constant-time resume.
    assert cfg.train_dataloader.batch_size == 12
    assert dict(cfg.train_dataloader.batch_sampler) == dict(type='MultiSourceSampler', mode='ratio')
    assert cfg.train_cfg.type == 'ExactResumeIterBasedTrainLoop'


@pytest.mark.parametrize('name', ['upernet_vitaev2.py', 'upernet_internimage_t.py', 'upernet_vit_adapter_b.py',
                                  'upernet_vit_rvsa_b.py'])
def test_full_size_model_builds_and_runs_at_small_size(repo_root, name):
    cfg = load(repo_root, name)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # default initialisation is enough to check the wiring
    model.train()
    feats = model.extract_feat(torch.randn(2, 3, 64, 64))
    assert [f.shape[1] for f in feats] == OUT_CHANNELS[cfg.model.backbone.type]
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    logits = model.decode_head(feats, ['sota', 'fast'])
    logits.float().mean().backward()
    assert [n for n, p in model.backbone.named_parameters() if p.grad is None] == []
    # the configured constructor groups the real model's parameters
    optim = cfg.optim_wrapper
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=optim.constructor, optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=optim.optimizer),
             paramwise_cfg=optim.paramwise_cfg))(model)
    groups = wrapper.optimizer.param_groups
    decay = optim.paramwise_cfg.layer_decay_rate
    last = max(g['layer_id'] for g in groups)  # heads and everything after the backbone
    for group in groups:
        assert group['lr'] == pytest.approx(optim.optimizer.lr * decay**(last - group['layer_id']))
    assert {g['weight_decay'] for g in groups} == {0.0, optim.optimizer.weight_decay}
    head = next(g for g in groups if any(n.startswith('decode_head.') for n in g['param_names']))
    assert head['lr'] == pytest.approx(optim.optimizer.lr)


# the _rsp / _beit variants differ from these only in the checkpoint, which the tiny run drops
@pytest.mark.parametrize('name', ['upernet_vitaev2.py', 'upernet_internimage_t.py', 'upernet_vit_adapter_b.py',
                                  'upernet_vit_rvsa_b.py'])
def test_two_cpu_iterations_with_a_tiny_override(repo_root, tmp_path, monkeypatch, name):
    from mmengine.runner import Runner

    from tests.toy_data import write_samrs_like_dataset
    write_samrs_like_dataset(str(tmp_path / 'samrs'), {'sota': 3, 'sior': 3, 'fast': 3})
    monkeypatch.setenv('SAMRS_DATA_ROOT', str(tmp_path / 'samrs'))
    cfg = load(repo_root, name)
    backbone = cfg.model.backbone.type
    tiny, channels = TINY[backbone]
    cfg.model.backbone.update(tiny, init_cfg=None)
    cfg.model.decode_head.update(in_channels=channels, channels=16)
    cfg.model.auxiliary_head.update(in_channels=channels[cfg.model.auxiliary_head.get('in_index', 2)], channels=16)
    _two_iterations_no_workers(cfg, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()  # 2 iterations, then the loop's closing validation on the toy val lists
    assert runner.iter == 2
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar('train/loss').current()))
    groups = runner.optim_wrapper.optimizer.param_groups
    assert all('layer_id' in g for g in groups)
    assert 'mIoU' in ''.join(runner.message_hub.log_scalars)


# ----------------------------------------------------------------------------- BEiT + SEP
# mmseg's BEiT (BEiTBackbone: converts the official file on load) with mmseg's BEiT UperNet
# (Feature2Pyramid neck): a model at one input size, hence its own checks.
BEIT_CONFIG = 'upernet_vit_b_beit.py'


def test_beit_config_follows_table_7(repo_root):
    cfg = load(repo_root, BEIT_CONFIG)
    backbone = cfg.model.backbone
    assert backbone.type == 'BEiTBackbone' and tuple(backbone.img_size) == (224, 224)
    assert (backbone.embed_dims, backbone.num_layers, backbone.num_heads) == (768, 12, 12)
    assert backbone.qv_bias is True and backbone.init_values == 0.1 and backbone.drop_path_rate == 0.1
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.checkpoint == 'pretrained/beit_base_patch16_224_pt22k_ft22k.pth'
    assert cfg.model.get('pretrained') is None
    assert cfg.model.neck.type == 'Feature2Pyramid' and list(cfg.model.neck.rescales) == [4, 2, 1, 0.5]
    assert tuple(backbone.out_indices) == (3, 5, 7, 11)
    assert cfg.model.decode_head.type == 'MultiHeadDecodeHead' and cfg.model.decode_head.decoder_type == 'UPerHead'
    assert cfg.model.auxiliary_head.type == 'MultiHeadDecodeHead'
    assert cfg.model.auxiliary_head.decoder_type == 'FCNHead'
    assert tuple(cfg.model.data_preprocessor.size) == (224, 224)
    # the backbone's fixed grid: validation slides 224 windows over the 512 crops
    assert dict(cfg.model.test_cfg) == dict(mode='slide', crop_size=(224, 224), stride=(144, 144))
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and tuple(optim.optimizer.betas) == (0.9, 0.999)
    assert (optim.optimizer.lr, optim.optimizer.weight_decay) == (6e-5, 5e-2)
    assert optim.constructor == 'LayerDecayOptimWrapperConstructor'
    assert dict(optim.paramwise_cfg) == dict(layer_decay_rate=0.9)
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR' and cfg.param_scheduler[0].eta_min == 0.0
    assert cfg.train_cfg.max_iters == 80000


def test_beit_checkpoint_path_comes_from_the_environment(repo_root, monkeypatch):
    monkeypatch.setenv('SAMRS_BEIT_B', '/weights/beit.pth')
    assert load(repo_root, BEIT_CONFIG).model.backbone.init_cfg.checkpoint == '/weights/beit.pth'


def test_beit_full_size_model_builds_and_runs_at_small_size(repo_root):
    cfg = load(repo_root, BEIT_CONFIG)
    cfg.model.backbone.update(init_cfg=None, img_size=(64, 64))  # full width and depth, 4 x 4 grid
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'BEiTBackbone'
    model.train()
    feats = model.extract_feat(torch.randn(2, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [768] * 4
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    model.decode_head(feats, ['sota', 'fast']).float().mean().backward()
    assert [n for n, p in model.backbone.named_parameters() if p.grad is None] == []
    optim = cfg.optim_wrapper
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=optim.constructor, optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=optim.optimizer),
             paramwise_cfg=optim.paramwise_cfg))(model)
    lr_wd = {n: (g['lr'], g['weight_decay'], g['layer_id'])
             for g in wrapper.optimizer.param_groups for n in g['param_names']}
    assert set(lr_wd) == {n for n, _ in model.named_parameters()}
    # 14 layer ids: embeddings 0, BEiT layer i -> i + 1, neck and heads 13 (full rate)
    lr, decay = 6e-5, 0.9
    assert lr_wd['backbone.cls_token'] == (pytest.approx(lr * decay**13), 0.0, 0)
    assert lr_wd['backbone.patch_embed.projection.weight'] == (pytest.approx(lr * decay**13), 5e-2, 0)
    assert lr_wd['backbone.layers.0.attn.relative_position_bias_table'] == (pytest.approx(lr * decay**12), 0.0, 1)
    assert lr_wd['backbone.layers.4.gamma_1'] == (pytest.approx(lr * decay**8), 0.0, 5)
    assert lr_wd['backbone.layers.4.attn.q_bias'] == (pytest.approx(lr * decay**8), 0.0, 5)
    assert lr_wd['backbone.layers.11.attn.qkv.weight'] == (pytest.approx(lr * decay), 5e-2, 12)
    assert lr_wd['neck.upsample_4x.0.weight'] == (pytest.approx(lr), 5e-2, 13)
    assert lr_wd['decode_head.shared_decoder.fpn_bottleneck.conv.weight'] == (pytest.approx(lr), 5e-2, 13)


def test_beit_two_cpu_iterations_with_a_tiny_override(repo_root, tmp_path, monkeypatch):
    from mmengine.runner import Runner

    from tests.toy_data import write_samrs_like_dataset
    write_samrs_like_dataset(str(tmp_path / 'samrs'), {'sota': 3, 'sior': 3, 'fast': 3})
    monkeypatch.setenv('SAMRS_DATA_ROOT', str(tmp_path / 'samrs'))
    cfg = load(repo_root, BEIT_CONFIG)
    # tiny BEiT at the config's 224 grid (training crops are 224; the 64-pixel toy validation
    # images are padded to 224 and predicted by the sliding window)
    cfg.model.backbone.update(embed_dims=32, num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3), init_cfg=None)
    cfg.model.neck.embed_dim = 32
    cfg.model.decode_head.update(in_channels=[32] * 4, channels=16)
    cfg.model.auxiliary_head.update(in_channels=32, channels=16)
    _two_iterations_no_workers(cfg, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar('train/loss').current()))
    assert max(g['layer_id'] for g in runner.optim_wrapper.optimizer.param_groups) == 5
    assert 'mIoU' in ''.join(runner.message_hub.log_scalars)
