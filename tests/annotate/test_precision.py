"""The allow_tf32 setting reaches SAM's model calls, and the process's TF32 flags are never changed."""
import numpy as np
import pytest
import torch

from samrs_mm.annotate.engine import EngineConfigError, build_engine
from samrs_mm.annotate.engine.precision import _NEW_API, describe_tf32, tf32_scope, tf32_state
from samrs_mm.structures.record import Instance

NODES = [('generic', 'all'), ('cuda', 'all'), ('cuda', 'conv'), ('cuda', 'rnn'), ('cuda', 'matmul'),
         ('mkldnn', 'all'), ('mkldnn', 'matmul'), ('mkldnn', 'conv'), ('mkldnn', 'rnn')]


def _read(getter):
    try:
        return getter()
    except RuntimeError as exc:  # PyTorch refuses to read a mixed legacy / new state
        return f'error: {str(exc)[:40]}'


def snapshot():
    """Every TF32-related flag PyTorch keeps, legacy and new."""
    state = {'cudnn.allow_tf32': _read(lambda: torch.backends.cudnn.allow_tf32),
             'matmul.allow_tf32': _read(lambda: torch.backends.cuda.matmul.allow_tf32),
             'float32_matmul_precision': _read(torch.get_float32_matmul_precision)}
    if _NEW_API:
        state.update({f'{b}.{o}': torch._C._get_fp32_precision_getter(b, o) for b, o in NODES})
    return state


@pytest.fixture
def restore_flags():
    """Put the process's flags back exactly as they were after a test that changes them."""
    legacy = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    nodes = {node: torch._C._get_fp32_precision_getter(*node) for node in NODES} if _NEW_API else {}
    yield
    torch.set_float32_matmul_precision(legacy[0])
    torch.backends.cudnn.allow_tf32 = legacy[1]
    for node, value in nodes.items():
        torch._C._set_fp32_precision_setter(*node, value)


def user_settings():
    """Process settings a user may have made before calling the engine."""
    cases = {
        'defaults': lambda: None,
        'matmul high': lambda: torch.set_float32_matmul_precision('high'),
        'matmul medium': lambda: torch.set_float32_matmul_precision('medium'),
        'cudnn off': lambda: setattr(torch.backends.cudnn, 'allow_tf32', False),
    }
    if _NEW_API:
        cases.update({
            'new api: conv ieee': lambda: setattr(torch.backends.cudnn.conv, 'fp32_precision', 'ieee'),
            'new api: cuda tf32': lambda: setattr(torch.backends.cudnn, 'fp32_precision', 'tf32'),
            'new api: generic tf32': lambda: setattr(torch.backends, 'fp32_precision', 'tf32'),
        })
    return cases


@pytest.mark.parametrize('setting', list(user_settings()))
@pytest.mark.parametrize('allow', [False, True])
def test_scope_sets_and_restores(setting, allow, restore_flags):
    user_settings()[setting]()
    before = snapshot()
    with tf32_scope(allow):
        assert tf32_state() == {'conv': allow, 'matmul': allow}
        inside = snapshot()
    assert snapshot() == before
    # Inside, PyTorch can read its own flags (no mixed legacy / new state was created).
    assert not any(str(v).startswith('error') for v in inside.values()) or \
        any(str(v).startswith('error') for v in before.values())


def test_scope_restores_after_an_error(restore_flags):
    before = snapshot()
    with pytest.raises(KeyError):
        with tf32_scope(False):
            raise KeyError('boom')
    assert snapshot() == before


def test_none_changes_nothing():
    before = tf32_state()
    with tf32_scope(None):
        assert tf32_state() == before
    assert 'the process settings apply' in describe_tf32(None)
    assert describe_tf32(False).startswith('allow_tf32=False: cuDNN conv and cuBLAS matmul in full float32')


def record_states(sam):
    """Hooks on a convolution and a linear layer of each SAM part: the TF32 state when they run."""
    seen, handles = [], []
    modules = {'encoder conv': sam.image_encoder.patch_embed.proj,
               'mask input conv': sam.prompt_encoder.mask_downscaling[0],
               'decoder conv': sam.mask_decoder.output_upscaling[0],
               'decoder linear': sam.mask_decoder.iou_prediction_head.layers[0]}
    for name, module in modules.items():
        handles.append(module.register_forward_pre_hook(lambda m, a, name=name: seen.append((name, tf32_state()))))
    return seen, handles


@pytest.mark.parametrize('allow, expected', [(False, {'conv': False, 'matmul': False}),
                                             (True, {'conv': True, 'matmul': True}),
                                             (None, {'conv': True, 'matmul': False})])  # PyTorch's defaults
def test_engine_runs_the_model_under_its_setting(allow, expected, tiny_sam, restore_flags):
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    instances = [Instance('a', hbox=np.array([4., 4., 30., 30.])), Instance('b', hbox=np.array([40., 10., 70., 50.]))]
    before = snapshot()
    seen, handles = record_states(tiny_sam)
    try:
        for spec in ('hbox', 'hbox+hbox_mask'):  # the shared decoder path and SAM's own
            build_engine(dict(prompt=spec, allow_tf32=allow), model=tiny_sam).annotate(image, instances)
    finally:
        for handle in handles:
            handle.remove()
    assert {name for name, _ in seen} == {'encoder conv', 'mask input conv', 'decoder conv', 'decoder linear'}
    assert all(state == expected for _, state in seen), seen
    assert snapshot() == before


def test_reference_uses_the_engines_setting(tiny_sam, restore_flags):
    """compare_with_predictor runs SamPredictor with the engine's TF32 setting too."""
    from samrs_mm.annotate.families.reference import compare_with_predictor
    image = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    instances = [Instance('a', hbox=np.array([4., 4., 30., 30.]))]
    engine = build_engine(dict(prompt='hbox', allow_tf32=False), model=tiny_sam)
    before = snapshot()
    seen, handles = record_states(tiny_sam)
    try:
        report = compare_with_predictor(engine, image, instances)
    finally:
        for handle in handles:
            handle.remove()
    assert report.passed
    # Engine encoder + predictor encoder, and the decoder three times (engine, its logits, predictor).
    assert sum(name == 'encoder conv' for name, _ in seen) == 2
    assert sum(name == 'decoder conv' for name, _ in seen) == 3
    assert all(state == {'conv': False, 'matmul': False} for _, state in seen), seen
    assert snapshot() == before


def test_allow_tf32_config():
    from samrs_mm.annotate.engine import ENGINE_DEFAULTS, check_engine_config
    assert ENGINE_DEFAULTS['allow_tf32'] is False
    assert check_engine_config(dict(allow_tf32=None))['allow_tf32'] is None
    with pytest.raises(EngineConfigError, match="allow_tf32 must be True, False or None, got 'yes'"):
        check_engine_config(dict(allow_tf32='yes'))
