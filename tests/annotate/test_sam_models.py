"""Building SAM: random weights only when asked, clear errors for bad checkpoints and types."""
import pytest
import torch

from samrs_mm.annotate.families.models import SAM_MODEL_TYPES, SamBuildError, build_sam_model, register_sam_model


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
    with pytest.raises(SamBuildError,
                       match=r"does not fit SAM model_type='tiny_test'.*looks like a SAM vit_b checkpoint"):
        build_sam_model('tiny_test', checkpoint=str(path))


def test_register_a_variant():
    from samrs_mm.annotate.families.models import build_tiny_test_sam
    register_sam_model('tiny_variant_for_test', build_tiny_test_sam, force=True)
    model = build_sam_model('tiny_variant_for_test', random_init=True)
    assert model.image_encoder.img_size == 1024
    with pytest.raises(SamBuildError, match='already registered'):
        register_sam_model('tiny_variant_for_test', build_tiny_test_sam)


# ---------------------------------------------------------------- the other families
FAMILIES = ('sam_hq', 'sam2', 'sam3')


@pytest.mark.parametrize('family', FAMILIES)
def test_family_types_and_errors(family):
    from samrs_mm.annotate.families.models import FAMILY_NAMES, OFFICIAL_CHECKPOINTS, model_types
    name = FAMILY_NAMES[family]
    assert 'tiny_test' in model_types(family) and set(OFFICIAL_CHECKPOINTS[family]) < set(model_types(family))
    with pytest.raises(SamBuildError, match=f"unknown {name} model_type 'vit_x'; choose one of .*tiny_test"):
        build_sam_model('vit_x', random_init=True, family=family)
    official = next(iter(OFFICIAL_CHECKPOINTS[family]))
    with pytest.raises(SamBuildError, match='download=True'):
        build_sam_model(official, checkpoint='official', family=family)
    with pytest.raises(SamBuildError, match=f'no {name} checkpoint given.*random_init=True'):
        build_sam_model(official, family=family)
    with pytest.raises(SamBuildError, match="unknown SAM family 'sam9'"):
        build_sam_model('tiny_test', random_init=True, family='sam9')


def test_official_checkpoint_files():
    from samrs_mm.annotate.families.models import OFFICIAL_CHECKPOINTS
    assert OFFICIAL_CHECKPOINTS['sam2']['hiera_b+'].endswith('/092824/sam2.1_hiera_base_plus.pt')
    assert OFFICIAL_CHECKPOINTS['sam_hq']['vit_l'].endswith('/lkeab/hq-sam/resolve/main/sam_hq_vit_l.pth')
    assert OFFICIAL_CHECKPOINTS['sam3']['sam3'].endswith('/facebook/sam3/resolve/main/sam3.pt')


def test_checkpoints_are_recognised_by_family_and_size():
    from samrs_mm.annotate.families.models import describe_checkpoint

    def vit(width, hq=False):
        state = {'image_encoder.patch_embed.proj.weight': torch.zeros(width, 3, 16, 16), 'mask_decoder.x': 0}
        if hq:
            state['mask_decoder.hf_token.weight'] = 0
        return state

    def hiera(width, blocks, v21=True):
        state = {'image_encoder.trunk.patch_embed.proj.weight': torch.zeros(width, 3, 7, 7)}
        state.update({f'image_encoder.trunk.blocks.{i}.norm1.weight': 0 for i in range(blocks)})
        if v21:
            state['no_obj_embed_spatial'] = 0
        return state
    assert describe_checkpoint(vit(1280)) == 'a SAM vit_h checkpoint'
    assert describe_checkpoint(vit(1024, hq=True)) == 'an HQ-SAM vit_l checkpoint'
    assert describe_checkpoint({'image_encoder.patch_embed.seq.0.c.weight': 0, 'mask_decoder.hf_token.weight': 0}) \
        == 'an HQ-SAM vit_tiny (TinyViT) checkpoint'
    assert describe_checkpoint(hiera(96, 12)) == 'a SAM 2.1 hiera_t checkpoint'
    assert describe_checkpoint(hiera(96, 16)) == 'a SAM 2.1 hiera_s checkpoint'
    assert describe_checkpoint(hiera(144, 48, v21=False)) == 'a SAM 2.0 hiera_l checkpoint'
    assert describe_checkpoint({'detector.backbone.x': 0, 'tracker.y': 0}) == 'a SAM 3 checkpoint'
    assert describe_checkpoint({'something.else': 0}) is None


@pytest.mark.parametrize('family, given, looks', [
    ('sam_hq', 'sam2', r'a SAM 2.1 checkpoint \(Hiera width 8, 5 blocks\)'),
    ('segment_anything', 'sam_hq', 'an HQ-SAM checkpoint'),
    ('sam2', 'sam3', 'a SAM 3 checkpoint'),
])
def test_checkpoint_of_another_family_is_named(family, given, looks, tmp_path, tiny_family_model):
    from samrs_mm.annotate.families.models import FAMILY_NAMES
    path = tmp_path / f'{given}.pt'
    torch.save(tiny_family_model(given).state_dict(), path)
    with pytest.raises(SamBuildError, match=rf"{path} does not fit {FAMILY_NAMES[family]} model_type='tiny_test'"
                                            rf".*looks like {looks}"):
        build_sam_model('tiny_test', checkpoint=str(path), family=family)


def test_release_layouts_load(tmp_path, tiny_family_model):
    """SAM 2 files wrap the weights in 'model'; sam3.pt keeps detector.* and tracker.* keys (text encoder dropped)."""
    sam2 = tiny_family_model('sam2').state_dict()
    torch.save({'model': sam2}, tmp_path / 'sam2.pt')
    loaded = build_sam_model('tiny_test', checkpoint=str(tmp_path / 'sam2.pt'), family='sam2').state_dict()
    assert all(torch.equal(v, sam2[k]) for k, v in loaded.items())

    sam3 = tiny_family_model('sam3').state_dict()
    release = {'detector.backbone.language_backbone.encoder.weight': torch.zeros(3),
               'detector.transformer.decoder.bias': torch.zeros(2)}
    for key, value in sam3.items():
        if key.startswith('backbone.'):
            release['detector.' + key] = value
        else:
            release[key.replace('inst_interactive_predictor.model.', 'tracker.')] = value
    torch.save({'model': release}, tmp_path / 'sam3.pt')
    loaded = build_sam_model('tiny_test', checkpoint=str(tmp_path / 'sam3.pt'), family='sam3').state_dict()
    assert loaded.keys() == sam3.keys() and all(torch.equal(v, sam3[k]) for k, v in loaded.items())
