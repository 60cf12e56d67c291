"""tools/model_converters/convert_released.py and what a converted release feeds: tools/test.py
(SEP per subset, MTP per task and subset, fine-tuned Potsdam), convert_sep_checkpoint.py
(fine-tuning and detector initialisations) and continued SEP training.

The released files are written in the authors' layout with random values (no real file can be
downloaded here); the full-size one is SEP UperNet ViTAEv2-S (the smallest released model).
Tools run in this process (``runpy``: the command line's code path) to spare the start-up.
"""
import contextlib
import glob
import importlib.util
import io
import os
import os.path as osp
import runpy
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT, run_tool
from tests.models import released_layouts as layouts
from tests.toy_data import write_image_folder_dataset, write_samrs_like_dataset, write_tiny_mtp_config


def _tool(path):
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0] + '_under_test',
                                                  osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _convert(*args):
    """``convert_released.py ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = _tool('tools/model_converters/convert_released.py').main([str(a) for a in args])
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def _run_stock(script, work_dir, *args):
    """``tools/<script> ARGS --work-dir WORK_DIR`` in this process; the text of its log file."""
    argv = sys.argv
    sys.argv = [osp.join(REPO_ROOT, 'tools', script)] + [str(a) for a in args] + ['--work-dir', str(work_dir)]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        sys.argv = argv
    logs = sorted(glob.glob(osp.join(str(work_dir), '*', '*.log')))
    assert logs, f'no log under {work_dir}'
    with open(logs[-1]) as f:
        return f.read()


@pytest.fixture(scope='module')
def released(tmp_path_factory):
    """A full-size SEP UperNet ViTAEv2-S file as the authors' DDP run saves it, converted with --verify."""
    root = tmp_path_factory.mktemp('released')
    state = layouts.materialise(layouts.samrs_sep('vitaev2_s'))
    src = str(root / 'last_vitaev2_s_upernet_pretrn_model.pth')
    torch.save(layouts.file_content({'module.' + k: v for k, v in state.items()}), src)
    dst = str(root / 'converted' / 'sep_upernet_vitaev2_s.pth')
    status, out, err = _convert(src, dst, '--verify')
    assert status == 0, err
    return dict(root=root, src=src, dst=dst, out=out, state=state)


def test_converts_verifies_and_names_the_config(released):
    lines = released['out'].strip().splitlines()
    assert lines[-1] == 'config: configs/released/sep/upernet_vitaev2_s.py'
    assert 'SAMRS SEP UperNet ViTAEv2-S (IMP + SEP) (epoch 3, iteration 80000)' in lines[0]
    assert any(line.startswith('verify: EncoderDecoder loaded strictly (602 tensors)') and line.endswith('finite')
               for line in lines)
    assert 'left out the training state: epoch, iteration, loss_pretrain, optimizer, scheduler' in released['out']
    checkpoint = torch.load(released['dst'], map_location='cpu', weights_only=False)
    assert checkpoint['meta']['released_format'] == 'sep_upernet_vitaev2_s'
    assert checkpoint['meta']['iteration'] == 80000
    weights = checkpoint['state_dict']
    assert len(weights) + sum(map(len, checkpoint['meta']['left_out'].values())) == len(released['state'])
    # the tensors themselves, renamed
    torch.testing.assert_close(weights['decode_head.subset_heads.fast.weight'],
                               released['state']['semseghead_3.1.weight'])
    torch.testing.assert_close(weights['decode_head.shared_decoder.fpn_bottleneck.conv.weight'],
                               released['state']['decoder.fpn_bottleneck.conv.weight'])
    torch.testing.assert_close(weights['backbone.stages.3.cells.1.attn.qkv.weight'],
                               released['state']['encoder.layers.3.NC.1.attn.qkv.weight'])


def _meta_file(path, state, **content):
    torch.save(layouts.file_content(layouts.on_meta(state), **content), path)


@pytest.mark.parametrize('case', ['truncated', 'not a checkpoint', 'a list', 'another architecture', 'missing key',
                                  'extra key', 'ImageNet classifier'])
