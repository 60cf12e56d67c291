"""Multi-task pre-training (MTP) on SAMRS: the model, its detection branches and its data preprocessor."""
from .data_preprocessor import MultiTaskDataPreprocessor
from .detection_branch import SharedFeatures
from .model import MultiTaskEncoderDecoder

__all__ = ['MultiTaskEncoderDecoder', 'MultiTaskDataPreprocessor', 'SharedFeatures']
