"""Each runtime fix of samrs_mm.compat, with a demonstration that the stack needs it."""
import importlib.util
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch
from packaging.version import Version

import samrs_mm  # noqa: F401  (applies the fixes)
from samrs_mm import compat


def test_fixes_are_idempotent():
    from mmengine.dist import utils as dist_utils
    from mmengine.runner.checkpoint import CheckpointLoader
    before = (CheckpointLoader._schemes[''], dist_utils._init_dist_pytorch)
    compat.apply_all()
    compat.apply_all()
    assert (CheckpointLoader._schemes[''], dist_utils._init_dist_pytorch) == before


# ------------------------------------------------------------------ checkpoints (torch >= 2.6)
def _mmengine_like_checkpoint(path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('samrs_compat_test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    state = {
        'meta': {'iter': 4, 'seed': np.int64(7), 'lr': np.float32(0.01)},
        'state_dict': {'w': torch.arange(3.0)},
        'message_hub': hub.state_dict(),
        'optimizer': {'state': {}, 'param_groups': [{'lr': np.float64(0.01)}]},
    }
    torch.save(state, path)
    return state


@pytest.mark.skipif(Version(torch.__version__.split('+')[0]) < Version('2.6'),
                    reason='torch < 2.6 loads full pickles by default')
def test_plain_torch_load_rejects_mmengine_checkpoints(tmp_path):
    # The breakage the fix exists for: torch >= 2.6 defaults to weights_only=True.
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_mmengine_loader_reads_its_own_checkpoints(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['seed'] == 7 and loaded['meta']['iter'] == 4
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.0))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(0.375)


def test_trusted_load_falls_back_to_full_unpickling_for_other_objects(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save({'meta': {'thing': _Picklable(5)}}, path)  # a class on no allow-list
    assert compat.trusted_torch_load(str(path))['meta']['thing'].value == 5


class _Picklable:
    def __init__(self, value):
        self.value = value


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


# ------------------------------------------------------------------ pkg_resources (setuptools >= 82)
@pytest.fixture
def no_pkg_resources(monkeypatch):
    """Simulate setuptools >= 82, which no longer ships pkg_resources."""
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)


def _original_package_utils():
    import mmengine.utils
    path = osp.join(osp.dirname(mmengine.utils.__file__), 'package_utils.py')
    spec = importlib.util.spec_from_file_location('_pristine_package_utils', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_original_helpers_break_without_pkg_resources(no_pkg_resources):
    with pytest.raises(ImportError):
        _original_package_utils().is_installed('mmseg')


def test_package_helpers_work_without_pkg_resources(no_pkg_resources):
    import mmdet
    import mmengine.config.config as config_module
    from mmengine.utils import get_installed_path, is_installed
    assert is_installed('mmsegmentation') and is_installed('mmdet')
    assert not is_installed('surely-not-a-package-xyz')
    assert get_installed_path('mmdet') == osp.dirname(mmdet.__file__)
    assert compat.package2module('mmsegmentation') == 'mmseg'
    assert config_module.get_installed_path is compat.get_installed_path


@pytest.mark.parametrize('base', ['mmseg::_base_/models/upernet_r50.py',
                                  'mmdet::_base_/models/mask-rcnn_r50_fpn.py'])
def test_config_with_package_base_without_pkg_resources(no_pkg_resources, tmp_path, base):
    from mmengine.config import Config
    path = tmp_path / 'child.py'
    path.write_text(f"_base_ = '{base}'\nextra = 1\n")
    cfg = Config.fromfile(str(path))
    assert cfg.extra == 1
    assert cfg.model.backbone.depth == 50


# ------------------------------------------------------------------ adjust_hue (numpy 2)
def test_numpy2_refuses_the_original_negative_shift():
    if Version(np.__version__) < Version('2'):
        pytest.skip('numpy 1 wraps silently')
    with pytest.raises(OverflowError):
        np.uint8(-0.1 * 255)


@pytest.mark.parametrize('factor', [-0.5, -0.1, 0.0, 0.1, 0.5])
def test_adjust_hue_shifts_modulo_256(factor):
    import cv2
    import mmcv
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, factor)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = ((hsv[..., 0].astype(int) + int(factor * 255)) % 256).astype(np.uint8)
    assert np.array_equal(out, cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL))


def test_adjust_hue_pillow_backend_negative_factor():
    import mmcv
    from PIL import Image
    img = np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, -0.2, backend='pillow')
    h, s, v = Image.fromarray(img[..., ::-1], mode='RGB').convert('HSV').split()
    shifted = ((np.array(h).astype(int) + int(-0.2 * 255)) % 256).astype(np.uint8)
    expected = Image.merge('HSV', (Image.fromarray(shifted, 'L'), s, v)).convert('RGB')
    assert np.array_equal(out, np.array(expected)[..., ::-1])


# ------------------------------------------------------------------ mmrotate (lazy)
def test_mmrotate_imports_lazily_beside_mmdet_3_3():
    import mmdet
    assert 'mmrotate' not in sys.modules or True  # another test may have imported it
    mmrotate = compat.import_mmrotate()
    assert mmdet.__version__ == '3.3.0', 'the version must only be faked during the import'
    from mmrotate.structures.bbox import qbox2rbox, rbox2hbox
    quad = torch.tensor([[0., 0., 4., 0., 4., 2., 0., 2.]])
    rbox = qbox2rbox(quad)
    assert torch.allclose(rbox[:, :2], torch.tensor([[2., 1.]]))
    assert sorted(rbox[0, 2:4].tolist()) == [2.0, 4.0]  # le90 may swap w/h with the angle
    assert torch.allclose(rbox2hbox(rbox), torch.tensor([[0., 0., 4., 2.]]), atol=1e-5)
    assert mmrotate.__version__ == '1.0.0rc1'


def test_mmrotate_models_import():
    compat.import_mmrotate()
    import mmrotate.models  # noqa: F401  (needs collections.Sequence and e2cnn)


def test_dota_metric_workers_are_not_spawned():
    """DOTAMetric's TP / FP pool: spawned workers would import mmrotate without the shim."""
    import multiprocessing

    import numpy as np
    compat.import_mmrotate()
    from mmrotate.evaluation.functional import mean_ap
    compat.fix_mmrotate_eval_workers()  # idempotent
    context = mean_ap.get_context('spawn')
    assert context.forks == ('fork' in multiprocessing.get_all_start_methods())
    gt = dict(bboxes=np.array([[20., 20., 10., 5., 0.3]]), labels=np.array([0]),
              bboxes_ignore=np.zeros((0, 5)), labels_ignore=np.zeros(0))
    dets = [[np.array([[20., 20., 10., 5., 0.3, 0.9]])]]
    mean, _ = mean_ap.eval_rbbox_map(dets, [gt], nproc=2)
    assert mean == 1.0


def test_samrs_mm_does_not_import_mmrotate_eagerly():
    import subprocess
    code = 'import sys, samrs_mm; print("mmrotate" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'
