"""configs/finetune: every config parses with the paper's settings; SEP weights fit them."""
import functools
import glob
import os.path as osp
import re

import mmengine.config.utils
import pytest
from mmengine.config import Config

import samrs_mm  # noqa: F401  (mmseg:: base configs need the compat fixes)
from tests.conftest import REPO_ROOT

FINETUNE = osp.join(REPO_ROOT, 'configs', 'finetune')
DATASETS = ('potsdam', 'isaid')
FULL = sorted(p for d in DATASETS for p in glob.glob(osp.join(FINETUNE, d, '*.py')))
SMALL = sorted(p for d in DATASETS for p in glob.glob(osp.join(FINETUNE, d, 'small_data', '*.py')))
NAME = re.compile(r'(?P<model>[a-z0-9_\-]+?)-(?P<init>imp|rsp|beit|samrs-mae|mae)(?P<sep>-sep)?_8xb1-80k_'
                  r'(?P<dataset>potsdam|isaid)(-(?P<pct>\d)pct)?-(?P<size>\d+)x(?P=size)\.py$')


@pytest.fixture(autouse=True, scope='module')
def _cache_mmseg_model_index():
    """Read mmseg's model index once: mmengine re-reads its 106 metafiles for every
    ``mmseg::`` base it resolves (about 0.7 s each), which would make this module slow."""
    original = mmengine.config.utils.load
    mmengine.config.utils.load = functools.lru_cache(maxsize=None)(original)
    yield
    mmengine.config.utils.load = original


PROTOCOL = {
    'potsdam': dict(size=512, classes=5, dataset='Potsdam5Dataset', metric='PotsdamMetric',
                    best='mF1'),
    'isaid': dict(size=896, classes=16, dataset='iSAIDFinetuneDataset', metric='iSAIDMetric',
                  best='mIoU'),
}


def test_config_set_is_complete():
    assert len(FULL) == 56 and len(SMALL) == 3 * len(FULL)
    for path in FULL:
        stem = osp.basename(path)[:-3]
        folder = osp.dirname(path)
        assert NAME.match(osp.basename(path)), path
        for pct in (1, 3, 5):
            dataset, size = stem.rsplit('_', 1)[1].rsplit('-', 1)
            small = osp.join(folder, 'small_data', stem.replace(f'{dataset}-{size}',
                                                                f'{dataset}-{pct}pct-{size}') + '.py')
            assert osp.isfile(small), small
        if '-sep_' not in path:
            assert osp.isfile(path.replace('_8xb1', '-sep_8xb1')), f'no +SEP twin of {path}'
    datasets = {osp.basename(osp.dirname(p)) for p in FULL}
    assert datasets == {'potsdam', 'isaid'}
    for dataset in datasets:  # the same rows for both datasets
        rows = lambda d: {osp.basename(p).split('_8xb1')[0] for p in FULL if f'/{d}/' in p}  # noqa
        assert rows(dataset) == rows('potsdam')


