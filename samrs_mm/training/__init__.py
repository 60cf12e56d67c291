"""Training-engine parts registered in mmseg's registries: layer-wise lr decay optimiser
constructors and the exact, constant-time-resume training loop."""
from .exact_resume_loop import ExactResumeIterBasedTrainLoop
from .layer_decay import (
                          NO_WEIGHT_DECAY_KEYWORDS,
                          HierarchicalLayerDecayOptimWrapperConstructor,
                          LayerDecayOptimWrapperConstructor,
)

__all__ = ['LayerDecayOptimWrapperConstructor', 'HierarchicalLayerDecayOptimWrapperConstructor',
           'NO_WEIGHT_DECAY_KEYWORDS', 'ExactResumeIterBasedTrainLoop']
