"""Multi-task pre-training through the stock tools (issue 12 evidence).

On SAMRS subsets labelled here by the annotate runner (two training and one validation image
per subset), with configs/mtp/mtp_r50.py shrunk (configs/smoke/mtp.py):

* ``tools/train.py`` trains 2 iterations and validates every task per subset, ``tools/test.py``
  tests the checkpoint with the same numbers (both in this process, as ``runpy`` runs them);
* ``tools/dist_train.sh ... 2`` (two CPU ranks, gloo) trains 2 iterations in each sampler mode,
  recording what every rank trained on (``tests/resume_probe.py``): the ranks get disjoint
  samples and the global batch holds each subset in the mode's proportion;
* ``tools/convert_sep_checkpoint.py`` turns the MTP checkpoint into the initialisation of a
  fine-tuning segmentor, a Mask R-CNN and an Oriented R-CNN: key for key, only the
  class-dependent last layers (and the auxiliary head MTP lacks) fresh.

The two distributed runs start first and run beside the in-process ones.
"""
import glob
import json
import os.path as osp
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.conftest import REPO_ROOT, free_port, run_tool
from tests.toy_data import write_tiny_finetune_config, write_tiny_mtp_config

from .test_samrs_task_configs import _records, _run_stock, _test_metrics, _tool

SUBSETS = ('sota', 'sior', 'fast')
# sampler mode -> (per-rank batch, subset_weights, samples of each subset in a global batch of 2 ranks)
MODES = {'avg': (3, None, {'sota': 2, 'sior': 2, 'fast': 2}),
         'ratio': (2, [1, 1, 2], {'sota': 1, 'sior': 1, 'fast': 2})}
TRAIN_ONLY = """
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
custom_hooks = [dict(type='StreamRecorderHook')]
"""
DETECTOR = """
_base_ = [{base!r}]
c = 16
model = dict(
    backbone=dict(depth=18, stem_channels=16, base_channels=16, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=c),
    rpn_head=dict(in_channels=c, feat_channels=c),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=c), bbox_head=dict(in_channels=c, fc_out_channels=32){mask}))
"""
MASK = ", mask_roi_extractor=dict(out_channels=c), mask_head=dict(num_convs=1, in_channels=c, conv_out_channels=c)"
TARGETS = {  # target -> (downstream config, keys expected to start fresh)
    'segmentor': ('finetune/potsdam/upernet_r50-imp_8xb1-80k_potsdam-512x512.py', ('decode_head.conv_seg.',
                                                                                    'auxiliary_head.')),
    'instance': ('finetune/isaid_instance/mask-rcnn_r50-imp-sep_fpn_1x_isaid-896x896.py',
                 ('roi_head.bbox_head.fc_cls.', 'roi_head.bbox_head.fc_reg.', 'roi_head.mask_head.conv_logits.')),
    'rotated': ('finetune/dior_r/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dior-r.py', ('roi_head.bbox_head.fc_cls.',)),
}


def _dist_train(root, work, mode):
    batch, weights, _ = MODES[mode]
    config = write_tiny_mtp_config(osp.join(work, f'dist_{mode}.py'), REPO_ROOT, root, batch_size=batch, mode=mode,
                                   subset_weights=weights, extra_imports=['tests.resume_probe'], extra=TRAIN_ONLY)
    work_dir = osp.join(work, f'dist_{mode}')
    run_tool(['tools/dist_train.sh', config, '2', '--work-dir', work_dir],
             env={'PORT': free_port(), 'OMP_NUM_THREADS': '1'})
    return work_dir


def _target_config(work, target):
    config, _ = TARGETS[target]
    path = osp.join(work, f'target_{target}.py')
    if target == 'segmentor':
        return write_tiny_finetune_config(path, REPO_ROOT, osp.join(work, 'potsdam'), width=16)
    with open(path, 'w') as f:
        f.write(DETECTOR.format(base=osp.join(REPO_ROOT, 'configs', config), mask=MASK if target == 'instance' else ''))
    return path


