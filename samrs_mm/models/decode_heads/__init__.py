"""Decode heads for multi-source pre-training and the paper's UNet variant."""
from .multi_head import MultiHeadDecodeHead
from .multi_source_mask2former import MultiSourceMask2FormerHead
from .unet_head import UNetHead

__all__ = ['MultiHeadDecodeHead', 'MultiSourceMask2FormerHead', 'UNetHead']
