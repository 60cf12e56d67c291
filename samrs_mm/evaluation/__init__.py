"""Metrics registered into ``mmseg.registry.METRICS``."""
from .confusion_metric import ConfusionMatrixMetric, PotsdamMetric, iSAIDMetric  # noqa: F401
from .instance_iou import InstanceMaskIoUMetric  # noqa: F401
from .multi_task_metric import MultiTaskMetric  # noqa: F401
from .per_subset_iou import PerSubsetIoUMetric  # noqa: F401
