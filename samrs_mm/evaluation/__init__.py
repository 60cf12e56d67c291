"""Metrics registered into ``mmseg.registry.METRICS``."""
from .per_source_iou import PerSourceIoUMetric  # noqa: F401
from .confusion_metric import ConfusionMatrixMetric, PotsdamMetric, iSAIDMetric  # noqa: F401
from .instance_iou import InstanceMaskIoUMetric  # noqa: F401
