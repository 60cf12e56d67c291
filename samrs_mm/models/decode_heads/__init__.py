"""Decode heads for multi-subset pre-training and the paper's UNet variant."""
from .multi_head import MultiHeadDecodeHead
from .multi_subset_mask2former import MultiSubsetMask2FormerHead
from .unet_head import UNetHead

__all__ = ['MultiHeadDecodeHead', 'MultiSubsetMask2FormerHead', 'UNetHead']
