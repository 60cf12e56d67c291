"""The labelling stages import and run where mmengine / mmcv / mmseg cannot be imported."""
import sys

from tests.conftest import run_tool

CHECK = r'''
import sys
import numpy as np
import samrs_mm
assert samrs_mm.OPENMMLAB_MISSING.startswith('mmengine: '), samrs_mm.OPENMMLAB_MISSING
from samrs_mm.annotate.engine import build_engine
from samrs_mm.patches import PatchSettings, crop_patches
from samrs_mm.sources import build_source  # noqa: F401
from samrs_mm.structures import Instance, ImageRecord
image = np.zeros((40, 60, 3), np.uint8)
inst = Instance('car', hbox=np.array([10., 5., 30., 25.]), class_index=0)
masks = build_engine(dict(backend='box', prompt='hbox')).annotate(image, [inst])
assert masks[0].area == 400, masks[0].area
record = ImageRecord('a.png', 60, 40, instances=[inst])
patches, accounting = crop_patches(record, image, PatchSettings(patch_size=32, gap=0))
assert accounting['kept'] == 1 and len(patches) == 4, accounting
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('mmengine', 'mmcv', 'mmseg', 'mmdet'))
assert loaded == [], loaded
print('ok')
'''


def test_engine_sources_and_patches_without_openmmlab(tmp_path):
    for name in ('mmengine', 'mmcv', 'mmseg', 'mmdet', 'mmrotate'):
        (tmp_path / name).mkdir()
        (tmp_path / name / '__init__.py').write_text(f'raise ImportError("{name} is blocked for this check")\n')
    proc = run_tool([sys.executable, '-c', CHECK], env={'PYTHONPATH': str(tmp_path)})
    assert proc.stdout.strip() == 'ok'
