"""tools/convert_sep_checkpoint.py on state dicts built in the SEP checkpoint layout."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT, run_tool

TOOL = osp.join('tools', 'convert_sep_checkpoint.py')


def _tool_module():
    spec = importlib.util.spec_from_file_location('convert_sep_checkpoint_under_test',
                                                  osp.join(REPO_ROOT, TOOL))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _sep_state_dict():
    """UperNet-like SEP weights: shared decoders + one classifier per SAMRS subset."""
    t = torch.randn
    state = {
        'backbone.stem.0.weight': t(4, 3, 3, 3),
        'backbone.layer1.0.conv1.weight': t(4, 4, 1, 1),
        'backbone.layer1.0.bn1.num_batches_tracked': torch.tensor(7),
        'decode_head.shared_decoder.bottleneck.conv.weight': t(8, 16, 3, 3),
        'decode_head.shared_decoder.bottleneck.bn.running_mean': t(8),
        'decode_head.shared_decoder.lateral_convs.0.conv.weight': t(8, 4, 1, 1),
        'auxiliary_head.shared_decoder.convs.0.conv.weight': t(8, 4, 3, 3),
    }
    for subset, classes in (('sota', 18), ('sior', 20), ('fast', 37)):
        for head in ('decode_head', 'auxiliary_head'):
            state[f'{head}.subset_heads.{subset}.weight'] = t(classes, 8, 1, 1)
            state[f'{head}.subset_heads.{subset}.bias'] = t(classes)
    return state


def test_conversion_rules():
    module = _tool_module()
    sep = _sep_state_dict()
    converted, report = module.convert_sep_state_dict(sep)
    assert sorted(converted) == sorted([
        'backbone.stem.0.weight', 'backbone.layer1.0.conv1.weight',
        'backbone.layer1.0.bn1.num_batches_tracked', 'decode_head.bottleneck.conv.weight',
        'decode_head.bottleneck.bn.running_mean', 'decode_head.lateral_convs.0.conv.weight',
        'auxiliary_head.convs.0.conv.weight'])
    assert torch.equal(converted['decode_head.bottleneck.conv.weight'],
                       sep['decode_head.shared_decoder.bottleneck.conv.weight'])
    assert converted['backbone.stem.0.weight'] is sep['backbone.stem.0.weight']
    assert report['subsets'] == ['fast', 'sior', 'sota']
    assert len(report['dropped']) == 12 and len(report['renamed']) == 4
    assert len(report['kept']) == 3
    assert not any('subset' in key or 'shared_decoder' in key for key in converted)


def test_mask2former_and_ddp_prefix():
    module = _tool_module()
    state = {
        'module.backbone.conv1.weight': torch.zeros(2, 3, 7, 7),
        'module.decode_head.query_embed.weight': torch.zeros(100, 8),
        'module.decode_head.pixel_decoder.input_convs.0.conv.weight': torch.zeros(8, 4, 1, 1),
        'module.decode_head.subset_cls_embeds.sota.weight': torch.zeros(19, 8),
        'module.decode_head.subset_cls_embeds.sota.bias': torch.zeros(19),
        'module.decode_head.subset_cls_embeds.fast.weight': torch.zeros(38, 8),
    }
    converted, report = module.convert_sep_state_dict(state)
    assert sorted(converted) == ['backbone.conv1.weight',
                                 'decode_head.pixel_decoder.input_convs.0.conv.weight',
                                 'decode_head.query_embed.weight']
    assert report['subsets'] == ['fast', 'sota'] and len(report['dropped']) == 3


def test_plain_checkpoint_and_collisions_are_refused():
    module = _tool_module()
    with pytest.raises(module.SEPConversionError, match='not a multi-head SEP checkpoint'):
        module.convert_sep_state_dict({'backbone.x': torch.zeros(1), 'decode_head.conv_seg.weight':
                                       torch.zeros(1)})
    with pytest.raises(module.SEPConversionError, match='already holds'):
        module.convert_sep_state_dict({'decode_head.bottleneck.w': torch.zeros(1),
                                       'decode_head.shared_decoder.bottleneck.w': torch.zeros(1)})


def test_position_embedding_is_resized_to_the_finetuning_grid():
    module = _tool_module()
    # 1 class token + 14 x 14 patches (SEP at 224) -> 1 + 32 x 32 (fine-tuning at 512).
    cls = torch.full((1, 1, 6), 3.0)
    grid = torch.ones(1, 196, 6) * torch.arange(6.0)
    state = {'backbone.pos_embed': torch.cat([cls, grid], 1), 'backbone.other': torch.zeros(2)}
    target = {'backbone.pos_embed': torch.zeros(1, 1025, 6), 'backbone.other': torch.zeros(2)}
    resized = module.resize_position_embeddings(state, target)
    assert resized == {'backbone.pos_embed': '(1, 197, 6) -> (1, 1025, 6)'}
    assert state['backbone.pos_embed'].shape == (1, 1025, 6)
    assert torch.equal(state['backbone.pos_embed'][:, :1], cls)  # class token untouched
    # A constant grid stays constant under bicubic resizing.
    torch.testing.assert_close(state['backbone.pos_embed'][0, 1:], torch.arange(6.0).expand(1024, 6))
    check = module.check_against_target(state, target)
    assert check['missing'] == check['unexpected'] == check['mismatched'] == []


def test_command_line_writes_an_mmengine_checkpoint(tmp_path):
    from mmengine.logging import HistoryBuffer
    src = tmp_path / 'sep_iter_80000.pth'
    torch.save(dict(meta=dict(iter=80000), state_dict=_sep_state_dict(),
                    message_hub=dict(log_scalars={'loss': HistoryBuffer()})), src)
    dst = tmp_path / 'init' / 'sep_init.pth'
    proc = run_tool([TOOL, str(src), str(dst)])
    assert 'kept unchanged: 3 tensors (backbone 3)' in proc.stdout
    assert 'renamed (shared decoder -> stock head): 4 tensors (auxiliary_head 1, decode_head 3)' \
        in proc.stdout
    assert "dropped: 12 tensors (SEP subsets: fast, sior, sota)" in proc.stdout
    assert "4 x SEP classifier of subset 'sota'" in proc.stdout

    from mmengine.runner.checkpoint import _load_checkpoint

    import samrs_mm  # noqa: F401  (torch >= 2.6 loading fix)
    checkpoint = _load_checkpoint(str(dst), map_location='cpu')
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert 'decode_head.bottleneck.conv.weight' in checkpoint['state_dict']
    assert checkpoint['meta']['sep_subsets'] == ['fast', 'sior', 'sota']

    plain = tmp_path / 'plain.pth'
    torch.save(dict(state_dict={'backbone.w': torch.zeros(1)}), plain)
    refused = run_tool([TOOL, str(plain), str(tmp_path / 'x.pth')], check=False)
    assert refused.returncode == 2 and 'not a multi-head SEP checkpoint' in refused.stderr
    assert not (tmp_path / 'x.pth').exists()
    missing = run_tool([TOOL, str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth')], check=False)
    assert missing.returncode == 2 and 'nope.pth: checkpoint not found' in missing.stderr


def test_detector_target_keeps_the_backbone_only():
    module = _tool_module()
    sep = _sep_state_dict()
    converted, report = module.convert_sep_to_detector(dict(sep, **{'neck.lateral.weight': torch.zeros(1)}))
    assert sorted(converted) == ['backbone.layer1.0.bn1.num_batches_tracked', 'backbone.layer1.0.conv1.weight',
                                 'backbone.stem.0.weight']
    assert converted['backbone.stem.0.weight'] is sep['backbone.stem.0.weight']
    assert report['subsets'] == ['fast', 'sior', 'sota'] and len(report['dropped']) == 17
    assert report['dropped']['neck.lateral.weight'].startswith('neck of the segmentation model')
    fresh = module.FRESH['detector']
    check = module.check_against_target(converted, dict(converted, **{
        'neck.fpn.weight': torch.zeros(1), 'rpn_head.rpn_cls.weight': torch.zeros(1),
        'roi_head.bbox_head.fc_cls.weight': torch.zeros(1), 'backbone.layer2.0.conv1.weight': torch.zeros(1)}),
        fresh)
    assert check['fresh'] == ['neck.fpn.weight', 'roi_head.bbox_head.fc_cls.weight', 'rpn_head.rpn_cls.weight']
    assert check['missing'] == ['backbone.layer2.0.conv1.weight']
    with pytest.raises(module.SEPConversionError, match='not a multi-head SEP checkpoint'):
        module.convert_sep_to_detector({'backbone.x': torch.zeros(1)})
