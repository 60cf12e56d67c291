"""Models registered into ``mmseg.registry.MODELS``: backbones, decode heads and the multi-task
model (whose detection branches are mmdet's / mmrotate's detectors)."""
from . import backbones, decode_heads, multitask  # noqa: F401
