"""Backbones of the SAMRS paper that mmseg lacks (registered in ``mmseg.registry.MODELS``).

* :class:`ViTAEv2` -- ViTAEv2-S (reduction + normal cells, window attention in stages 1-2).
* :class:`InternImage` -- InternImage-T (DCNv3 blocks; pure-PyTorch core, compiled kernel if present).
* :class:`ViTAdapter` -- ViT-Adapter-B (mmseg ViT + spatial prior module + deformable interactions).
* :class:`ViTRVSA` -- ViT-B with rotated varied-size window attention and a simple feature pyramid.
* :class:`BEiTBackbone` -- mmseg's ``BEiT`` (relative position bias, layer scale) loading the
  official BEiT checkpoints through ``init_cfg`` (converted, tables resized on load).

``pretrained`` converts the published checkpoints (these four, and ResNet / Swin / ViT / BEiT for
mmseg's own backbones) to the key names used here; ``tools/model_converters/`` wraps it.
"""
from .beit import BEiTBackbone, resize_relative_position_table
from .dcnv3 import DCNv3, compiled_dcnv3_available, dcnv3_core, dcnv3_core_pytorch
from .internimage import InternImage
from .pretrained import (
                         CONVERTERS,
                         CheckpointShapeError,
                         ConvertedCheckpoint,
                         UnmappableKeysError,
                         convert_checkpoint,
                         extract_state_dict,
                         load_pretrained_weights,
)
from .vit_adapter import ViTAdapter
from .vit_rvsa import RotatedVariedSizeWindowAttention, ViTRVSA
from .vitaev2 import ViTAEv2

__all__ = [
    'ViTAEv2', 'InternImage', 'ViTAdapter', 'ViTRVSA', 'DCNv3', 'dcnv3_core', 'dcnv3_core_pytorch',
    'compiled_dcnv3_available', 'RotatedVariedSizeWindowAttention', 'CONVERTERS', 'ConvertedCheckpoint',
    'UnmappableKeysError', 'CheckpointShapeError', 'convert_checkpoint', 'extract_state_dict',
    'load_pretrained_weights', 'BEiTBackbone', 'resize_relative_position_table'
]
