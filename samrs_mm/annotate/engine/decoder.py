"""The SAM families' prompt encoder + mask decoder for many prompts of one image, sharing prompt-independent work.

``SamPredictor.predict_torch`` copies the image embedding once per prompt
(``repeat_interleave``) and recomputes everything for each copy. For prompts without a mask
input (points and boxes), the first block of SAM's two-way transformer sees the same image
tokens for every prompt until its last attention: the image tokens' key and value
projections of the token-to-image attention, and the image tokens' query projection of the
image-to-token attention, are the same for all prompts. :class:`PromptBatchDecoder` computes
them once per image and broadcasts them over the prompt batch; everything else runs through
the family's own modules (self-attention, layer norms, MLP, second block, final attention,
upscaling, hypernetworks, IoU head) in the family's order, so the per-prompt arithmetic is
unchanged. Prompts with a mask input go through the family's mask decoder as they are.

The positional encoding of the image grid (``get_dense_pe``) is a constant and is computed
once per decoder instead of once per call.

All four families share the two-way transformer layout; what differs, and is handled by
one subclass each:

* ``segment_anything`` (:class:`PromptBatchDecoder`): output tokens IoU + 4 masks; the
  attention is written out (``q @ k^T / sqrt(d)``, softmax, ``@ v``).
* HQ-SAM (:class:`HQPromptBatchDecoder`): one more output token (HQ) with its own MLP, and
  an HQ feature map computed from the image embedding and the first global-attention
  block's output: prompt-independent, so computed once per image (the stock decoder does it
  per call); its single-or-best mask selection and ``hq_token_only``.
* SAM 2 and SAM 3 (:class:`Sam2PromptBatchDecoder`): an object-score token first; boxes
  enter the prompt encoder as two corner points (labels 2, 3) before the other points, as
  their predictors do; upscaling adds the two high-resolution feature maps; attention by
  ``F.scaled_dot_product_attention``; single-mask output falls back to the best of the
  three masks when unstable (the decoder's own ``_dynamic_multimask_via_stability``).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from .prompts import SamPromptBatch

__all__ = ['PromptBatchDecoder', 'HQPromptBatchDecoder', 'Sam2PromptBatchDecoder']


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``B x N x C -> B x heads x N x C/heads``, as the families' ``Attention`` modules do."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``B x heads x N x c -> B x N x heads*c``."""
    b, h, n, c = x.shape
    return x.transpose(1, 2).reshape(b, n, h * c)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention on split heads, in ``segment_anything``'s ``Attention.forward`` order."""
    attn = q @ k.permute(0, 1, 3, 2)
    attn = attn / math.sqrt(q.shape[-1])
    attn = torch.softmax(attn, dim=-1)
    return attn @ v


