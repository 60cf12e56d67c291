"""SAMRS-MAE: mmpretrain's MAE trains on SAMRS crops through the stock launcher, and its
checkpoint initialises ViT-B + RVSA key for key (only RVSA's own parts and the pyramid fresh)."""
import importlib.util
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401  (registers ViTRVSA, applies the runtime fixes)
from samrs_mm.models.backbones import convert_checkpoint, extract_state_dict
from samrs_mm.models.backbones.pretrained import load_pretrained_weights
from tests.conftest import REPO_ROOT, free_port, run_tool

MAE_CONFIG = osp.join(REPO_ROOT, 'configs', 'mae', 'mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py')
# The shipped smoke config: a 4-layer, 32-wide ViT and a 1-block decoder; one epoch of the crops
# below is 2 iterations per process.
SMOKE_CONFIG = osp.join(REPO_ROOT, 'configs', 'smoke', 'mae.py')
# The matching ViT + RVSA: the same 4 layers (mlp ratio 4), global attention in layer 2.
TINY_RVSA = dict(type='ViTRVSA', embed_dims=32, num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3))
RVSA_OWN = ('offset_head.weight', 'offset_head.bias', 'scale_head.weight', 'scale_head.bias',
            'angle_head.weight', 'angle_head.bias', 'rel_pos_h', 'rel_pos_w',
            'relative_position_bias_table')
PYRAMID = [f'pyramid.upsample_4x.{i}.{p}' for i in (0, 1, 3) for p in ('weight', 'bias')] + \
          [f'pyramid.upsample_2x.0.{p}' for p in ('weight', 'bias')]


def expected_missing(num_layers, interval=3):
    """ViTRVSA keys no MAE checkpoint can hold: RVSA's window transforms and positions, pyramid."""
    windowed = [i for i in range(num_layers) if (i + 1) % interval]
    return sorted([f'layers.{i}.attn.{name}' for i in windowed for name in RVSA_OWN] + PYRAMID)


def _cli():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'convert_official.py')
    spec = importlib.util.spec_from_file_location('convert_official_samrs_mae', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope='module')
def mae_run(tmp_path_factory):
    """Crop tool -> MAE config (tiny) trained by tools/dist_train.sh on 2 CPU processes."""
    root = tmp_path_factory.mktemp('samrs_mae')
    os.makedirs(root / 'samrs' / 'sota' / 'images')
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(root / 'samrs' / 'sota' / 'images' / 'P0001.png'), image)
    (root / 'samrs' / 'sota' / 'train.txt').write_text('P0001\n')
    # 3 x 3 windows of 32 at stride 25 -> 9 crops; 2 processes x batch 2 -> 2 iterations each
    run_tool(['tools/dataset_converters/samrs_mae.py', str(root / 'samrs' / 'sota'), '-o',
              str(root / 'crops'), '--crop-size', '32', '--stride', '25', '--nproc', '1'])
    work_dir = root / 'work'
    proc = run_tool(['tools/dist_train.sh', SMOKE_CONFIG, '2', '--work-dir', str(work_dir)],
                    env={'SAMRS_MAE_DATA_ROOT': str(root / 'crops'), 'PORT': free_port(),
                         'OMP_NUM_THREADS': '1'})
    return dict(root=root, work_dir=work_dir, log=proc.stdout + proc.stderr,
                checkpoint=str(work_dir / 'epoch_1.pth'))


