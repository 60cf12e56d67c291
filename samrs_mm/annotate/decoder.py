"""SAM's prompt encoder + mask decoder for many prompts of one image, sharing prompt-independent work.

``SamPredictor.predict_torch`` copies the image embedding once per prompt
(``repeat_interleave``) and recomputes everything for each copy. For prompts without a mask
input (points and boxes), the first block of SAM's two-way transformer sees the same image
tokens for every prompt until its last attention: the image tokens' key and value
projections of the token-to-image attention, and the image tokens' query projection of the
image-to-token attention, are the same for all prompts. :class:`PromptBatchDecoder` computes
them once per image and broadcasts them over the prompt batch; everything else runs through
SAM's own modules (self-attention, layer norms, MLP, second block, final attention,
upscaling, hypernetworks, IoU head) in SAM's order, so the per-prompt arithmetic is
unchanged. Prompts with a mask input go through ``Sam.mask_decoder`` as they are.

The positional encoding of the image grid (``PromptEncoder.get_dense_pe``) is a constant
and is computed once per decoder instead of once per call.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

from .prompts import SamPromptBatch

__all__ = ['PromptBatchDecoder']


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``B x N x C -> B x heads x N x C/heads``, as ``segment_anything``'s ``Attention`` does."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``B x heads x N x c -> B x N x heads*c``."""
    b, h, n, c = x.shape
    return x.transpose(1, 2).reshape(b, n, h * c)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention on split heads, in ``Attention.forward``'s order of operations."""
    attn = q @ k.permute(0, 1, 3, 2)
    attn = attn / math.sqrt(q.shape[-1])
    attn = torch.softmax(attn, dim=-1)
    return attn @ v


class PromptBatchDecoder:
    """Decode batches of prompts against one image embedding, sharing what the prompts share.

    Usage: ``set_image(embedding)`` once per image (``1 x C x h x w`` from the image
    encoder), then ``decode(batch)`` for each :class:`SamPromptBatch`. The outputs are those
    of ``Sam.mask_decoder`` for the same prompts (``B x K x 256 x 256`` low-res logits and
    ``B x K`` predicted IoUs, ``K`` = 1 or 3).
    """

    def __init__(self, sam) -> None:
        self.sam = sam
        self.decoder = sam.mask_decoder
        self.transformer = sam.mask_decoder.transformer
        # The shared path relies on the stock two-way transformer layout; anything else
        # (other SAM variants) decodes through the stock modules only.
        first = getattr(self.transformer, 'layers', [None])[0]
        self.can_share = bool(first is not None and getattr(first, 'skip_first_layer_pe', False)
                              and hasattr(first, 'cross_attn_token_to_image')
                              and hasattr(self.transformer, 'final_attn_token_to_image'))
        self._dense_pe: Optional[torch.Tensor] = None
        self._embedding: Optional[torch.Tensor] = None
        self._shared: Optional[Tuple[torch.Tensor, ...]] = None

    @property
    def dense_pe(self) -> torch.Tensor:
        """``PromptEncoder.get_dense_pe()``, computed once (it depends on no input)."""
        if self._dense_pe is None or self._dense_pe.device != self.sam.device:
            with torch.no_grad():
                self._dense_pe = self.sam.prompt_encoder.get_dense_pe()
        return self._dense_pe

    def set_image(self, embedding: torch.Tensor) -> None:
        """Use ``embedding`` (``1 x C x h x w``) for the following :meth:`decode` calls."""
        if embedding.dim() != 4 or embedding.shape[0] != 1:
            raise ValueError(f'expected a 1 x C x h x w image embedding, got {tuple(embedding.shape)}')
        self._embedding = embedding
        self._shared = None  # computed on the first prompt batch without mask inputs

    @torch.no_grad()
    def _shared_first_block(self) -> Tuple[torch.Tensor, ...]:
        """Prompt-independent tensors of the first transformer block for mask-free prompts."""
        if self._shared is None:
            block = self.transformer.layers[0]
            no_mask = self.sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            # predict_masks: src = image embedding + dense embedding (the no-mask embedding).
            src = self._embedding + no_mask
            keys = src.flatten(2).permute(0, 2, 1)              # 1 x N x C
            key_pe = self.dense_pe.flatten(2).permute(0, 2, 1)  # 1 x N x C
            k_in = keys + key_pe
            t2i = block.cross_attn_token_to_image
            i2t = block.cross_attn_image_to_token
            self._shared = (
                keys, key_pe,
                _split_heads(t2i.k_proj(k_in), t2i.num_heads),
                _split_heads(t2i.v_proj(keys), t2i.num_heads),
                _split_heads(i2t.q_proj(k_in), i2t.num_heads),
            )
        return self._shared

    @torch.no_grad()
    def decode(self, batch: SamPromptBatch, multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Low-res mask logits ``B x K x 256 x 256`` and predicted IoUs ``B x K`` of a prompt batch."""
        if self._embedding is None:
            raise RuntimeError('call set_image(embedding) before decode()')
        points = (batch.point_coords, batch.point_labels) if batch.point_coords is not None else None
        sparse, dense = self.sam.prompt_encoder(points=points, boxes=batch.boxes, masks=batch.mask_inputs)
        if batch.mask_inputs is not None or not self.can_share:
            return self.decoder(image_embeddings=self._embedding, image_pe=self.dense_pe,
                                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                multimask_output=multimask_output)
        masks, iou = self._predict_masks_shared(sparse)
        sl = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, sl], iou[:, sl]

    def _predict_masks_shared(self, sparse: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``MaskDecoder.predict_masks`` for mask-free prompts, with the first block's image side shared."""
        dec, tr = self.decoder, self.transformer
        keys0, key_pe, t2i_k, t2i_v, i2t_q = self._shared_first_block()
        output_tokens = torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse), dim=1)
        query_pe = tokens

        # First block (TwoWayAttentionBlock with skip_first_layer_pe), image side shared.
        block = tr.layers[0]
        queries = block.self_attn(q=tokens, k=tokens, v=tokens)
        queries = block.norm1(queries)
        t2i = block.cross_attn_token_to_image
        q = _split_heads(t2i.q_proj(queries + query_pe), t2i.num_heads)
        attn_out = t2i.out_proj(_merge_heads(_attend(q, t2i_k, t2i_v)))
        queries = block.norm2(queries + attn_out)
        queries = block.norm3(queries + block.mlp(queries))
        i2t = block.cross_attn_image_to_token
        k = _split_heads(i2t.k_proj(queries + query_pe), i2t.num_heads)
        v = _split_heads(i2t.v_proj(queries), i2t.num_heads)
        attn_out = i2t.out_proj(_merge_heads(_attend(i2t_q, k, v)))
        keys = block.norm4(keys0 + attn_out)

        # Remaining blocks and the final attention: SAM's modules, image PE broadcast.
        for layer in tr.layers[1:]:
            queries, keys = layer(queries=queries, keys=keys, query_pe=query_pe, key_pe=key_pe)
        attn_out = tr.final_attn_token_to_image(q=queries + query_pe, k=keys + key_pe, v=keys)
        hs = tr.norm_final_attn(queries + attn_out)

        # MaskDecoder.predict_masks after the transformer.
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1:(1 + dec.num_mask_tokens), :]
        b, c = keys.shape[0], keys.shape[2]
        h, w = self._embedding.shape[-2:]
        upscaled = dec.output_upscaling(keys.transpose(1, 2).view(b, c, h, w))
        hyper_in = torch.stack([dec.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                                for i in range(dec.num_mask_tokens)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        iou_pred = dec.iou_prediction_head(iou_token_out)
        return masks, iou_pred