def test_bad_inputs_are_one_line_exit_1_and_nothing_written(case, released, tmp_path):
    src = str(tmp_path / 'in.pth')
    sep = layouts.samrs_sep('vitaev2_s')
    if case == 'truncated':
        with open(released['src'], 'rb') as full, open(src, 'wb') as part:
            part.write(full.read(1 << 20))
    elif case == 'not a checkpoint':
        with open(src, 'w') as f:
            f.write('P0000 large-vehicle 0 0 10 10\n')
    elif case == 'a list':
        torch.save([torch.zeros(3)], src)
    elif case == 'another architecture':  # a UNet on Swin-T was never released
        _meta_file(src, layouts.samrs_sep('swin_t', 'unet', small=(layouts.swin_t_seg(), [96, 192, 384, 768], {})))
    elif case == 'missing key':
        _meta_file(src, {k: v for k, v in sep.items() if k != 'semseghead_2.1.bias'})
    elif case == 'extra key':
        _meta_file(src, dict(sep, **{'decoder.lateral_convs.3.conv.weight': (128, 512, 1, 1)}))
    else:
        _meta_file(src, dict(layouts.resnet50(), **{'fc.weight': (1000, 2048), 'fc.bias': (1000, )}))
    dst = tmp_path / 'out' / 'converted.pth'
    status, out, err = _convert(src, dst)
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith(f'error: {src}: ') and 'Traceback' not in err
    assert not dst.exists() and not glob.glob(str(tmp_path / 'out' / '*'))
    expected = {'truncated': 'not a readable PyTorch checkpoint', 'not a checkpoint': 'not a readable PyTorch',
                'a list': 'holds a list, not a checkpoint dict',
                'another architecture': 'nearest: SAMRS SEP UperNet Swin-T',
                'missing key': 'lacks 1 tensor(s) the model of configs/released/sep/upernet_vitaev2_s.py has: '
                               'decode_head.subset_heads.sior.bias',
                'extra key': 'decoder.lateral_convs.3.conv.weight (-> decode_head.shared_decoder.lateral_convs.3',
                'ImageNet classifier': 'it has fc.weight (an ImageNet / RSP classifier?'}[case]
    assert expected in err


def test_the_command_line_says_one_line(tmp_path):
    """As a user runs it: stderr is the one error line, nothing else (no library warnings)."""
    src = str(tmp_path / 'in.pth')
    _meta_file(src, {k: v for k, v in layouts.samrs_sep('swin_t').items() if k != 'semseghead_2.1.bias'})
    proc = run_tool(['tools/model_converters/convert_released.py', src, str(tmp_path / 'out.pth')], check=False)
    assert proc.returncode == 1 and not (tmp_path / 'out.pth').exists()
    assert proc.stderr.strip().splitlines() == [
        f'error: {src}: the file lacks 1 tensor(s) the model of configs/released/sep/upernet_swin_t.py has: '
        'decode_head.subset_heads.sior.bias']


def test_option_errors(released, tmp_path):
    status, _, err = _convert(released['src'], released['src'])
    assert status == 2 and 'dst: must not be the released file itself' in err
    status, _, err = _convert(tmp_path / 'nope.pth', tmp_path / 'x.pth')
    assert status == 1 and err.strip().endswith('nope.pth: no such file')


@pytest.fixture(scope='module')
def samrs_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('samrs'))
    write_samrs_like_dataset(root, counts={'sota': 1, 'sior': 1, 'fast': 1}, num_val=1)
    return root


NO_WORKERS = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def test_tools_test_evaluates_the_converted_sep_model_per_subset(released, samrs_data, tmp_path, monkeypatch):
    monkeypatch.setenv('SAMRS_DATA_ROOT', samrs_data)
    text = _run_stock('test.py', tmp_path / 'test', osp.join(REPO_ROOT, 'configs/released/sep/upernet_vitaev2_s.py'),
                      released['dst'], '--cfg-options', *NO_WORKERS)
    for subset in ('sota', 'sior', 'fast'):
        assert f'mIoU.{subset}' in text


