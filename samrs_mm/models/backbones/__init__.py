"""Backbones of the SAMRS paper that mmseg lacks (registered in ``mmseg.registry.MODELS``)."""