@pytest.fixture(scope='module')
def runs(samrs_objects, tmp_path_factory):
    root, _ = samrs_objects
    work = str(tmp_path_factory.mktemp('mtp_tools'))
    out = dict(work=work, conversions={})
    with ThreadPoolExecutor(max_workers=2) as pool:
        dist = {mode: pool.submit(_dist_train, root, work, mode) for mode in MODES}
        config = write_tiny_mtp_config(osp.join(work, 'tiny.py'), REPO_ROOT, root)
        out['run'] = run_dir = osp.join(work, 'run')
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, False))
            _run_stock('train.py', config, '--work-dir', run_dir, '--cfg-options', 'visualizer.name=mtp_train')
            _run_stock('test.py', config, osp.join(run_dir, 'iter_2.pth'), '--work-dir', osp.join(run_dir, 'test'),
                       '--cfg-options', 'visualizer.name=mtp_test')
            converter = _tool('tools/convert_sep_checkpoint.py')
            for target in TARGETS:
                target_config = _target_config(work, target)
                init = osp.join(work, f'init_{target}.pth')
                code = converter.main([osp.join(run_dir, 'iter_2.pth'), init, '--target', target,
                                       '--config', target_config])
                out['conversions'][target] = (code, init, target_config)
        out['dist'] = {mode: job.result() for mode, job in dist.items()}
    return out


def test_two_iterations_validate_and_test_every_task_per_subset(runs):
    records = _records(runs['run'])
    losses = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in losses] == [1, 2]
    for record in losses:
        for subset in SUBSETS:
            assert f'semantic.decode.{subset}.loss_ce' in record
            assert {f'instance.{subset}.loss_mask', f'instance.{subset}.loss_rpn_cls',
                    f'rotated.{subset}.loss_bbox', f'rotated.{subset}.loss_rpn_bbox'} <= set(record)
    (val,) = [r for r in records if 'loss' not in r]
    keys = ['semantic/mIoU', 'instance/bbox_mAP', 'instance/segm_mAP', 'rotated/mAP']
    for subset in SUBSETS:
        keys += [f'semantic/mIoU.{subset}', f'instance/{subset}/bbox_mAP', f'instance/{subset}/segm_mAP',
                 f'rotated/{subset}/mAP']
    test = _test_metrics(runs['run'])
    assert all(key in val and key in test for key in keys), sorted(set(keys) - set(val))
    # the same checkpoint on the same images: the test tool reproduces the validation
    assert [test[k] for k in keys] == [val[k] for k in keys]
    assert 0.0 <= val['semantic/mIoU'] <= 100.0 and 0.0 <= val['rotated/mAP'] <= 1.0


@pytest.mark.parametrize('mode', sorted(MODES))
def test_two_ranks_train_on_disjoint_samples_in_the_modes_proportions(runs, mode):
    batch, _, expected = MODES[mode]
    streams = []
    for rank in (0, 1):
        with open(osp.join(runs['dist'][mode], f'stream_rank{rank}.jsonl')) as f:
            streams.append([json.loads(line) for line in f])
    assert [[r['iter'] for r in stream] for stream in streams] == [[1, 2], [1, 2]]
    for step in range(2):
        names = [[name for name, _ in stream[step]['samples']] for stream in streams]
        assert [len(n) for n in names] == [batch, batch]
        both = names[0] + names[1]
        assert len(set(both)) == len(both), names  # no image on both ranks, none twice
        assert Counter(name.split('_')[0] for name in both) == expected
        for rank_names in names:  # each rank: its round-robin share of every subset
            counts = Counter(name.split('_')[0] for name in rank_names)
            assert all(counts[s] in (expected[s] // 2, -(-expected[s] // 2)) for s in SUBSETS)
    assert glob.glob(osp.join(runs['dist'][mode], 'iter_2.pth'))


@pytest.mark.parametrize('target', sorted(TARGETS))
def test_mtp_checkpoint_initialises_the_downstream_models_key_for_key(runs, target):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    code, init, config = runs['conversions'][target]
    assert code == 0
    converted = torch.load(init, map_location='cpu', weights_only=False)
    assert converted['meta']['source'] == 'mtp' and converted['meta']['target'] == target
    mtp = torch.load(osp.join(runs['run'], 'iter_2.pth'), map_location='cpu', weights_only=False)['state_dict']
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(converted['state_dict'], strict=False)
    assert unexpected == []
    fresh = TARGETS[target][1]
    assert missing and all(key.startswith(fresh) for key in missing)
    assert {prefix for prefix in fresh for key in missing if key.startswith(prefix)} == set(fresh)
    # every kept tensor is the MTP model's, from the backbone or the target's branch
    for key, value in converted['state_dict'].items():
        if key.startswith('backbone.'):
            source = key
        elif target == 'segmentor':
            source = key.replace('decode_head.', 'decode_head.shared_decoder.', 1)
        else:
            source = f'{target}.{key}'
        assert torch.equal(value, mtp[source]), key
