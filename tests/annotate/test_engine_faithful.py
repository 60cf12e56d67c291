"""The engine's masks equal SamPredictor's, object by object, for every prompt and combination.

Real images of ../shared/data, the small random-weight test SAM (same 1024 frame, padding,
256 x 256 mask inputs and post-processing as the official models). The only allowed
differences are floating-point ties at the 0 threshold: pixels whose reference logit is
within ``DEFAULT_REL_TOL`` (1e-5) of the logit range from 0 (see docs/annotate_engine.md).
"""
import pytest

from samrs_mm.annotate.engine import build_engine
from samrs_mm.annotate.families.reference import compare_with_predictor

# Every basic prompt of the paper and the combinations of one box, CP and one mask prompt.
ROTATED_SPECS = ['cp', 'hbox', 'rhbox', 'hbox_mask', 'rhbox_mask', 'rbox_mask',
                 'hbox+cp', 'rhbox+cp', 'hbox+hbox_mask', 'rhbox+rbox_mask', 'cp+rbox_mask',
                 'rhbox+cp+rbox_mask', 'hbox+cp+rhbox_mask']


@pytest.fixture(scope='module')
def predictors(tiny_sam):
    """One SamPredictor per image, image set once (the reference side)."""
    from segment_anything import SamPredictor
    cache = {}

    def get(key, image):
        if key not in cache:
            pred = SamPredictor(tiny_sam)
            pred.set_image(image)
            cache[key] = pred
        return cache[key]
    return get


def check(report, min_objects):
    """Faithful within the tie tolerance, on non-trivial masks."""
    assert report.objects >= min_objects
    assert report.mask_pixels > 0
    assert report.passed, report.row()
    # Ties are rare: at most 1 pixel in 10^5 differs.
    assert report.pixels_differing <= 1e-5 * report.mask_pixels + 1, report.row()


@pytest.mark.parametrize('spec', ROTATED_SPECS)
def test_dota_every_prompt(spec, tiny_sam, dota_crop, predictors):
    image, instances = dota_crop
    engine = build_engine(dict(prompt=spec, prompt_batch_size=5), model=tiny_sam)
    report = compare_with_predictor(engine, image, instances, source='dota',
                                    predictor=predictors('dota', image))
    check(report, 16)


@pytest.mark.parametrize('spec', ['auto', 'rhbox', 'rbox_mask', 'cp'])
def test_isaid_paper_prompts(spec, tiny_sam, isaid_sample, predictors):
    image, instances = isaid_sample
    engine = build_engine(dict(prompt=spec, prompt_batch_size='auto'), model=tiny_sam)
    report = compare_with_predictor(engine, image, instances, source='isaid',
                                    predictor=predictors('isaid', image))
    check(report, 16)


@pytest.mark.parametrize('spec', ['hbox', 'hbox+cp', 'rbox_mask'])
def test_horizontal_only_source(spec, tiny_sam, deepforest_sample, predictors):
    # 61 boxes: several prompt batches, including a ragged last one.
    image, instances = deepforest_sample
    engine = build_engine(dict(prompt=spec, prompt_batch_size=8), model=tiny_sam)
    report = compare_with_predictor(engine, image, instances, source='voc',
                                    predictor=predictors('deepforest', image))
    check(report, 61)


@pytest.mark.parametrize('spec', ['cp', 'hbox'])
def test_multimask_best_of_three(spec, tiny_sam, dota_crop, predictors):
    image, instances = dota_crop
    engine = build_engine(dict(prompt=spec, multimask_output=True, prompt_batch_size=4), model=tiny_sam)
    report = compare_with_predictor(engine, image, instances, source='dota',
                                    predictor=predictors('dota', image))
    check(report, 16)


def test_image_batch_matches_single_images(tiny_sam, dota_crop, deepforest_sample):
    """Two images through the encoder together give the single-image masks (up to ties)."""
    from samrs_mm.annotate.engine import AnnotateRequest
    engine = build_engine(dict(prompt='hbox', image_batch_size=2, prompt_batch_size=8), model=tiny_sam)
    reqs = [AnnotateRequest(dota_crop[0], dota_crop[1], 'dota', 'crop'),
            AnnotateRequest(deepforest_sample[0], deepforest_sample[1][:10], 'voc', 'forest')]
    together = list(engine.annotate_many(reqs))
    alone = [engine.annotate(r.image, r.instances, r.source) for r in reqs]
    assert [len(x) for x in together] == [16, 10]
    for t_list, a_list in zip(together, alone):
        for t, a in zip(t_list, a_list):
            assert t.index == a.index
            diff = (t.decode() != a.decode()).sum()
            assert diff <= 1e-5 * max(a.area, 1) + 1
