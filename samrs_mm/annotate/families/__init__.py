"""The SAM families: each wires the engine's parts (:mod:`samrs_mm.annotate.engine`) to one model family.

* :mod:`.sam` (``segment_anything``): the pipeline every family shares;
* :mod:`.sam_hq` (``sam_hq``), :mod:`.sam2` (``sam2``), :mod:`.sam3` (``sam3``): what differs;
* :mod:`.models` (``build_sam_model``) with :mod:`.architectures`: the models and their weights;
* :mod:`.reference`: each family's own predictor, to check the engine against.

Importing this package registers the four backends; the engine does so on its first backend
lookup (:func:`samrs_mm.annotate.engine.backend.backend_class`), so ``build_engine`` needs no
import of it.
"""
from . import (
    sam,  # noqa: F401  (registers 'segment_anything')
    sam2,  # noqa: F401  (registers 'sam2')
    sam3,  # noqa: F401  (registers 'sam3')
    sam_hq,  # noqa: F401  (registers 'sam_hq')
)