def test_convert_sep_checkpoint_initialises_released_fine_tuning(released, tmp_path, capsys):
    tool = _tool('tools/convert_sep_checkpoint.py')
    init = tmp_path / 'sep_init.pth'
    config = osp.join(REPO_ROOT, 'configs/released/finetune/potsdam/upernet_vitaev2_s.py')
    assert tool.main([released['dst'], str(init), '--config', config]) == 0
    out = capsys.readouterr().out
    fresh = [line for line in out.splitlines() if 'starting fresh:' in line]
    assert len(fresh) == 1 and sorted(fresh[0].split('starting fresh: ')[1].split(', ')) == [
        'decode_head.conv_seg.bias', 'decode_head.conv_seg.weight']
    weights = torch.load(init, map_location='cpu', weights_only=False)['state_dict']
    torch.testing.assert_close(weights['decode_head.fpn_bottleneck.conv.weight'],
                               released['state']['decoder.fpn_bottleneck.conv.weight'])
    # and the backbone of a detector
    assert tool.main([released['dst'], str(tmp_path / 'det.pth'), '--target', 'detector']) == 0
    detector = torch.load(tmp_path / 'det.pth', map_location='cpu', weights_only=False)['state_dict']
    assert detector and all(k.startswith('backbone.') for k in detector)


def test_sep_training_continues_from_the_released_model(released, samrs_data, tmp_path, monkeypatch):
    monkeypatch.setenv('SAMRS_DATA_ROOT', samrs_data)
    work = tmp_path / 'train'
    text = _run_stock('train.py', work, osp.join(REPO_ROOT, 'configs/released/sep/upernet_vitaev2_s.py'),
                      '--cfg-options', f'load_from={released["dst"]}', 'train_cfg.max_iters=1',
                      'train_cfg.val_interval=10', 'train_dataloader.batch_size=3', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'default_hooks.checkpoint.interval=1',
               'default_hooks.checkpoint.save_best=None', 'model.data_preprocessor.size=[64,64]',
               'param_scheduler.0.T_max=1', 'param_scheduler.0.end=1')
    assert f'Load checkpoint from {released["dst"]}' in text
    assert 'missing keys' not in text and 'unexpected key' not in text
    trained = torch.load(work / 'iter_1.pth', map_location='cpu', weights_only=False)['state_dict']
    start = torch.load(released['dst'], map_location='cpu', weights_only=False)['state_dict']
    # one step of AdamW from the released weights: close to them, not equal
    delta = (trained['decode_head.shared_decoder.fpn_bottleneck.conv.weight']
             - start['decode_head.shared_decoder.fpn_bottleneck.conv.weight']).abs()
    assert 0 < float(delta.max()) < 1e-3


def test_tools_test_evaluates_a_converted_fine_tuned_model(tmp_path):
    """A released Potsdam model (UperNet, 5 classes) converted and tested with the Potsdam metrics."""
    from samrs_mm.models.released import map_released_state_dict
    from samrs_mm.models.released.formats import FORMATS
    table = layouts.module_shapes(dict(type='ResNet', depth=18, stem_channels=16, base_channels=16))
    channels = [16, 32, 64, 128]
    state = layouts.materialise(layouts.samrs_finetune('resnet50', 5, small=(table, channels, dict(width=32))))
    mapped = map_released_state_dict(state, FORMATS['finetune_potsdam_upernet_r50'])
    checkpoint = tmp_path / 'potsdam.pth'
    torch.save(dict(state_dict=mapped.state_dict), checkpoint)
    data = write_image_folder_dataset(str(tmp_path / 'potsdam'), num_train=1, num_val=2, num_classes=6)
    config = osp.join(REPO_ROOT, 'configs/released/finetune/potsdam/upernet_r50.py')
    text = _run_stock('test.py', tmp_path / 'test', config, checkpoint, '--cfg-options', *NO_WORKERS,
                      f'test_dataloader.dataset.data_root={data}', 'model.backbone.depth=18',
                      'model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
                      f'model.decode_head.in_channels={channels}', 'model.decode_head.channels=32',
                      'model.test_cfg.crop_size=[64,64]', 'model.test_cfg.stride=[43,43]')
    assert 'mF1' in text and 'OA' in text


