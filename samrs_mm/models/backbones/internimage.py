"""InternImage (Wang et al., "InternImage: Exploring Large-Scale Vision Foundation Models with
Deformable Convolutions", CVPR 2023): a 4-stage pyramid of DCNv3 blocks."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmseg.registry import MODELS

from .dcnv3 import DCNv3
from .layers import GELUMLP, ChannelsFirstLayerNorm, init_transformer_weights_
from .pretrained import load_pretrained_weights


class InternImageStem(nn.Module):
    """Two stride-2 3x3 convs (to C/2 then C) with LayerNorm and GELU: input /4, channels-last out."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels // 2, 3, stride=2, padding=1)
        self.norm1 = ChannelsFirstLayerNorm(channels // 2, eps=1e-6)
        self.conv2 = nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(x).permute(0, 2, 3, 1))


class InternImageDownsample(nn.Module):
    """Stride-2 3x3 conv doubling the channels, then LayerNorm (channels-last in and out)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1, bias=False)
        self.norm = nn.LayerNorm(2 * channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class InternImageBlock(BaseModule):
    """DCNv3 token mixer + MLP, each in a (pre- or post-norm) residual branch with layer scale."""

    def __init__(self, channels: int, groups: int, mlp_ratio: float = 4., drop: float = 0., drop_path: float = 0.,
                 layer_scale: Optional[float] = 1.0, offset_scale: float = 1.0, post_norm: bool = False,
                 dcn_impl: str = 'auto', with_cp: bool = False):
        super().__init__()
        self.post_norm = post_norm
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(channels, eps=1e-6)
        self.dcn = DCNv3(channels, kernel_size=3, groups=groups, offset_scale=offset_scale, impl=dcn_impl)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = GELUMLP(channels, int(channels * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(torch.full((channels, ), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((channels, ), float(layer_scale)))
        else:
            self.gamma1 = self.gamma2 = None

    def _scaled(self, x: torch.Tensor, gamma: Optional[torch.Tensor]) -> torch.Tensor:
        return x if gamma is None else gamma * x

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.post_norm:
            x = x + self.drop_path(self._scaled(self.norm1(self.dcn(x)), self.gamma1))
            return x + self.drop_path(self._scaled(self.norm2(self.mlp(x)), self.gamma2))
        x = x + self.drop_path(self._scaled(self.dcn(self.norm1(x)), self.gamma1))
        return x + self.drop_path(self._scaled(self.mlp(self.norm2(x)), self.gamma2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last ``(N, H, W, C)`` in and out."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class InternImageStage(BaseModule):
    """``depth`` blocks, a closing LayerNorm (pre-norm variant) and an optional downsample."""

    def __init__(self, channels: int, depth: int, groups: int, drop_paths: Sequence[float], downsample: bool,
                 **block_kwargs):
        super().__init__()
        self.blocks = ModuleList(
            [InternImageBlock(channels, groups, drop_path=drop_paths[i], **block_kwargs) for i in range(depth)])
        self.norm = nn.Identity() if block_kwargs.get('post_norm') else nn.LayerNorm(channels, eps=1e-6)
        self.downsample = InternImageDownsample(channels) if downsample else None

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return (input of the next stage, this stage's output before downsampling)."""
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return (self.downsample(x) if self.downsample is not None else x), x


@MODELS.register_module()
class InternImage(BaseModule):
    """InternImage backbone; defaults are InternImage-T as used by SAMRS.

    InternImage-T: ``channels=64, depths=(4, 4, 18, 4), groups=(4, 8, 16, 32)``, MLP ratio 4,
    drop path 0.2, layer scale 1.0, pre-norm. Outputs ``(N, 64 * 2**i, H / 2**(i+2), W / 2**(i+2))``
    for ``i in out_indices``.

    Parameters: 28,769,520 (pinned in the tests), of which 14,848 are the layer-scale factors
    SAMRS enables (``layer_scale=None`` drops them). The published "30M" of InternImage-T is
    the ImageNet classifier: 29,918,424 = the same 28,754,672 backbone parameters (its
    checkpoint has no layer scale) + 1,163,752 in the classification head.

    Args:
        in_channels: input image channels.
        channels: width of stage 1; stage i has ``channels * 2**i``.
        depths: blocks per stage.
        groups: DCNv3 groups per stage.
        mlp_ratio: MLP hidden width / channels.
        drop_rate: dropout inside the MLPs.
        drop_path_rate: stochastic depth, linearly increasing over all blocks.
        layer_scale: initial value of per-channel residual scales, ``None`` for none.
        offset_scale: DCNv3 offset scale.
        post_norm: normalise the branch outputs instead of their inputs (large models).
        out_indices: stages whose outputs are returned.
        dcn_impl: DCNv3 core, ``'auto'`` / ``'pytorch'`` / ``'compiled'`` (see ``dcnv3_core``).
        with_cp: gradient checkpointing per block (saves memory, costs one extra forward).
        frozen_stages: stem and the first ``frozen_stages`` stages are frozen (-1: none).
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` accepts the official InternImage
            checkpoints (converted on the fly) and this package's own.
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: int = 64,
                 depths: Sequence[int] = (4, 4, 18, 4),
                 groups: Sequence[int] = (4, 8, 16, 32),
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.2,
                 layer_scale: Optional[float] = 1.0,
                 offset_scale: float = 1.0,
                 post_norm: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 dcn_impl: str = 'auto',
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(depths) != len(groups):
            raise ValueError(f'depths {depths} and groups {groups} must have the same length')
        if not set(out_indices) <= set(range(len(depths))):
            raise ValueError(f'out_indices {out_indices} must index the {len(depths)} stages')
        self.depths = tuple(depths)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.out_channels = [channels * 2**i for i in range(len(depths))]
        self.stem = InternImageStem(in_channels, channels)
        self.drop_after_stem = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            self.stages.append(
                InternImageStage(
                    self.out_channels[i], depth, groups[i], rates[start:start + depth],
                    downsample=i < len(depths) - 1, mlp_ratio=mlp_ratio, drop=drop_rate, layer_scale=layer_scale,
                    offset_scale=offset_scale, post_norm=post_norm, dcn_impl=dcn_impl, with_cp=with_cp))
        self._freeze_stages()

    def init_weights(self) -> None:
        """Truncated-normal linear layers, or the weights named by ``init_cfg`` (official or ours)."""
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_weights(self, self.init_cfg['checkpoint'], official_format='internimage')
            return
        init_transformer_weights_(self)
        for module in self.modules():
            if isinstance(module, DCNv3):
                module.reset_parameters()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen: List[nn.Module] = [self.stem] + list(self.stages[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """Keep frozen stages in eval mode."""
        super().train(mode)
        self._freeze_stages()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer index of a parameter for layer-wise lr decay: stem 0, blocks 1..N, rest N + 1.

        A stage's closing norm and downsample belong with its last block.
        """
        num_layers = sum(self.depths) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith('stem.'):
            return 0, num_layers
        if name.startswith('stages.'):
            parts = name.split('.')
            stage = int(parts[1])
            if parts[2] == 'blocks':
                return sum(self.depths[:stage]) + int(parts[3]) + 1, num_layers
            return sum(self.depths[:stage + 1]), num_layers
        return num_layers - 1, num_layers

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the NCHW outputs of the stages in ``out_indices``."""
        x = self.drop_after_stem(self.stem(x))
        outs = []
        for i, stage in enumerate(self.stages):
            x, out = stage(x)
            if i in self.out_indices:
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
