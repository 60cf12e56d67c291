"""Each SAM family's engine masks equal its own predictor's, object by object, for every prompt and combination.

HQ-SAM (``segment_anything_hq.SamPredictor``, ``hq_token_only`` False and True), SAM 2.1
(``SAM2ImagePredictor``) and SAM 3 (``Sam3Processor`` + ``predict_inst``), each as its small
random-weight ``tiny_test`` architecture (the family's exact frames, tokens and decoder
flags), on 3 ships of a real DOTA crop (prompt batches of 2: one full, one ragged). The
only allowed differences are floating-point ties at the 0 threshold (``DEFAULT_REL_TOL``,
as for SAM in test_engine_faithful.py).

Specs: the six basic prompts and one combination of each kind (box + CP, box + mask,
CP + mask, box + CP + mask); the families handle each kind by one code path, which the
geometry of the box (H-Box or RH-Box, R-Box region) does not change. SAM's own test runs
all thirteen.

Each family's image goes through its reference predictor once, and through the engine's
own encoder on the first spec; later specs reuse the engine's embedding (the encoder does
not depend on the prompt), which keeps these tests within the time budget.
"""
import pytest

from samrs_mm.annotate.engine import AnnotateRequest, build_engine
from samrs_mm.annotate.families.reference import compare_with_predictor, reference_predictor
from tests.annotate.test_engine_faithful import check

OBJECTS = 3
SPECS = ['cp', 'hbox', 'rhbox', 'hbox_mask', 'rhbox_mask', 'rbox_mask',
         'hbox+cp', 'rhbox+rbox_mask', 'cp+rbox_mask', 'rhbox+cp+rbox_mask']


class _EncodeOnce:
    """The engine's ``encode`` for one image, computed on the first call and reused after (the image is checked)."""

    def __init__(self):
        self.image = self.features = None

    def wrap(self, backend):
        encode = backend.encode

        def cached(images):
            if self.features is None or len(images) != 1 or images[0] is not self.image:
                self.features, self.image = encode(images), images[0]
            return self.features
        backend.encode = cached


@pytest.fixture(scope='module')
def family_case(tiny_family_model, dota_crop):
    """``get(family, hq_token_only)``: (model, image, instances, reference predictor, encoder cache), made once."""
    cache = {}
    image, instances = dota_crop

    def get(family, hq_token_only=False):
        key = (family, hq_token_only)
        if key not in cache:
            model = tiny_family_model(family)
            engine = build_engine(dict(backend=family, hq_token_only=hq_token_only), model=model)
            cache[key] = (model, image, instances[:OBJECTS], reference_predictor(engine, image), _EncodeOnce())
        return cache[key]
    return get


def run(family_case, family, spec, hq_token_only=False, **cfg):
    model, image, instances, reference, once = family_case(family, hq_token_only)
    engine = build_engine(dict(backend=family, prompt=spec, prompt_batch_size=2, hq_token_only=hq_token_only, **cfg),
                          model=model)
    once.wrap(engine.backend)
    report = compare_with_predictor(engine, image, instances, source='dota', predictor=reference)
    check(report, OBJECTS)
    return report


@pytest.mark.parametrize('spec', SPECS)
def test_sam_hq_every_prompt(spec, family_case):
    run(family_case, 'sam_hq', spec)


@pytest.mark.parametrize('spec', ['cp', 'hbox', 'rhbox+cp+rbox_mask'])
def test_sam_hq_token_only(spec, family_case):
    run(family_case, 'sam_hq', spec, hq_token_only=True)


@pytest.mark.parametrize('spec', SPECS)
def test_sam2_every_prompt(spec, family_case):
    run(family_case, 'sam2', spec)


@pytest.mark.parametrize('spec', SPECS)
def test_sam3_every_prompt(spec, family_case, sam3_components):
    run(family_case, 'sam3', spec)


@pytest.mark.parametrize('family', ['sam_hq', 'sam2', 'sam3'])
@pytest.mark.parametrize('spec', ['cp', 'hbox'])
def test_multimask(family, spec, family_case, sam3_components):
    # SAM 2 / SAM 3: the best of three by predicted IoU; HQ-SAM: its decoder's own choice.
    run(family_case, family, spec, multimask_output=True)


@pytest.mark.parametrize('family', ['sam2', 'sam3'])
def test_image_batch_matches_single_images(family, tiny_family_model, dota_crop, deepforest_sample):
    """Two images through the family's encoder together give the single-image masks (up to ties)."""
    engine = build_engine(dict(backend=family, prompt='hbox', image_batch_size=2, prompt_batch_size=8),
                          model=tiny_family_model(family))
    reqs = [AnnotateRequest(dota_crop[0], dota_crop[1][:3], 'dota', 'crop'),
            AnnotateRequest(deepforest_sample[0], deepforest_sample[1][:3], 'voc', 'forest')]
    together = list(engine.annotate_many(reqs))
    alone = [engine.annotate(r.image, r.instances, r.source) for r in reqs]
    assert [len(x) for x in together] == [3, 3]
    for t_list, a_list in zip(together, alone):
        for t, a in zip(t_list, a_list):
            assert t.index == a.index and a.area > 0
            assert (t.decode() != a.decode()).sum() <= 1e-5 * a.area + 1


def test_sam3_reference_refuses_a_predictor_that_skips_hole_filling(family_case, monkeypatch):
    """Where SAM 3's predictor cannot label regions (on CPU: no scikit-image) it skips its hole filling
    with a warning; the comparison says so instead of reporting the engine unfaithful."""
    import sam3.perflib.connected_components as cc

    def unavailable(_):
        raise ImportError("No module named 'skimage'")
    monkeypatch.setattr(cc, 'connected_components', unavailable)
    model, image, instances, reference, once = family_case('sam3')
    engine = build_engine(dict(backend='sam3', prompt='hbox'), model=model)
    once.wrap(engine.backend)
    with pytest.raises(RuntimeError, match='skipped its hole filling.*install scikit-image'):
        compare_with_predictor(engine, image, instances[:1], source='dota', predictor=reference)
