"""Every SEP config builds and trains 2 iterations on CPU with the documented tiny override."""
import os.path as osp

import pytest

from tests.conftest import run_tool
from tests.toy_data import write_samrs_like_dataset

# The override documented in docs/sep.md ("CPU smoke run of any SEP config").
CPU_OVERRIDE = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'train_dataloader.batch_size=3',
                'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
                'default_hooks.checkpoint.save_best=None']
NO_DOWNLOAD = {
    'upernet_r50.py': ['model.pretrained=None'],
    'unet_r50.py': ['model.pretrained=None'],
    'upernet_swin_t.py': ['model.backbone.init_cfg=None'],
    'upernet_vit_b.py': ['model.pretrained=None'],
    'mask2former_r50.py': ['model.backbone.init_cfg=None'],
}


@pytest.fixture(scope='module')
def samrs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('samrs')
    write_samrs_like_dataset(str(root), {'sota': 3, 'sior': 3, 'fast': 3}, num_val=1)
    return str(root)


@pytest.mark.parametrize('config', sorted(NO_DOWNLOAD))
def test_sep_config_trains_two_iterations_on_cpu(config, samrs_root, repo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    proc = run_tool(['tools/train.py', osp.join('configs', 'sep', config), '--work-dir', work_dir,
                     '--cfg-options'] + CPU_OVERRIDE + NO_DOWNLOAD[config],
                    env={'SAMRS_DATA_ROOT': samrs_root})
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    out = proc.stdout + proc.stderr
    for subset in ('sota', 'sior', 'fast'):
        assert f'mIoU.{subset}' in out


def test_multi_source_sampler_as_sampler_is_a_clear_error(repo_root):
    from mmengine.config import Config

    from samrs_mm.launch import build_runner
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'sep', 'upernet_r50.py'))
    cfg.train_dataloader.sampler = dict(type='MultiSourceSampler', batch_size=12)
    with pytest.raises(SystemExit, match='MultiSourceSampler is a batch sampler: set '
                                         'train_dataloader.batch_sampler='):
        build_runner(cfg)