def test_mae_config_follows_the_rvsa_recipe():
    cfg = Config.fromfile(MAE_CONFIG)
    assert cfg.default_scope == 'mmpretrain' and cfg.custom_imports.imports == ['samrs_mm']
    assert cfg.model.type == 'MAE' and cfg.model.backbone.type == 'MAEViT'
    assert cfg.model.backbone.arch == 'b' and cfg.model.backbone.patch_size == 16
    assert cfg.model.backbone.mask_ratio == 0.75 and cfg.model.head.norm_pix is False
    assert cfg.train_dataloader.batch_size == 256 and cfg.auto_scale_lr.base_batch_size == 2048
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, tuple(optimizer.betas), optimizer.weight_decay) == \
        ('AdamW', pytest.approx(1.2e-3), (0.9, 0.95), 0.05)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.begin, cosine.end, cosine.eta_min) == \
        ('LinearLR', 40, 'CosineAnnealingLR', 40, 1600, 0.0)
    assert cfg.train_cfg.max_epochs == 1600
    crop = cfg.train_dataloader.dataset.pipeline[1]
    assert (crop.type, crop.scale, tuple(crop.crop_ratio_range), crop.interpolation) == \
        ('RandomResizedCrop', 224, (0.2, 1.0), 'bicubic')
    dataset = cfg.train_dataloader.dataset
    assert (dataset.type, dataset.ann_file, dataset.with_label) == ('CustomDataset', 'train.txt', False)


def test_mae_config_trains_through_dist_train_on_cpu(mae_run):
    log = mae_run['log']
    assert 'Epoch(train) [1][2/2]' in log and re.search(r'loss: \d+\.\d+', log)
    checkpoint = torch.load(mae_run['checkpoint'], map_location='cpu', weights_only=False)
    assert checkpoint['meta']['iter'] == 2 and checkpoint['meta']['epoch'] == 1
    state = checkpoint['state_dict']
    assert 'backbone.layers.3.attn.qkv.weight' in state and 'neck.decoder_pred.weight' in state


def test_converted_checkpoint_loads_into_vit_rvsa_with_only_rvsa_parts_missing(mae_run, tmp_path, capsys):
    converted = str(tmp_path / 'samrs-mae_vit-b.pth')
    assert _cli()(['vit_rvsa', mae_run['checkpoint'], converted]) == 0
    out = capsys.readouterr().out
    assert 'dropped (ViT-RVSA has no class token): 1' in out
    assert "dropped (final ViT norm (unused: outputs go through the feature pyramid)): 2 e.g. " \
           "['ln1.weight', 'ln1.bias']" in out
    mae = torch.load(mae_run['checkpoint'], map_location='cpu', weights_only=False)['state_dict']
    loaded = {}
    for source, path in (('native', converted), ("official 'vit_rvsa'", mae_run['checkpoint'])):
        model = MODELS.build(TINY_RVSA)
        summary = load_pretrained_weights(model, path, official_format='vit_rvsa')
        # the raw mmpretrain file is converted on load, not mistaken for this package's layout
        assert summary['source'] == source
        assert summary['missing'] == expected_missing(4)
        assert summary['loaded'] == 50 and summary['dropped']['pos_embed'].startswith('no such parameter')
        loaded[source] = model.state_dict()
    for key, value in loaded['native'].items():  # the converted file and the raw one load the same
        if key not in expected_missing(4):
            assert torch.equal(value, loaded["official 'vit_rvsa'"][key]), key
    state = loaded['native']
    # windowed layers take mmpretrain's qkv / proj as they are, the global layer 2 as mmseg's
    assert torch.equal(state['layers.0.attn.qkv.weight'], mae['backbone.layers.0.attn.qkv.weight'])
    assert torch.equal(state['layers.2.attn.attn.in_proj_weight'], mae['backbone.layers.2.attn.qkv.weight'])
    assert torch.equal(state['layers.2.attn.attn.out_proj.bias'], mae['backbone.layers.2.attn.proj.bias'])
    assert torch.equal(state['layers.3.ffn.layers.1.weight'], mae['backbone.layers.3.ffn.layers.1.weight'])
    assert torch.equal(state['patch_embed.projection.weight'], mae['backbone.patch_embed.projection.weight'])


