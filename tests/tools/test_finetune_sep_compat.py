"""Each SEP model's converted weights fit its fine-tuning config key for key and shape for shape.

The fine-tuning model bases restate the SEP models with stock heads; this guards them
against drifting apart from configs/sep/ (which would make +SEP rows load nothing).
"""
import functools
import importlib.util
import os.path as osp
import sys

import mmengine.config.utils
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import samrs_mm  # noqa: F401
from tests.conftest import REPO_ROOT

# (SEP config, fine-tuning config of the same row).
PAIRS = [
    ('upernet_r50.py', 'potsdam/upernet_r50-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_r50_rsp.py', 'isaid/upernet_r50-rsp-sep_8xb1-80k_isaid-896x896.py'),
    ('unet_r50.py', 'potsdam/unet_r50-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_swin_t.py', 'potsdam/upernet_swin-t-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vit_b.py', 'potsdam/upernet_vit-b-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vit_b_beit.py', 'potsdam/upernet_vit-b-beit-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vitaev2.py', 'potsdam/upernet_vitaev2-s-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vitaev2_rsp.py', 'isaid/upernet_vitaev2-s-rsp-sep_8xb1-80k_isaid-896x896.py'),
    ('upernet_internimage_t.py', 'potsdam/upernet_internimage-t-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vit_adapter_b.py', 'potsdam/upernet_vit-adapter-b-imp-sep_8xb1-80k_potsdam-512x512.py'),
    ('upernet_vit_rvsa_b.py', 'isaid/upernet_vit-b-rvsa-mae-sep_8xb1-80k_isaid-896x896.py'),
    ('upernet_vit_rvsa_b_samrs_mae.py', 'potsdam/upernet_vit-b-rvsa-samrs-mae-sep_8xb1-80k_potsdam-512x512.py'),
    ('mask2former_r50.py', 'potsdam/mask2former_r50-imp-sep_8xb1-80k_potsdam-512x512.py'),
]


@pytest.fixture(autouse=True, scope='module')
def _cache_mmseg_model_index():
    """Read mmseg's model index once (mmengine re-reads 106 metafiles per ``mmseg::`` base)."""
    original = mmengine.config.utils.load
    mmengine.config.utils.load = functools.lru_cache(maxsize=None)(original)
    yield
    mmengine.config.utils.load = original


def _tool():
    path = osp.join(REPO_ROOT, 'tools', 'convert_sep_checkpoint.py')
    spec = importlib.util.spec_from_file_location('convert_sep_checkpoint_compat', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize('sep, finetune', PAIRS, ids=[p[0] for p in PAIRS])
def test_sep_weights_fit_the_finetuning_model(sep, finetune):
    sep_path = osp.join(REPO_ROOT, 'configs', 'sep', sep)
    if not osp.isfile(sep_path):
        pytest.fail(f'{sep_path} is missing: the +SEP fine-tuning row has no pre-training config')
    tool = _tool()
    init_default_scope('mmseg')
    sep_state = MODELS.build(Config.fromfile(sep_path).model).state_dict()
    converted, report = tool.convert_sep_state_dict(sep_state)
    target = tool.build_target(osp.join(REPO_ROOT, 'configs', 'finetune', finetune))
    resized = tool.resize_position_embeddings(converted, target)
    rel_resized = tool.resize_relative_position_tables(converted, target)
    check = tool.check_against_target(converted, target)
    assert check['missing'] == [], check['missing'][:10]
    assert check['unexpected'] == [], check['unexpected'][:10]
    assert check['mismatched'] == [], check['mismatched'][:10]
    fresh = 'cls_embed' if 'mask2former' in sep else 'conv_seg'
    assert check['fresh'] and all(fresh in k for k in check['fresh']), check['fresh']
    assert report['subsets'] == ['fast', 'sior', 'sota']
    if sep == 'upernet_vit_b_beit.py':
        # BEiT: no absolute embedding; every block's table 224 -> 512 grid, index from the model
        assert resized == {}
        assert rel_resized == {
            **{f'backbone.layers.{i}.attn.relative_position_bias_table': '(732, 12) -> (3972, 12)'
               for i in range(12)},
            **{f'backbone.layers.{i}.attn.relative_position_index': "(197, 197) -> (1025, 1025) (the model's index)"
               for i in range(12)}}
    elif 'vit_b' in sep:
        assert list(resized) == ['backbone.pos_embed']
    else:
        assert resized == {}
    if sep != 'upernet_vit_b_beit.py':
        assert rel_resized == {}
