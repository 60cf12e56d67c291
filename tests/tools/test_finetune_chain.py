"""The whole chain on CPU with a tiny model: SEP train -> convert -> fine-tune -> test.

SEP runs configs/sep/upernet_r50.py (shrunk to ResNet-18 at 64 px) on a tiny SAMRS-like
set; its checkpoint is converted for configs/finetune/potsdam/upernet_r50-imp-sep_...
(shrunk the same way) and fine-tuned on Potsdam crops converted from a tiny ISPRS-layout
release. The fine-tuning runs with lr 0, so the weights it saves must be exactly the SEP
backbone and shared decoder: proof that the +SEP row really starts from SEP.
"""
import os.path as osp

import pytest
import torch

from tests.conftest import REPO_ROOT, run_tool
from tests.tools.test_potsdam_converter import make_potsdam_release
from tests.toy_data import write_samrs_like_dataset, write_tiny_sep_config

FINETUNE = osp.join(REPO_ROOT, 'configs', 'finetune', 'potsdam',
                    'upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py')
TINY_FINETUNE = """
_base_ = [{base!r}]
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(depth=18),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=16),
    auxiliary_head=dict(in_channels=256, channels=16),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(43, 43)))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='RandomFlip', prob=0.5, direction='vertical'),
        dict(type='RandomRot90', prob=0.75), dict(type='PackSegInputs')]))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=0.0))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=3)]
train_cfg = dict(max_iters=3, val_interval=3)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=3))
randomness = dict(seed=0)
"""


@pytest.mark.slow
def test_sep_convert_finetune_test(tmp_path):
    samrs = str(tmp_path / 'samrs')
    write_samrs_like_dataset(samrs, counts={'sota': 3, 'sior': 3, 'fast': 3}, num_val=1)
    sep_config = write_tiny_sep_config(str(tmp_path / 'sep_tiny.py'), REPO_ROOT, samrs,
                                       max_iters=2, batch_size=3)
    sep_dir = str(tmp_path / 'sep_work')
    run_tool(['tools/train.py', sep_config, '--work-dir', sep_dir])
    sep_checkpoint = osp.join(sep_dir, 'iter_2.pth')
    assert osp.isfile(sep_checkpoint)

    make_potsdam_release(str(tmp_path / 'release'), tiles=('2_10', '2_13'))
    potsdam = str(tmp_path / 'potsdam')
    run_tool([osp.join('tools', 'dataset_converters', 'potsdam.py'), str(tmp_path / 'release'),
              '-o', potsdam, '--crop-size', '64', '--stride', '40', '--nproc', '1'])
    finetune_config = str(tmp_path / 'finetune_tiny.py')
    with open(finetune_config, 'w') as handle:
        handle.write(TINY_FINETUNE.format(base=FINETUNE))

    init = str(tmp_path / 'sep_init.pth')
    env = dict(POTSDAM_ROOT=potsdam, SAMRS_SEP_INIT=init)
    converted = run_tool(['tools/convert_sep_checkpoint.py', sep_checkpoint, init,
                          '--config', finetune_config], env=env)
    assert 'dropped: 12 tensors (SEP subsets: fast, sior, sota)' in converted.stdout
    assert ('starting fresh: auxiliary_head.conv_seg.bias, auxiliary_head.conv_seg.weight, '
            'decode_head.conv_seg.bias, decode_head.conv_seg.weight') in converted.stdout
    assert 'missing (' not in converted.stdout and 'unexpected (' not in converted.stdout

    work = str(tmp_path / 'finetune_work')
    trained = run_tool(['tools/train.py', finetune_config, '--work-dir', work], env=env)
    log = trained.stdout + trained.stderr
    assert f'Load checkpoint from {init}' in log
    assert 'mF1' in log and 'OA' in log

    sep = torch.load(sep_checkpoint, map_location='cpu', weights_only=False)['state_dict']
    tuned = torch.load(osp.join(work, 'iter_3.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    for key in ('backbone.stem.0.weight', 'backbone.layer4.1.conv2.weight'):
        assert torch.equal(tuned[key], sep[key]), key
    for key in ('bottleneck.conv.weight', 'fpn_convs.0.conv.weight', 'psp_modules.0.1.conv.weight'):
        assert torch.equal(tuned[f'decode_head.{key}'], sep[f'decode_head.shared_decoder.{key}'])
    assert torch.equal(tuned['auxiliary_head.convs.0.conv.weight'],
                       sep['auxiliary_head.shared_decoder.convs.0.conv.weight'])
    assert tuned['decode_head.conv_seg.weight'].shape[0] == 5  # the fresh 5-class classifier

    tested = run_tool(['tools/test.py', finetune_config, osp.join(work, 'iter_3.pth'),
                       '--work-dir', str(tmp_path / 'test_work')], env=env)
    out = tested.stdout + tested.stderr
    assert 'per class results' in out and 'mF1' in out
    for name in ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car'):
        assert f'F1.{name}' in out
