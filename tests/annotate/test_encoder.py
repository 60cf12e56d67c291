"""The chunked image encoder gives SAM's image embeddings bit for bit, with less memory."""
import pytest
import torch

from samrs_mm.annotate.engine import build_engine
from samrs_mm.annotate.engine.encoder import ChunkedImageEncoder


@pytest.mark.parametrize('heads', [1, 2, None])
def test_equals_stock_encoder_on_a_real_image(heads, tiny_sam, deepforest_sample):
    from segment_anything import SamPredictor
    image, _ = deepforest_sample
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(image)
    engine = build_engine(dict(encoder_heads_per_chunk=heads), model=tiny_sam)
    ours = engine.backend.encode([image])
    assert torch.equal(ours, predictor.features)


def test_two_images_at_once(tiny_sam):
    encoder = ChunkedImageEncoder(tiny_sam.image_encoder, 1)
    x = torch.randn(2, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(encoder(x), tiny_sam.image_encoder(x))


def test_auto_and_bad_settings(tiny_sam):
    assert build_engine({}, model=tiny_sam).backend.image_encoder.heads_per_chunk == 1  # CPU
    with pytest.raises(ValueError, match='encoder_heads_per_chunk'):
        build_engine(dict(encoder_heads_per_chunk=0), model=tiny_sam)


def test_other_encoders_run_as_they_are():
    stub = torch.nn.Conv2d(3, 4, 16, 16)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(ChunkedImageEncoder(stub, 1)(x), stub(x))
