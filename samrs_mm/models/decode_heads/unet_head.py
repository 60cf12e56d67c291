"""The SAMRS paper's UNet decoder for 4-level pyramid backbones (Sec. 4.1).

From the deepest level up, each decoder block upsamples by 2, concatenates the next
shallower level and applies two 3x3 conv-BN-ReLU layers (stride 32 -> 16 -> 8 -> 4). The
usual last block (to stride 2, without skip) is replaced by one 2x bilinear upsampling.
The classifier is a 1x1 conv followed by 2x bilinear upsampling and a ReLU, so the logits
come out at the input resolution. The ReLU on logits is what the paper specifies; it is a
parameter (``logit_activation``) so it can be switched off.

The authors' released UNet models (``Encoder_Decoder/unet.py``) differ, and are built by the
arguments: a fourth block without skip (stride 4 -> 2, ``decoder_channels`` of 4 numbers,
512 / 256 / 128 / 64), then the 2x bilinear upsampling to stride 1 and a 3x3 classifier
(``classifier_kernel_size=3``) without upsampling or activation (``logit_activation=None``).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


class UNetDecoderBlock(nn.Module):
    """Upsample by 2, concatenate the skip feature, two 3x3 ConvModules."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 conv_cfg=None, norm_cfg=None, act_cfg=None) -> None:
        super().__init__()
        self.conv1 = ConvModule(in_channels + skip_channels, out_channels, 3, padding=1,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(out_channels, out_channels, 3, padding=1,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor, skip: Optional[torch.Tensor]) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        if skip is None:  # the last block of the released UNet
            return self.conv2(self.conv1(x))
        if skip.shape[2:] != x.shape[2:]:
            # Odd input sizes: bring the skip to the upsampled size.
            skip = F.interpolate(skip, size=x.shape[2:], mode='bilinear', align_corners=False)
        return self.conv2(self.conv1(torch.cat([x, skip], dim=1)))


@MODELS.register_module()
class UNetHead(BaseDecodeHead):
    """UNet decoder over 4 pyramid levels (strides 4, 8, 16, 32) with the paper's head.

    Args:
        in_channels (list[int]): channels of the 4 input levels, shallow to deep.
        decoder_channels (list[int]): output channels of the 3 decoder blocks
            (stride 16, 8, 4), or of 4 (the fourth without skip, stride 2: the released
            models). The last one is ``channels``, the classifier's input.
        logit_activation (str | None): activation after the classifier's upsampling;
            ``'ReLU'`` as in the paper, ``None`` for raw logits.
        classifier_kernel_size (int): kernel of the classifier (1; the released models: 3).
        **kwargs: the rest of :class:`mmseg.models.decode_heads.BaseDecodeHead`.
    """

    def __init__(self, in_channels: Sequence[int], decoder_channels: Sequence[int] = (256, 128, 64),
                 logit_activation: Optional[str] = 'ReLU', classifier_kernel_size: int = 1, **kwargs) -> None:
        if len(in_channels) != 4 or len(decoder_channels) not in (3, 4):
            raise ValueError('UNetHead needs 4 input levels and 3 or 4 decoder channel numbers, got '
                             f'{list(in_channels)} and {list(decoder_channels)}')
        if classifier_kernel_size % 2 != 1:
            raise ValueError(f'classifier_kernel_size must be odd, got {classifier_kernel_size}')
        kwargs.setdefault('in_index', [0, 1, 2, 3])
        super().__init__(in_channels=list(in_channels), channels=decoder_channels[-1],
                         input_transform='multiple_select', **kwargs)
        deep_to_shallow = list(self.in_channels)[::-1]
        block_inputs = [deep_to_shallow[0]] + list(decoder_channels[:-1])
        skips = deep_to_shallow[1:] + [0]  # a fourth block has no skip
        self.blocks = nn.ModuleList([
            UNetDecoderBlock(block_in, skip, out, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                             act_cfg=self.act_cfg)
            for block_in, skip, out in zip(block_inputs, skips, decoder_channels)
        ])
        # features leave the blocks and the 2x upsampling at stride 2 (3 blocks) or 1 (4 blocks)
        self.upsample_logits = len(decoder_channels) == 3
        if classifier_kernel_size != 1:
            self.conv_seg = nn.Conv2d(self.channels, self.out_channels, classifier_kernel_size,
                                      padding=classifier_kernel_size // 2)
        if logit_activation not in (None, 'ReLU'):
            raise ValueError(f"logit_activation must be 'ReLU' or None, got {logit_activation!r}")
        self.logit_activation = logit_activation

    def _forward_feature(self, inputs) -> torch.Tensor:
        """Decoder features at stride 2 (before the classifier)."""
        levels = self._transform_inputs(inputs)
        x = levels[-1]
        skips = list(levels[-2::-1]) + [None]
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip)
        # Replaces the usual last UNet block (stride 4 -> 2); after a fourth block: 2 -> 1.
        return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=self.align_corners)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Classifier, 2x bilinear upsampling (3 blocks), then the paper's ReLU (if set)."""
        logits = super().cls_seg(feat)
        if self.upsample_logits:
            logits = F.interpolate(logits, scale_factor=2, mode='bilinear', align_corners=self.align_corners)
        return F.relu(logits) if self.logit_activation == 'ReLU' else logits

    def forward(self, inputs) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        return self.cls_seg(self._forward_feature(inputs))
