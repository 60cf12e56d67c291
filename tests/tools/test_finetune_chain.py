"""The whole chain on CPU with a tiny model: SEP train -> convert -> fine-tune -> test.

SEP runs configs/smoke/sep.py (configs/sep/upernet_r50.py shrunk to a ResNet-18, here of 16 base
channels) on a tiny SAMRS-like set; its checkpoint is converted for
configs/finetune/potsdam/upernet_r50-imp-sep_... (shrunk by configs/smoke/finetune_potsdam.py's
overrides, the same width) and fine-tuned on Potsdam crops converted from a tiny ISPRS-layout
release. The fine-tuning runs with lr 0, so the weights it saves must be exactly the SEP
backbone and shared decoder: proof that the +SEP row really starts from SEP.
"""
import os.path as osp

import pytest
import torch

from tests.conftest import REPO_ROOT, run_tool
from tests.tools.test_potsdam_converter import make_potsdam_release
from tests.toy_data import write_samrs_like_dataset, write_tiny_finetune_config, write_tiny_sep_config

# The +SEP Potsdam row under the smoke fine-tuning overrides (configs/smoke/finetune_potsdam.py).
FINETUNE = 'finetune/potsdam/upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py'


@pytest.mark.slow
def test_sep_convert_finetune_test(tmp_path):
    samrs = str(tmp_path / 'samrs')
    write_samrs_like_dataset(samrs, counts={'sota': 3, 'sior': 3, 'fast': 3}, num_val=1)
    sep_config = write_tiny_sep_config(str(tmp_path / 'sep_tiny.py'), REPO_ROOT, samrs,
                                       max_iters=2, batch_size=3, width=16)
    sep_dir = str(tmp_path / 'sep_work')
    run_tool(['tools/train.py', sep_config, '--work-dir', sep_dir])
    sep_checkpoint = osp.join(sep_dir, 'iter_2.pth')
    assert osp.isfile(sep_checkpoint)

    make_potsdam_release(str(tmp_path / 'release'), tiles=('2_10', '2_13'))
    potsdam = str(tmp_path / 'potsdam')
    run_tool([osp.join('tools', 'dataset_converters', 'potsdam.py'), str(tmp_path / 'release'),
              '-o', potsdam, '--crop-size', '64', '--stride', '40', '--nproc', '1'])
    init = str(tmp_path / 'sep_init.pth')
    # lr 0: the weights it saves must be the ones it started from.
    finetune_config = write_tiny_finetune_config(str(tmp_path / 'finetune_tiny.py'), REPO_ROOT, potsdam,
                                                 max_iters=3, width=16, base=FINETUNE,
                                                 options={'optim_wrapper.optimizer.lr': 0.0, 'load_from': init})
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
