"""Building SAM: random weights only when asked, clear errors for bad checkpoints and types."""
import pytest
import torch

from samrs_mm.annotate.sam_models import SAM_MODEL_TYPES, SamBuildError, build_sam_model, register_sam_model


def test_needs_a_checkpoint_or_the_random_flag():
    with pytest.raises(SamBuildError, match='no SAM checkpoint given.*random_init=True'):
        build_sam_model('vit_b')
    with pytest.raises(SamBuildError, match='not both'):
        build_sam_model('tiny_test', checkpoint='x.pth', random_init=True)


def test_unknown_model_type():
    with pytest.raises(SamBuildError, match="unknown SAM model_type 'vit_x'"):
        build_sam_model('vit_x', random_init=True)
    assert {'vit_h', 'vit_l', 'vit_b', 'tiny_test'} <= set(SAM_MODEL_TYPES)


def test_missing_checkpoint_names_the_path(tmp_path):
    path = tmp_path / 'nope' / 'sam_vit_h.pth'
    with pytest.raises(SamBuildError, match=f'SAM checkpoint not found: {path}'):
        build_sam_model('vit_h', checkpoint=str(path))


def test_unreadable_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'broken.pth'
    path.write_bytes(b'not a torch file')
    with pytest.raises(SamBuildError, match=f'cannot read SAM checkpoint {path}'):
        build_sam_model('tiny_test', checkpoint=str(path))


def test_official_weights_only_download_when_asked():
    with pytest.raises(SamBuildError, match='download=True'):
        build_sam_model('vit_b', checkpoint='official')


def test_random_weights_are_seeded_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_sam_model('tiny_test', random_init=True, seed=5)
    assert torch.equal(torch.rand(1), expected_next)
    b = build_sam_model('tiny_test', random_init=True, seed=5)
    c = build_sam_model('tiny_test', random_init=True, seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert not a.training


def test_checkpoint_round_trip(tmp_path, tiny_sam):
    path = tmp_path / 'tiny.pth'
    torch.save(tiny_sam.state_dict(), path)
    loaded = build_sam_model('tiny_test', checkpoint=str(path))
    ref = tiny_sam.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in loaded.state_dict().items())


def test_wrong_model_type_is_named(tmp_path, tiny_sam):
    # A state dict whose image encoder is 768 wide (ViT-B) given for the test architecture.
    state = dict(tiny_sam.state_dict())
    state['image_encoder.patch_embed.proj.weight'] = torch.zeros(768, 3, 16, 16)
    path = tmp_path / 'sam_vit_b.pth'
    torch.save(state, path)
    with pytest.raises(SamBuildError, match=r"does not fit SAM model_type='tiny_test'.*looks like a SAM vit_b checkpoint"):
        build_sam_model('tiny_test', checkpoint=str(path))


def test_register_a_variant():
    from samrs_mm.annotate.sam_models import build_tiny_test_sam
    register_sam_model('tiny_variant_for_test', build_tiny_test_sam, force=True)
    model = build_sam_model('tiny_variant_for_test', random_init=True)
    assert model.image_encoder.img_size == 1024
    with pytest.raises(SamBuildError, match='already registered'):
        register_sam_model('tiny_variant_for_test', build_tiny_test_sam)
