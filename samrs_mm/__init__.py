"""samrs_mm: SAMRS for OpenMMLab.

Importing the package applies the runtime fixes of :mod:`samrs_mm.compat` (before mmseg /
mmdet are imported) and registers every dataset, transform, sampler, model, metric and
optimiser constructor of the package into the mmseg registries, so configs only need
``custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)``.
"""
from . import compat

compat.apply_all()

# Registration happens on import of these subpackages; order follows the data flow.
from . import annotate, datasets, evaluation, models, training  # noqa: E402,F401

__version__ = '0.1.0'
__all__ = ['__version__', 'compat']
