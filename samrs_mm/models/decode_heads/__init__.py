"""Decode heads for multi-source pre-training and the paper's UNet variant."""
