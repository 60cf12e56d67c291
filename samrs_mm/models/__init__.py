"""Models registered into ``mmseg.registry.MODELS``: backbones and decode heads."""
from . import backbones, decode_heads  # noqa: F401
