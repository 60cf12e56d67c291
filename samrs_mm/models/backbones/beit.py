"""mmseg's ``BEiT`` backbone, loading the official BEiT checkpoints (microsoft/unilm) on its own.

:class:`BEiTBackbone` *is* mmseg's ``BEiT`` (same layers, same state-dict keys: relative
position bias per block, layer scale, q/v biases) with one change, in ``init_weights``: a
``init_cfg=dict(type='Pretrained', checkpoint=...)`` may name the official file
(``beit_base_patch16_224_pt22k_ft22k.pth``, timm-like ``blocks.i.*`` keys), which is converted
on load by the ``beit`` rules of :mod:`.pretrained`, or a checkpoint already in mmseg's
names (a converted file, a SEP segmentor). mmseg's own loading path is replaced because it
does not convert keys (the official file would load nothing, silently) and its table
resizing calls ``scipy.interpolate.interp2d``, which SciPy 1.14 removed.

Relative position tables are resized from the checkpoint's grid to the model's
(``img_size / patch_size``) with BEiT's geometric-sequence interpolation,
:func:`resize_relative_position_table` -- the same sampling as mmseg's / unilm's
``resize_rel_pos_embed``, with ``RectBivariateSpline`` standing in for ``interp2d``.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmseg.models.backbones.beit import BEiT
from mmseg.registry import MODELS

from .pretrained import load_pretrained_weights

__all__ = ['BEiTBackbone', 'resize_relative_position_table']

#: class-to-token, token-to-class and class-to-class entries at the end of a BEiT table
NUM_EXTRA_RELATIVE_POSITIONS = 3


def _geometric_positions(src_side: int, dst_side: int) -> Tuple[np.ndarray, np.ndarray]:
    """Source sample positions and target offsets for one axis of a relative position table.

    ``src_side`` / ``dst_side`` are the table sides ``2 * window - 1``. The source offsets
    are spread geometrically (step ``q**i``, ``q`` found by bisection so that they reach the
    target's largest offset), keeping the centre dense and stretching the edges, as BEiT does.
    """
    if src_side == dst_side:  # nothing to stretch on this axis
        offsets = np.arange(src_side, dtype=np.float64) - src_side // 2
        return offsets, offsets.copy()
    half = src_side // 2
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q**half) / (1.0 - q) > dst_side // 2:
            right = q
        else:
            left = q
    distances: List[float] = []
    current = 1.0
    for i in range(half):
        distances.append(current)
        current += q**(i + 1)
    positions = np.array([-d for d in reversed(distances)] + [0.0] + distances)
    t = dst_side // 2.0
    return positions, np.arange(-t, t + 0.1, 1.0)


def resize_relative_position_table(table: torch.Tensor, dst_window: Sequence[int]) -> torch.Tensor:
    """Resize a BEiT relative position table ``((2Wh-1)(2Ww-1) + 3, heads)`` to ``dst_window``.

    The source grid must be square (BEiT checkpoints are); the three class-token entries at
    the end are kept as they are. Each head is fitted with an interpolating bicubic spline
    (FITPACK, exactly what ``interp2d(kind='cubic')`` computed on this regular grid).
    """
    from scipy.interpolate import RectBivariateSpline

    extra = NUM_EXTRA_RELATIVE_POSITIONS
    num_pos, num_heads = table.shape
    src_side = int(round((num_pos - extra)**0.5))
    if src_side * src_side != num_pos - extra or src_side % 2 == 0:
        raise ValueError(f'relative position table of shape {tuple(table.shape)} is not a square '
                         f'(2W-1)^2 grid plus {extra} class-token entries')
    dst_h, dst_w = 2 * int(dst_window[0]) - 1, 2 * int(dst_window[1]) - 1
    if (dst_h, dst_w) == (src_side, src_side):
        return table
    src_pos, dst_rows = _geometric_positions(src_side, dst_h)
    src_pos_w, dst_cols = _geometric_positions(src_side, dst_w)
    grid = table[:-extra].detach().float().cpu().numpy().reshape(src_side, src_side, num_heads)
    heads = []
    for head in range(num_heads):
        # rows are vertical offsets, columns horizontal ones (index = dh * (2Ww-1) + dw)
        spline = RectBivariateSpline(src_pos, src_pos_w, grid[:, :, head], kx=3, ky=3, s=0)
        heads.append(torch.from_numpy(spline(dst_rows, dst_cols)).reshape(-1))
    resized = torch.stack(heads, dim=1).to(table)
    return torch.cat([resized, table[-extra:]], dim=0)


@MODELS.register_module()
class BEiTBackbone(BEiT):
    """mmseg's ``BEiT`` that loads official BEiT checkpoints through ``init_cfg``.

    Same arguments and parameters as ``mmseg.models.backbones.BEiT``; only
    ``init_weights`` differs (see the module docstring). The input size must equal
    ``img_size`` (mmseg's BEiT builds its relative position index for that grid): use
    sliding-window inference at ``img_size`` for larger images.
    """

    def init_weights(self) -> None:
        """mmseg's initialisation, then the ``Pretrained`` checkpoint (converted, tables resized)."""
        init_cfg = self.init_cfg
        if not (isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        # mmseg's random initialisation for anything the checkpoint does not hold (its own
        # Pretrained branch would load without converting: skip it)
        self.init_cfg = None
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        load_pretrained_weights(self, init_cfg['checkpoint'], official_format='beit')

    def adapt_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize relative position tables to this model's grid; use this model's index buffers."""
        own = self.state_dict()
        for key in list(state_dict):
            if key not in own or tuple(state_dict[key].shape) == tuple(own[key].shape):
                continue
            if key.endswith('relative_position_bias_table'):
                state_dict[key] = resize_relative_position_table(state_dict[key], self.patch_shape)
            elif key.endswith('relative_position_index'):
                # a function of the grid only: a checkpoint of another input size has another one
                state_dict[key] = own[key].clone()
        return state_dict
