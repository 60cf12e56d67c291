"""configs/smoke/: every smoke config inherits its family's real config, keeps its data, and builds.

The tests that train them (test_sep_training, test_mtp_tools, test_exact_resume, test_train_test_tools,
test_samrs_mae_pretraining, test_demo) use them through ``tests.toy_data.write_smoke_config``.
"""
import glob
import os.path as osp
import re

import pytest
import torch

from tests.conftest import REPO_ROOT

SMOKE = osp.join(REPO_ROOT, 'configs', 'smoke')
# smoke config -> (the real config it inherits, the data root variable it reads like it)
FAMILIES = {
    'sep': ('sep/upernet_r50.py', 'SAMRS_DATA_ROOT'),
    'mtp': ('mtp/mtp_r50.py', 'SAMRS_DATA_ROOT'),
    'finetune_potsdam': ('finetune/potsdam/upernet_r50-imp_8xb1-80k_potsdam-512x512.py', 'POTSDAM_ROOT'),
    'mask_rcnn_sota': ('instance/mask-rcnn_r50_fpn_1x_sota.py', 'SAMRS_DATA_ROOT'),
    'oriented_rcnn_fast': ('rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py', 'SAMRS_DATA_ROOT'),
    'mae': ('mae/mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py', 'SAMRS_MAE_DATA_ROOT'),
    'quickstart': ('quickstart/upernet_r18_4xb4-20k_image-folder-512x512.py', None),
}


def _datasets(cfg):
    dataset = cfg.train_dataloader.dataset
    return [(d.type, d.get('ann_file'), d.get('data_root')) for d in dataset.get('datasets', [dataset])]


def test_every_smoke_config_is_listed():
    assert sorted(osp.basename(p)[:-3] for p in glob.glob(osp.join(SMOKE, '*.py'))) == sorted(FAMILIES)


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_smoke_config_inherits_the_real_config_and_builds(name, tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    import samrs_mm  # noqa: F401
    from samrs_mm.compat import import_mmrotate
    real, variable = FAMILIES[name]
    with open(osp.join(SMOKE, name + '.py')) as f:
        assert re.search(r"^_base_ = \['\.\./" + re.escape(real) + r"'\]$", f.read(), re.M)
    if variable:
        monkeypatch.setenv(variable, str(tmp_path / 'data'))
    smoke = Config.fromfile(osp.join(SMOKE, name + '.py'))
    full = Config.fromfile(osp.join(REPO_ROOT, 'configs', real))
    # The same data (types, splits, the root the real config reads) and the same model type.
    assert _datasets(smoke) == _datasets(full)
    if variable:
        assert all(root.startswith(str(tmp_path / 'data')) for _, _, root in _datasets(smoke))
    assert smoke.model.type == full.model.type and smoke.default_scope == full.default_scope
    # CPU-safe loaders: no worker processes.
    assert smoke.train_dataloader.num_workers == 0 and (smoke.get('val_dataloader') or {}).get('num_workers', 0) == 0
    if smoke.default_scope == 'mmrotate':
        import_mmrotate()
    init_default_scope(smoke.default_scope)
    model = MODELS.build(smoke.model)
    # Small enough for a CPU smoke run: at most a ResNet-18 UperNet with 16-channel heads.
    assert sum(p.numel() for p in model.parameters()) < 11.5e6
    assert isinstance(model, torch.nn.Module)
