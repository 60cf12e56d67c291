"""PromptBatchDecoder gives Sam.mask_decoder's outputs while sharing the first block's image side."""
import pytest
import torch

from samrs_mm.annotate.engine.decoder import PromptBatchDecoder
from samrs_mm.annotate.engine.prompts import SamPromptBatch


def stock(sam, emb, batch, multimask):
    points = (batch.point_coords, batch.point_labels) if batch.point_coords is not None else None
    sparse, dense = sam.prompt_encoder(points=points, boxes=batch.boxes, masks=batch.mask_inputs)
    return sam.mask_decoder(image_embeddings=emb, image_pe=sam.prompt_encoder.get_dense_pe(),
                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                            multimask_output=multimask)


def make_batch(kind, n, gen):
    xy = torch.rand(n, 2, generator=gen) * 900
    wh = torch.rand(n, 2, generator=gen) * 100 + 5
    boxes = torch.cat([xy, xy + wh], 1) if 'box' in kind else None
    coords = (xy + wh / 2)[:, None] if 'point' in kind else None
    labels = torch.ones(n, 1, dtype=torch.int) if 'point' in kind else None
    masks = torch.randn(n, 1, 256, 256, generator=gen) * 1000 if 'mask' in kind else None
    return SamPromptBatch(coords, labels, boxes, masks)


@pytest.mark.parametrize('kind', ['box', 'point', 'box+point', 'mask', 'box+mask'])
@pytest.mark.parametrize('multimask', [False, True])
def test_equals_stock_decoder(kind, multimask, tiny_sam):
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(1, 32, 64, 64, generator=gen)
    dec = PromptBatchDecoder(tiny_sam)
    dec.set_image(emb)
    assert dec.can_share
    with torch.no_grad():
        for n in (1, 7):
            batch = make_batch(kind, n, gen)
            ours_low, ours_iou = dec.decode(batch, multimask)
            ref_low, ref_iou = stock(tiny_sam, emb, batch, multimask)
            assert ours_low.shape == ref_low.shape == (n, 3 if multimask else 1, 256, 256)
            # Same operations in the same order on the same shapes: bit for bit equal (the
            # broadcast image side gives the same products as the repeated copies).
            assert torch.equal(ours_low, ref_low)
            assert torch.equal(ours_iou, ref_iou)


def test_batched_rows_equal_single_prompts(tiny_sam):
    """Each prompt's row of a batch equals that prompt decoded alone (the predictor's way)."""
    gen = torch.Generator().manual_seed(1)
    emb = torch.randn(1, 32, 64, 64, generator=gen)
    dec = PromptBatchDecoder(tiny_sam)
    dec.set_image(emb)
    batch = make_batch('box+point', 9, gen)
    with torch.no_grad():
        low, iou = dec.decode(batch)
        for i in range(9):
            one = SamPromptBatch(batch.point_coords[i:i + 1], batch.point_labels[i:i + 1], batch.boxes[i:i + 1], None)
            ref_low, ref_iou = stock(tiny_sam, emb, one, False)
            assert (low[i] - ref_low[0]).abs().max().item() <= 1e-6 * ref_low.abs().max().item()


def test_needs_an_image(tiny_sam):
    dec = PromptBatchDecoder(tiny_sam)
    with pytest.raises(RuntimeError, match='set_image'):
        dec.decode(make_batch('box', 1, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match='1 x C x h x w'):
        dec.set_image(torch.zeros(2, 32, 64, 64))


def family_decoder(family, model, hq_token_only=False):
    """A family's batched decoder with random image features of the family's shapes; the mask-input size."""
    from samrs_mm.annotate.engine.decoder import HQPromptBatchDecoder, Sam2PromptBatchDecoder
    gen = torch.Generator().manual_seed(3)
    if family == 'sam_hq':
        dec = HQPromptBatchDecoder(model, hq_token_only)
        dec.set_image((torch.randn(1, 32, 64, 64, generator=gen), [torch.randn(1, 64, 64, 32, generator=gen)]))
        return dec, 256
    heads = model if family == 'sam2' else model.inst_interactive_predictor.model
    e = heads.sam_image_embedding_size  # 64 (SAM 2: 1024 / 16), 72 (SAM 3: 1008 / 14)
    dec = Sam2PromptBatchDecoder(heads)
    dec.set_image({'image_embed': torch.randn(1, 32, e, e, generator=gen),
                   'high_res_feats': [torch.randn(1, 4, 4 * e, 4 * e, generator=gen),
                                      torch.randn(1, 8, 2 * e, 2 * e, generator=gen)]})
    return dec, 4 * e


@pytest.mark.parametrize('family, hq_token_only', [('sam_hq', False), ('sam_hq', True), ('sam2', False),
                                                   ('sam3', False)])
@pytest.mark.parametrize('multimask', [False, True])
def test_family_decoders_equal_their_stock_decoders(family, hq_token_only, multimask, tiny_family_model):
    """HQ-SAM's, SAM 2's and SAM 3's shared-work decoders give their own mask decoder's outputs bit for bit."""
    dec, size = family_decoder(family, tiny_family_model(family), hq_token_only)
    assert dec.can_share
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for kind, n in (('box+point', 5), ('point', 1), ('box+mask', 3)):
            batch = make_batch(kind, n, gen)
            if batch.mask_inputs is not None:
                batch.mask_inputs = torch.randn(n, 1, size, size, generator=gen) * 1000
            ours_low, ours_iou = dec.decode(batch, multimask)
            ref_low, ref_iou = dec.decode_stock(batch, multimask)
            k = 3 if multimask and family != 'sam_hq' else 1  # HQ-SAM's decoder picks one mask itself
            assert ours_low.shape == ref_low.shape == (n, k, size, size)
            assert torch.equal(ours_low, ref_low) and torch.equal(ours_iou, ref_iou)