@pytest.mark.parametrize('path', FULL + SMALL, ids=lambda p: osp.relpath(p, FINETUNE))
def test_config_follows_the_paper_protocol(path):
    match = NAME.match(osp.basename(path))
    assert match, f'{path}: name does not state model-init_8xb1-80k_dataset-size'
    protocol = PROTOCOL[match['dataset']]
    assert f'/{match["dataset"]}/' in path
    cfg = Config.fromfile(path)
    size = (protocol['size'], protocol['size'])
    # Batch 8 = 8 GPUs x 1, 80k iterations, AdamW (0.9, 0.999), cosine decay.
    assert cfg.train_dataloader.batch_size == 1 and cfg.auto_scale_lr.base_batch_size == 8
    assert cfg.train_cfg.max_iters == 80000
    # Exact, constant-time resume: the loop and a sampler that starts mid-stream.
    assert cfg.train_cfg.type == 'ExactResumeIterBasedTrainLoop'
    assert cfg.train_dataloader.sampler.type == 'ResumableInfiniteSampler'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert tuple(cfg.optim_wrapper.optimizer.betas) == (0.9, 0.999)
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR' and cfg.param_scheduler[0].T_max == 80000
    # Data and metric of the dataset; sliding-window inference at the crop size.
    assert cfg.train_dataloader.dataset.type == protocol['dataset']
    assert cfg.test_dataloader.dataset.data_prefix.img_path == 'img_dir/val'
    assert cfg.test_evaluator.type == protocol['metric']
    assert cfg.default_hooks.checkpoint.save_best == protocol['best']
    assert cfg.model.test_cfg.mode == 'slide' and tuple(cfg.model.test_cfg.crop_size) == size
    assert tuple(cfg.model.data_preprocessor.size) == size
    assert cfg.model.decode_head.num_classes == protocol['classes']
    if cfg.model.get('auxiliary_head'):
        assert cfg.model.auxiliary_head.num_classes == protocol['classes']
    if cfg.model.backbone.type == 'VisionTransformer':
        assert tuple(cfg.model.backbone.img_size) == size
    if match['init'] == 'beit' and match['model'] == 'upernet_vit-b':
        # mmseg's BEiT (relative position bias, layer scale) at the crop size, as in SEP
        assert cfg.model.backbone.type == 'BEiTBackbone' and tuple(cfg.model.backbone.img_size) == size
        assert tuple(cfg.model.data_preprocessor.test_cfg.size) == size
        if not match['sep']:
            assert cfg.model.backbone.init_cfg.checkpoint.endswith('beit_base_patch16_224_pt22k_ft22k.pth')
    if cfg.model.decode_head.type == 'Mask2FormerHead':
        assert len(cfg.model.decode_head.loss_cls.class_weight) == protocol['classes'] + 1
        assert 'mmdet.models' in cfg.custom_imports.imports
    # Initialisation: +SEP rows load the converted SEP checkpoint and download nothing.
    if match['sep']:
        assert cfg.load_from.startswith('checkpoints/sep_init/') and cfg.load_from.endswith('-sep.pth')
        assert cfg.model.get('pretrained') is None and cfg.model.backbone.get('init_cfg') is None
    else:
        assert cfg.load_from is None
    if match['init'] in ('rsp', 'beit', 'samrs-mae') and not match['sep']:
        assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    if match['init'] in ('mae', 'samrs-mae') and not match['sep']:
        # MillionAID MAE (the RVSA authors') vs the MAE of configs/mae/ on the SAMRS crops
        assert cfg.model.backbone.type == 'ViTRVSA' and match['model'] == 'upernet_vit-b-rvsa'
        assert cfg.model.backbone.init_cfg.checkpoint.endswith(
            'samrs-mae_vit-b.pth' if match['init'] == 'samrs-mae' else 'vit-b-checkpoint-1599.pth')
    # Small-data rows: the deterministic subset option, nothing else changes.
    expected_ratio = int(match['pct']) / 100 if match['pct'] else None
    assert cfg.train_dataloader.dataset.get('subset_ratio') == expected_ratio
    assert cfg.val_dataloader.dataset.get('subset_ratio') is None


def test_sep_checkpoint_path_comes_from_the_environment(monkeypatch, tmp_path):
    path = osp.join(FINETUNE, 'potsdam', 'small_data',
                    'upernet_r50-imp-sep_8xb1-80k_potsdam-1pct-512x512.py')
    monkeypatch.setenv('SAMRS_SEP_INIT', str(tmp_path / 'mine.pth'))
    monkeypatch.setenv('POTSDAM_ROOT', str(tmp_path / 'potsdam'))
    cfg = Config.fromfile(path)
    assert cfg.load_from == str(tmp_path / 'mine.pth')
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'potsdam')
    assert cfg.test_dataloader.dataset.data_root == str(tmp_path / 'potsdam')


def test_samrs_mae_checkpoint_path_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('SAMRS_MAE_VITB_SAMRS', str(tmp_path / 'samrs-mae.pth'))
    for path in (osp.join(FINETUNE, 'isaid', 'small_data',
                          'upernet_vit-b-rvsa-samrs-mae_8xb1-80k_isaid-5pct-896x896.py'),
                 osp.join(REPO_ROOT, 'configs', 'sep', 'upernet_vit_rvsa_b_samrs_mae.py')):
        assert Config.fromfile(path).model.backbone.init_cfg.checkpoint == str(tmp_path / 'samrs-mae.pth')


def test_family_optimisers_follow_table_7():
    def optimiser(name):
        cfg = Config.fromfile(osp.join(FINETUNE, 'potsdam', name))
        return cfg.optim_wrapper.optimizer, cfg.param_scheduler[0].eta_min

    assert optimiser('upernet_r50-imp_8xb1-80k_potsdam-512x512.py')[0].lr == 1e-3
    assert optimiser('upernet_r50-imp_8xb1-80k_potsdam-512x512.py')[1] == 1e-4
    swin, swin_min = optimiser('upernet_swin-t-imp_8xb1-80k_potsdam-512x512.py')
    assert (swin.lr, swin.weight_decay, swin_min) == (6e-5, 1e-2, 0.0)
    vit, vit_min = optimiser('upernet_vit-b-imp_8xb1-80k_potsdam-512x512.py')
    assert (vit.lr, vit.weight_decay, vit_min) == (6e-5, 5e-2, 0.0)