def _attend_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` as SAM 2 / SAM 3 call it; shared operands are expanded (views, no copies)."""
    b = max(q.shape[0], k.shape[0])
    return F.scaled_dot_product_attention(q.expand(b, -1, -1, -1), k.expand(b, -1, -1, -1),
                                          v.expand(b, -1, -1, -1))


class PromptBatchDecoder:
    """Decode batches of prompts against one image, sharing what the prompts share (``segment_anything``).

    Usage: ``set_image(features)`` once per image (for SAM the ``1 x C x h x w`` embedding
    from the image encoder), then ``decode(batch)`` for each :class:`SamPromptBatch`. The
    outputs are those of the family's mask decoder for the same prompts (``B x K x h' x w'``
    low-res logits and ``B x K`` predicted IoUs, ``K`` = 1 or 3). :meth:`decode_stock`
    runs the family's own prompt encoder and mask decoder unchanged (the reference of the
    tests, and the model floor of the benchmark).
    """

    # Attention kernel of the family's two-way transformer.
    attend = staticmethod(_attend)

    def __init__(self, sam) -> None:
        self.sam = sam
        self.prompt_encoder, self.decoder = self._modules(sam)
        self.transformer = self.decoder.transformer
        # The shared path relies on the stock two-way transformer layout; anything else
        # (other SAM variants) decodes through the stock modules only.
        first = getattr(self.transformer, 'layers', [None])[0]
        self.can_share = bool(first is not None and getattr(first, 'skip_first_layer_pe', False)
                              and hasattr(first, 'cross_attn_token_to_image')
                              and hasattr(self.transformer, 'final_attn_token_to_image'))
        self._dense_pe: Optional[torch.Tensor] = None
        self._features = None
        self._embedding: Optional[torch.Tensor] = None
        self._shared: Optional[Tuple[torch.Tensor, ...]] = None

    @staticmethod
    def _modules(sam):
        """The family's ``(prompt encoder, mask decoder)``."""
        return sam.prompt_encoder, sam.mask_decoder

    @property
    def device(self) -> torch.device:
        """Device of the decoder's weights."""
        return next(self.decoder.parameters()).device

    @property
    def dense_pe(self) -> torch.Tensor:
        """``PromptEncoder.get_dense_pe()``, computed once (it depends on no input)."""
        if self._dense_pe is None or self._dense_pe.device != self.device:
            with torch.no_grad():
                self._dense_pe = self.prompt_encoder.get_dense_pe()
        return self._dense_pe

    # ------------------------------------------------------------------ image
    def set_image(self, features) -> None:
        """Use one image's ``features`` (the backend's encoder output for it) for the next :meth:`decode` calls."""
        embedding = self._embedding_of(features)
        if embedding.dim() != 4 or embedding.shape[0] != 1:
            raise ValueError(f'expected a 1 x C x h x w image embedding, got {tuple(embedding.shape)}')
        self._features = features
        self._embedding = embedding
        self._shared = None  # computed on the first prompt batch without mask inputs
        self._prepare_image()

    @staticmethod
    def _embedding_of(features) -> torch.Tensor:
        """The ``1 x C x h x w`` image embedding inside one image's features."""
        return features

    def _prepare_image(self) -> None:
        """Per-image work of the family's head that depends on no prompt (none for SAM)."""

    @torch.no_grad()
    def _shared_first_block(self) -> Tuple[torch.Tensor, ...]:
        """Prompt-independent tensors of the first transformer block for mask-free prompts."""
        if self._shared is None:
            block = self.transformer.layers[0]
            no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
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

    # ------------------------------------------------------------------ prompts
    def _encode_prompts(self, batch: SamPromptBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sparse and dense prompt embeddings, as the family's predictor calls its prompt encoder."""
        points = (batch.point_coords, batch.point_labels) if batch.point_coords is not None else None
        return self.prompt_encoder(points=points, boxes=batch.boxes, masks=batch.mask_inputs)

    def _run_stock(self, sparse: torch.Tensor, dense: torch.Tensor, multimask_output: bool):
        """The family's own mask decoder on the image (embedding repeated per prompt inside it)."""
        return self.decoder(image_embeddings=self._embedding, image_pe=self.dense_pe,
                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                            multimask_output=multimask_output)

    @torch.no_grad()
    def decode_stock(self, batch: SamPromptBatch, multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """The family's prompt encoder + mask decoder, unchanged, on a prompt batch."""
        self._check_image()
        sparse, dense = self._encode_prompts(batch)
        return self._run_stock(sparse, dense, multimask_output)

    def _check_image(self) -> None:
        """Refuse to decode before :meth:`set_image`."""
        if self._embedding is None:
            raise RuntimeError('call set_image(features) before decode()')

    @torch.no_grad()
    def decode(self, batch: SamPromptBatch, multimask_output: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Low-res mask logits ``B x K x h' x w'`` and predicted IoUs ``B x K`` of a prompt batch."""
        self._check_image()
        sparse, dense = self._encode_prompts(batch)
        if batch.mask_inputs is not None or not self.can_share:
            return self._run_stock(sparse, dense, multimask_output)
        masks, iou = self._predict_masks_shared(sparse)
        return self._select(masks, iou, multimask_output)

    @staticmethod
    def _select(masks: torch.Tensor, iou: torch.Tensor, multimask_output: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        """``MaskDecoder.forward``'s choice among the mask tokens: the three multimask ones, or the single one."""
        sl = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, sl], iou[:, sl]

    # ------------------------------------------------------------------ shared path
    def _output_tokens(self) -> torch.Tensor:
        """The decoder's output tokens, in its order (``predict_masks``)."""
        dec = self.decoder
        return torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], dim=0)

    def _predict_masks_shared(self, sparse: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``MaskDecoder.predict_masks`` for mask-free prompts, with the first block's image side shared."""
        tr = self.transformer
        keys0, key_pe, t2i_k, t2i_v, i2t_q = self._shared_first_block()
        output_tokens = self._output_tokens().unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse), dim=1)
        query_pe = tokens

        # First block (TwoWayAttentionBlock with skip_first_layer_pe), image side shared.
        block = tr.layers[0]
        queries = block.self_attn(q=tokens, k=tokens, v=tokens)
        queries = block.norm1(queries)
        t2i = block.cross_attn_token_to_image
        q = _split_heads(t2i.q_proj(queries + query_pe), t2i.num_heads)
        attn_out = t2i.out_proj(_merge_heads(self.attend(q, t2i_k, t2i_v)))
        queries = block.norm2(queries + attn_out)
        queries = block.norm3(queries + block.mlp(queries))
        i2t = block.cross_attn_image_to_token
        k = _split_heads(i2t.k_proj(queries + query_pe), i2t.num_heads)
        v = _split_heads(i2t.v_proj(queries), i2t.num_heads)
        attn_out = i2t.out_proj(_merge_heads(self.attend(i2t_q, k, v)))
        keys = block.norm4(keys0 + attn_out)

        # Remaining blocks and the final attention: the family's modules, image PE broadcast.
        for layer in tr.layers[1:]:
            queries, keys = layer(queries=queries, keys=keys, query_pe=query_pe, key_pe=key_pe)
        attn_out = tr.final_attn_token_to_image(q=queries + query_pe, k=keys + key_pe, v=keys)
        hs = tr.norm_final_attn(queries + attn_out)
        b, c = keys.shape[0], keys.shape[2]
        h, w = self._embedding.shape[-2:]
        return self._head(hs, keys.transpose(1, 2).view(b, c, h, w))

    def _head(self, hs: torch.Tensor, src: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``MaskDecoder.predict_masks`` after the transformer: all masks and IoUs of every token."""
        dec = self.decoder
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1:(1 + dec.num_mask_tokens), :]
        upscaled = dec.output_upscaling(src)
        hyper_in = torch.stack([dec.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                                for i in range(dec.num_mask_tokens)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        iou_pred = dec.iou_prediction_head(iou_token_out)
        return masks, iou_pred


class HQPromptBatchDecoder(PromptBatchDecoder):
    """:class:`PromptBatchDecoder` for HQ-SAM's ``MaskDecoderHQ`` (``segment_anything_hq``).

    ``features`` of an image are ``(embedding, [global-attention block outputs])`` as HQ-SAM's
    image encoder returns them. ``hq_token_only``: the HQ token's mask alone (True) or added
    to SAM's chosen mask (False, the predictor's default).
    """

    def __init__(self, sam, hq_token_only: bool = False) -> None:
        super().__init__(sam)
        self.hq_token_only = bool(hq_token_only)
        self._hq_features: Optional[torch.Tensor] = None

    @staticmethod
    def _embedding_of(features) -> torch.Tensor:
        return features[0]

    @torch.no_grad()
    def _prepare_image(self) -> None:
        # MaskDecoderHQ.forward computes this on every call; it depends on the image only.
        dec = self.decoder
        vit_features = self._features[1][0].permute(0, 3, 1, 2)
        self._hq_features = dec.embedding_encoder(self._embedding) + dec.compress_vit_feat(vit_features)

    def _run_stock(self, sparse, dense, multimask_output):
        return self.decoder(image_embeddings=self._embedding, image_pe=self.dense_pe,
                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                            multimask_output=multimask_output, hq_token_only=self.hq_token_only,
                            interm_embeddings=self._features[1])

    def _output_tokens(self) -> torch.Tensor:
        dec = self.decoder
        return torch.cat([dec.iou_token.weight, dec.mask_tokens.weight, dec.hf_token.weight], dim=0)

    def _head(self, hs, src):
        dec = self.decoder
        n = dec.num_mask_tokens  # SAM's 4 mask tokens + the HQ token
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1:(1 + n), :]
        up_sam = dec.output_upscaling(src)
        # The stock decoder adds hq_features repeated per prompt; broadcasting adds the same values.
        up_hq = dec.embedding_maskfeature(up_sam) + self._hq_features
        hyper: List[torch.Tensor] = [dec.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in range(n - 1)]
        hyper.append(dec.hf_mlp(mask_tokens_out[:, n - 1, :]))
        hyper_in = torch.stack(hyper, dim=1)
        b, c, h, w = up_sam.shape
        masks_sam = (hyper_in[:, :n - 1] @ up_sam.view(b, c, h * w)).view(b, -1, h, w)
        masks_hq = (hyper_in[:, n - 1:] @ up_hq.view(b, c, h * w)).view(b, -1, h, w)
        return torch.cat([masks_sam, masks_hq], dim=1), dec.iou_prediction_head(iou_token_out)

    def _select(self, masks, iou, multimask_output):
        """``MaskDecoderHQ.forward``'s choice: SAM's single (or best of 3) mask plus (or replaced by) the HQ mask."""
        n = self.decoder.num_mask_tokens
        if multimask_output:
            iou, best = torch.max(iou[:, 1:n - 1], dim=1)
            iou = iou.unsqueeze(1)
            masks_sam = masks[:, 1:n - 1][torch.arange(masks.size(0), device=masks.device), best].unsqueeze(1)
        else:
            iou = iou[:, 0:1]
            masks_sam = masks[:, 0:1]
        masks_hq = masks[:, n - 1:n]
        return (masks_hq if self.hq_token_only else masks_sam + masks_hq), iou


class Sam2PromptBatchDecoder(PromptBatchDecoder):
    """:class:`PromptBatchDecoder` for the SAM heads of SAM 2 (``SAM2Base``) and of SAM 3's tracker.

    ``features`` of an image are ``{'image_embed': 1 x C x h x w, 'high_res_feats': [s0, s1]}``
    as ``SAM2ImagePredictor`` keeps them (``no_mem_embed`` added, high-resolution maps
    already projected by the decoder's ``conv_s0`` / ``conv_s1``).
    """

    attend = staticmethod(_attend_sdpa)

    @staticmethod
    def _modules(sam):
        return sam.sam_prompt_encoder, sam.sam_mask_decoder

    @staticmethod
    def _embedding_of(features) -> torch.Tensor:
        return features['image_embed']

    def _encode_prompts(self, batch):
        # SAM2ImagePredictor._predict: box corners become points with labels 2 and 3, placed
        # before the other points; the prompt encoder gets no boxes.
        points = (batch.point_coords, batch.point_labels) if batch.point_coords is not None else None
        if batch.boxes is not None:
            corners = batch.boxes.reshape(-1, 2, 2)
            labels = torch.tensor([[2, 3]], dtype=torch.int, device=corners.device).repeat(corners.size(0), 1)
            if points is not None:
                points = (torch.cat([corners, points[0]], dim=1), torch.cat([labels, points[1]], dim=1))
            else:
                points = (corners, labels)
        return self.prompt_encoder(points=points, boxes=None, masks=batch.mask_inputs)

    def _run_stock(self, sparse, dense, multimask_output):
        masks, iou, _, _ = self.decoder(
            image_embeddings=self._embedding, image_pe=self.dense_pe, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=multimask_output,
            # The predictor repeats the image for several prompts; for one, either way is the same.
            repeat_image=True, high_res_features=list(self._features['high_res_feats']))
        return masks, iou

    def _output_tokens(self) -> torch.Tensor:
        dec = self.decoder
        tokens = [dec.iou_token.weight, dec.mask_tokens.weight]
        if dec.pred_obj_scores:
            tokens.insert(0, dec.obj_score_token.weight)
        return torch.cat(tokens, dim=0)

    def _head(self, hs, src):
        dec = self.decoder
        s = 1 if dec.pred_obj_scores else 0
        iou_token_out = hs[:, s, :]
        mask_tokens_out = hs[:, s + 1:(s + 1 + dec.num_mask_tokens), :]
        if not dec.use_high_res_features:
            upscaled = dec.output_upscaling(src)
        else:
            dc1, ln1, act1, dc2, act2 = dec.output_upscaling
            feat_s0, feat_s1 = self._features['high_res_feats']
            upscaled = act1(ln1(dc1(src) + feat_s1))
            upscaled = act2(dc2(upscaled) + feat_s0)
        hyper_in = torch.stack([dec.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                                for i in range(dec.num_mask_tokens)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, dec.iou_prediction_head(iou_token_out)

    def _select(self, masks, iou, multimask_output):
        """``MaskDecoder.forward``'s choice, including its fall-back to the best multimask output when unstable."""
        dec = self.decoder
        if multimask_output:
            return masks[:, 1:], iou[:, 1:]
        if dec.dynamic_multimask_via_stability and not dec.training:
            return dec._dynamic_multimask_via_stability(masks, iou)
        return masks[:, 0:1], iou[:, 0:1]
