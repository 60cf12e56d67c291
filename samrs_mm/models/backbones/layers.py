"""Small layers and the weight initialisation that several backbones of this package share.

They keep the attribute names the backbones used before (``fc1`` / ``fc2`` / ``drop``,
LayerNorm's ``weight`` / ``bias``), so state-dict keys and the official-checkpoint
conversions (``pretrained.py``) do not depend on where a layer is defined.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_


class GELUMLP(nn.Module):
    """Two-layer GELU MLP on channels-last tokens, dropout after each layer (ViTAEv2, InternImage)."""

    def __init__(self, channels: int, hidden: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class ChannelsFirstLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an ``(N, C, H, W)`` map (InternImage stem, RVSA pyramid)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def window_relative_position_index(window_size: int) -> torch.Tensor:
    """Swin-style index into a ``((2 * window_size - 1) ** 2, heads)`` relative position bias
    table for every (query, key) pair of a window: ``(window_size ** 2, window_size ** 2)``."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size),
                                        indexing='ij')).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + window_size - 1
    return rel[0] * (2 * window_size - 1) + rel[1]


def init_transformer_weights_(model: nn.Module) -> None:
    """ViT-style random init: truncated-normal (std 0.02) linear and attention input
    projections with zero biases, LayerNorms to identity.

    One pass over ``model.modules()`` in order, so a seeded run draws the same numbers as
    the per-backbone loops this replaces did.
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.MultiheadAttention):
            trunc_normal_(module.in_proj_weight, std=.02)
            nn.init.zeros_(module.in_proj_bias)
