"""Training-engine parts: layer-wise lr decay optimiser constructors (registered in mmseg's registry)."""
from .layer_decay import (
                          NO_WEIGHT_DECAY_KEYWORDS,
                          HierarchicalLayerDecayOptimWrapperConstructor,
                          LayerDecayOptimWrapperConstructor,
)

__all__ = ['LayerDecayOptimWrapperConstructor', 'HierarchicalLayerDecayOptimWrapperConstructor',
           'NO_WEIGHT_DECAY_KEYWORDS']
