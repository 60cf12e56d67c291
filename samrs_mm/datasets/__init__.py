"""Datasets, samplers and transforms, registered into the mmseg (segmentation, multi-task) and mmdet
(instances) registries."""
from .isaid import iSAIDFinetuneDataset  # noqa: F401
from .isaid_instances import iSAIDInstanceDataset  # noqa: F401
from .multi_source_sampler import MultiSourceSampler, proportional_batch_sizes  # noqa: F401
from .multitask_sample import MultiTaskDataSample  # noqa: F401
from .multitask_transforms import LoadRotatedBoxes, PackMultiTaskInputs  # noqa: F401
from .potsdam import Potsdam5Dataset  # noqa: F401
from .resumable_infinite_sampler import ResumableInfiniteSampler  # noqa: F401
from .sample_seeding import SeededIndex, SeededSampleDataset  # noqa: F401
from .samrs import FASTDataset, SIORDataset, SOTADataset  # noqa: F401
from .samrs_instances import FASTInstanceDataset, SIORInstanceDataset, SOTAInstanceDataset  # noqa: F401
from .samrs_multitask import FASTMultiTaskDataset, SIORMultiTaskDataset, SOTAMultiTaskDataset  # noqa: F401
from .subset import SmallDataSubsetMixin, select_subset  # noqa: F401
from .subset_tagging import SUBSET_META_KEYS, TagSubset  # noqa: F401
from .transforms import EvalCenterCrop, RandomGamma, RandomRot90  # noqa: F401
# The rotated-box datasets (samrs_rotated) import mmrotate: configs import them explicitly.