def test_global_layers_compute_what_mmpretrain_computed(mae_run):
    from mmpretrain.models import MAEViT
    arch = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=128)
    mae = MAEViT(arch=arch)
    state = torch.load(mae_run['checkpoint'], map_location='cpu', weights_only=False)['state_dict']
    mae.load_state_dict({k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')})
    mae.eval()  # (its train() returns None)
    rvsa = MODELS.build(dict(TINY_RVSA, init_cfg=dict(type='Pretrained', checkpoint=mae_run['checkpoint'])))
    rvsa.init_weights()
    rvsa.eval()
    torch.manual_seed(0)
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours, hw = rvsa.patch_embed(image)
        theirs = mae.patch_embed(image)[0]
        torch.testing.assert_close(ours, theirs)
        tokens = torch.randn(2, 17, 32)
        torch.testing.assert_close(rvsa.layers[2](tokens), mae.layers[2](tokens))


def test_full_size_mae_vit_b_converts_key_for_key_with_verify(tmp_path, capsys):
    from mmpretrain.models import MAEViT
    shapes = {k: v.shape for k, v in MAEViT(arch='b').state_dict().items()}
    # All tensors view one shared buffer: the file stays small, the keys and shapes are real.
    storage = torch.zeros(max(int(np.prod(s)) for s in shapes.values()))
    state = {f'backbone.{k}': storage[:int(np.prod(s))].view(s) for k, s in shapes.items()}
    state['neck.decoder_pred.weight'] = storage[:768 * 512].view(768, 512)
    src, dst = tmp_path / 'epoch_1600.pth', tmp_path / 'samrs-mae_vit-b.pth'
    torch.save({'state_dict': state, 'meta': dict(epoch=1600)}, src)
    assert _cli()(['vit_rvsa', str(src), str(dst), '--verify']) == 0
    out = capsys.readouterr().out
    # 8 windowed layers x 9 RVSA tensors + 8 pyramid tensors; the MAE's fixed position table
    assert 'verify against ViTRVSA: 80 missing, 1 unexpected, 0 shape mismatches' in out
    assert "unexpected (ignored): ['pos_embed']" in out
    converted = torch.load(dst, map_location='cpu', weights_only=False)['state_dict']
    own = MODELS.build(dict(type='ViTRVSA')).state_dict()
    missing = sorted(k for k in own if k not in converted and not k.endswith('relative_position_index'))
    assert missing == expected_missing(12)
    assert sorted(k for k in converted if k not in own) == ['pos_embed']
    assert all(tuple(v.shape) == tuple(own[k].shape) for k, v in converted.items() if k in own)
    result = convert_checkpoint('vit_rvsa', extract_state_dict(torch.load(src, weights_only=False)))
    assert set(result.dropped) == {'cls_token', 'ln1.weight', 'ln1.bias'}


def test_full_size_mae_vit_b16_builds_and_computes_its_loss_on_the_pinned_stack():
    # mmpretrain 1.2.0 beside mmcv 2.1.0 / mmengine 0.10.7 / torch 2.14: the config's own model
    # (MAE ViT-B/16, its decoder and data preprocessor) and optimiser on a collated batch.
    # (Training steps are what the tiny dist_train.sh run above takes; a full-size backward +
    # AdamW step is about 20 s on 2 CPU cores, measured once, see docs/finetune.md.)
    import mmcv
    import mmengine
    import mmpretrain
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    from mmpretrain.structures import DataSample
    assert (mmpretrain.__version__, mmcv.__version__, mmengine.__version__) == ('1.2.0', '2.1.0', '0.10.7')
    cfg = Config.fromfile(MAE_CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = PRETRAIN_MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert sum(p.numel() for p in model.backbone.parameters()) == 85_798_656  # ViT-B/16 + final norm
    # no weight decay on norms and biases only (the authors' timm add_weight_decay rule)
    decays = {id(p): group['weight_decay'] for group in optim_wrapper.optimizer.param_groups
              for p in group['params']}
    assert decays[id(model.backbone.layers[0].ln1.weight)] == 0.0
    assert decays[id(model.backbone.layers[0].attn.qkv.bias)] == 0.0
    assert decays[id(model.backbone.layers[0].attn.qkv.weight)] == 0.05
    assert decays[id(model.backbone.cls_token)] == decays[id(model.neck.mask_token)] == 0.05
    torch.manual_seed(0)
    batch = dict(inputs=torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8), data_samples=[DataSample()])
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss'])
    # 75 % of the 196 patches are masked: the encoder sees 49 of them and the class token
    assert model.backbone(data['inputs'])[0].shape == (1, 50, 768)
