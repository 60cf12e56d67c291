"""SAM's image encoder with its global attention computed a few heads at a time.

In ``segment_anything``'s ``ImageEncoderViT`` the global-attention blocks (4 of ViT-B's 12)
materialise the full ``(batch x heads) x 4096 x 4096`` attention matrix, three times over
(scores, scores + relative positions, softmax): 2.4 GiB for ViT-B in float32, more than
all the rest of the encoder and the model weights together. Attention heads are
independent, so :class:`ChunkedImageEncoder` runs those blocks with the same operations,
in the same order, on ``heads_per_chunk`` heads at a time (the relative-position term is
added by ``segment_anything``'s own ``add_decomposed_rel_pos``). Windowed blocks, the patch
embedding and the neck run through SAM's modules unchanged.

Outputs are bit for bit those of ``ImageEncoderViT.forward`` on the CPU kernels we
measured (tests/annotate/test_encoder.py); the peak memory of one image drops from
``3 x heads x 64 MiB`` to ``3 x heads_per_chunk x 64 MiB`` per global block (4096 tokens).

HQ-SAM's ``ImageEncoderViT`` is the same network but also returns the output of every
global-attention block (its decoder reads the first one): with ``interm=True`` the encoder
returns ``(embeddings, [global block outputs])`` as that forward does. Each block's
relative-position term comes from the block's own package.
"""
from __future__ import annotations

import sys
from typing import Optional

import torch

__all__ = ['ChunkedImageEncoder']


class ChunkedImageEncoder:
    """Runs ``sam.image_encoder`` with chunked global attention (see the module docstring).

    Args:
        encoder: a ``segment_anything`` (or ``segment_anything_hq``) ``ImageEncoderViT``.
        heads_per_chunk: heads per attention chunk; None (or >= the head count) runs the
            stock ``forward`` unchanged.
        interm: also return the global blocks' outputs, as HQ-SAM's encoder does (its
            stock ``forward`` returns them itself).
    """

    def __init__(self, encoder, heads_per_chunk: Optional[int] = 1, interm: bool = False) -> None:
        self.encoder = encoder
        self.heads_per_chunk = heads_per_chunk
        self.interm = interm
        blocks = getattr(encoder, 'blocks', None)
        # Other encoders (SAM variants) run as they are.
        self.supported = bool(blocks) and all(
            hasattr(b, 'window_size') and hasattr(b, 'attn') and hasattr(b.attn, 'qkv') for b in blocks)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor):
        """Image embeddings of preprocessed ``B x 3 x 1024 x 1024`` images (and the global blocks' outputs)."""
        enc = self.encoder
        if not self.supported or self.heads_per_chunk is None:
            return enc(x)
        x = enc.patch_embed(x)
        if enc.pos_embed is not None:
            x = x + enc.pos_embed
        interm = []
        for block in enc.blocks:
            if block.window_size > 0 or self.heads_per_chunk >= block.attn.num_heads:
                x = block(x)
            else:
                x = self._global_block(block, x)
            if block.window_size == 0:
                interm.append(x)
        x = enc.neck(x.permute(0, 3, 1, 2))
        return (x, interm) if self.interm else x

    def _global_block(self, block, x: torch.Tensor) -> torch.Tensor:
        """``Block.forward`` of a global-attention block, attention chunked over heads."""
        shortcut = x
        x = self._attention(block.attn, block.norm1(x))
        x = shortcut + x
        return x + block.mlp(block.norm2(x))

    def _attention(self, attn, x: torch.Tensor) -> torch.Tensor:
        """``Attention.forward`` of ``segment_anything``, ``heads_per_chunk`` heads at a time."""
        add_decomposed_rel_pos = sys.modules[type(attn).__module__].add_decomposed_rel_pos
        b, h, w, _ = x.shape
        qkv = attn.qkv(x).reshape(b, h * w, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * attn.num_heads, h * w, -1).unbind(0)
        out = torch.empty_like(q)
        step = self.heads_per_chunk
        for start in range(0, q.shape[0], step):
            qc, kc, vc = q[start:start + step], k[start:start + step], v[start:start + step]
            scores = (qc * attn.scale) @ kc.transpose(-2, -1)
            if attn.use_rel_pos:
                scores = add_decomposed_rel_pos(scores, qc, attn.rel_pos_h, attn.rel_pos_w, (h, w), (h, w))
            out[start:start + step] = scores.softmax(dim=-1) @ vc
        x = out.view(b, attn.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return attn.proj(x)