def test_tools_test_evaluates_a_converted_mtp_model_per_task_and_subset(samrs_objects, tmp_path):
    from mmengine.config import Config

    from samrs_mm.models.released import check_against_model, map_released_state_dict, model_shapes
    from samrs_mm.models.released.formats import FORMATS
    root, _ = samrs_objects
    small = ("model = dict(pretrained=None, backbone=dict(img_size=64, embed_dims=32, num_layers=4, num_heads=2, "
             "interval=2, out_indices=(0, 1, 2, 3)), decode_head=dict(in_channels=[32] * 4, channels=16), "
             "instance=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c), "
             "bbox_head=dict(in_channels=c, fc_out_channels=32), mask_roi_extractor=dict(out_channels=c), "
             "mask_head=dict(num_convs=1, in_channels=c, conv_out_channels=c)), "
             "neck=dict(in_channels=[32] * 4, out_channels=c)), "
             "rotated=dict(detector, roi_head=dict(bbox_roi_extractor=dict(out_channels=c), "
             "bbox_head=dict(in_channels=c, fc_out_channels=32)), neck=dict(in_channels=[32] * 4, out_channels=c)))")
    config = write_tiny_mtp_config(str(tmp_path / 'tiny.py'), REPO_ROOT, root, base='released/mtp/mtp_vit_rvsa_b.py',
                                   extra=small)
    cfg = Config.fromfile(config)
    table = layouts.rvsa(img_size=64, dim=32, depth=4, heads=2, interval=2)
    state = layouts.materialise(layouts.mtp('vit_b_rvsa_mtp', small=(table, [32] * 4,
                                                                     dict(width=16, model=cfg.model))))
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    target = model_shapes(cfg)
    mapped = map_released_state_dict(state, FORMATS['mtp_vit_b_rvsa_mtp'], target_keys=target)
    check_against_model(mapped.state_dict, target, config)
    checkpoint = tmp_path / 'mtp.pth'
    torch.save(dict(state_dict=mapped.state_dict), checkpoint)
    text = _run_stock('test.py', tmp_path / 'test', config, checkpoint)
    for task in ('instance', 'rotated'):
        for subset in ('sota', 'sior', 'fast'):
            assert f'{task}/{subset}/' in text
    assert 'semantic/mIoU' in text


def test_mtp_conversion_feeds_the_detector_initialisations(tmp_path, capsys):
    """convert_sep_checkpoint --target instance / rotated on a converted MTP model (full-size
    MTP ViT-B + RVSA layout): the branch as a stock detector, every per-set layer left out."""
    from samrs_mm.models.released import convert_released, save_converted
    state = layouts.on_meta(layouts.mtp('vit_b_rvsa_mtp'))
    result = convert_released(layouts.file_content(state), REPO_ROOT)
    result.state_dict = {k: torch.zeros(v.shape) if v.numel() < 4096 else torch.zeros(1).expand(v.shape)
                         for k, v in result.state_dict.items()}
    converted = tmp_path / 'mtp.pth'
    save_converted(result, str(converted), 'mtp_file.pth')
    tool = _tool('tools/convert_sep_checkpoint.py')
    for task, fresh in (('instance', {'fc_cls', 'fc_reg', 'conv_logits'}), ('rotated', {'fc_cls', 'fc_reg'})):
        out = tmp_path / f'{task}.pth'
        assert tool.main([str(converted), str(out), '--target', task]) == 0
        weights = torch.load(out, map_location='cpu', weights_only=False)['state_dict']
        assert 'roi_head.bbox_head.shared_fcs.1.weight' in weights and 'rpn_head.rpn_reg.weight' in weights
        assert not [k for k in weights if any(f'.{name}.' in k for name in fresh)]
        backbone = [k for k in result.state_dict if k.startswith('backbone.')]
        assert sum(k.startswith('backbone.') for k in weights) == len(backbone)
    capsys.readouterr()
    assert os.path.isfile(converted)
