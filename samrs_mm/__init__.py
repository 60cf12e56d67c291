"""samrs_mm: SAMRS for OpenMMLab.

``import samrs_mm`` (what configs load with
``custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)``) applies the
runtime fixes of :mod:`samrs_mm.compat` before mmseg / mmdet are imported, then registers
every dataset, transform, sampler, model, metric, hook and optimiser constructor of the
package into the OpenMMLab registries.

The stages that need no OpenMMLab (:mod:`samrs_mm.structures`, :mod:`samrs_mm.sources`,
:mod:`samrs_mm.patches`, the labelling engine :mod:`samrs_mm.annotate.engine`) import
without it: where mmengine, mmcv or mmseg cannot be imported (a bare labelling machine, a
benchmark host) the fixes and the registration are skipped, since no registry could be used
anyway, and :data:`OPENMMLAB_MISSING` says why.
"""
import importlib
from typing import Optional

__version__ = '0.1.0'
__all__ = ['__version__', 'OPENMMLAB_MISSING']


def _openmmlab_missing() -> Optional[str]:
    """Why the OpenMMLab packages the registration needs cannot be imported; None when they can."""
    for name in ('mmengine', 'mmcv', 'mmseg'):
        try:
            importlib.import_module(name)
        except ImportError as error:
            return f'{name}: {error}'
    return None


OPENMMLAB_MISSING = _openmmlab_missing()
if OPENMMLAB_MISSING is None:
    from . import compat

    compat.apply_all()
    # Registration happens on import of these modules; order follows the data flow.
    from . import datasets, evaluation, models, training  # noqa: E402,F401
    from .annotate import transforms  # noqa: E402,F401  (SAMAnnotate)
