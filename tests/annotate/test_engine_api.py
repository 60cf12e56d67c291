"""The engine's API for the annotate tools: config, inputs, outputs, the box backend, batch sizing."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_mm.annotate.engine import ENGINE_DEFAULTS, AnnotateRequest, EngineConfigError, build_engine
from samrs_mm.annotate.engine.batch_size import PromptBatchSizer
from samrs_mm.annotate.engine.prompts import PromptError
from samrs_mm.annotate.families.models import SamBuildError
from samrs_mm.structures.boxes import BoxError
from samrs_mm.structures.record import Instance


def blank(h=64, w=80):
    return np.zeros((h, w, 3), np.uint8)


# ---------------------------------------------------------------- config
@pytest.mark.parametrize('cfg, message', [
    (dict(backend='sam9'), "unknown backend 'sam9'; choose one of (?=.*sam_hq)(?=.*sam2)(?=.*sam3)"),
    (dict(hq_token_only=True), "hq_token_only=True applies to backend='sam_hq' only"),
    (dict(backend='sam_hq', hq_token_only='yes'), 'hq_token_only must be True or False'),
    (dict(prompt_batch_size=0), 'prompt_batch_size'),
    (dict(prompt_batch_size='fast'), 'prompt_batch_size'),
    (dict(image_batch_size=0), 'image_batch_size'),
    (dict(promt='hbox'), r"unknown engine config key\(s\) \['promt'\]"),
])
def test_config_errors(cfg, message):
    with pytest.raises(EngineConfigError, match=message):
        build_engine(cfg)


def test_bad_prompt_fails_before_building_a_model():
    with pytest.raises(PromptError, match='two box prompts'):
        build_engine(dict(prompt='hbox+rhbox', model_type='vit_h', random_init=True))


def test_sam_without_checkpoint_is_refused():
    with pytest.raises(SamBuildError, match='random_init=True'):
        build_engine(dict(model_type='tiny_test'))


@pytest.mark.parametrize('backend, name', [('sam2', 'SAM 2.1'), ('sam3', 'SAM 3'), ('sam_hq', 'HQ-SAM')])
def test_family_model_types_are_checked(backend, name):
    # SAM's default model type is not another family's; the message lists the family's types.
    with pytest.raises(SamBuildError, match=f"unknown {name} model_type 'vit_x'; choose one of"):
        build_engine(dict(backend=backend, model_type='vit_x', random_init=True))
    with pytest.raises(SamBuildError, match=f'no {name} checkpoint given'):
        build_engine(dict(backend=backend, model_type='tiny_test'))


def test_defaults_are_documented_keys():
    assert ENGINE_DEFAULTS['prompt'] == 'auto' and ENGINE_DEFAULTS['prompt_batch_size'] == 'auto'
    engine = build_engine({'type': 'ignored-registry-key', 'backend': 'box'})
    assert engine.cfg['backend'] == 'box'


# ---------------------------------------------------------------- inputs
def test_image_must_be_rgb_uint8(tiny_sam):
    engine = build_engine(dict(prompt='hbox'), model=tiny_sam)
    inst = [Instance('a', hbox=np.array([1., 1., 9., 9.]))]
    with pytest.raises(ValueError, match=r'scene\.tif: .*uint16 array of shape \(64, 80\)'):
        engine.annotate(np.zeros((64, 80), np.uint16), inst, name='scene.tif')


def test_box_outside_the_image_names_the_line(tiny_sam):
    engine = build_engine(dict(prompt='hbox'), model=tiny_sam)
    inst = [Instance('a', hbox=np.array([1., 1., 9., 9.])),
            Instance('b', hbox=np.array([90., 1., 99., 9.]), origin='P0001.txt:5')]
    with pytest.raises(BoxError, match=r'P0001\.txt:5: hbox .* lies outside the 80x64 image'):
        engine.annotate(blank(), inst)


def test_no_instances_no_work(tiny_sam):
    engine = build_engine(dict(prompt='hbox'), model=tiny_sam)
    assert engine.annotate(blank(), []) == []
    assert engine.backend.timings['encoder'] == 0.0  # the encoder was skipped


# ---------------------------------------------------------------- outputs
def test_object_masks_are_consistent(tiny_sam, deepforest_sample):
    image, instances = deepforest_sample
    engine = build_engine(dict(prompt='hbox', prompt_batch_size=16), model=tiny_sam)
    streamed = list(engine.iter_annotate(image, instances[:20], source='voc', name='OSBS_029.png'))
    assert [m.index for m in streamed] == list(range(20))
    for m in streamed:
        full = m.decode()
        assert full.shape == (400, 400) and m.rle['size'] == [400, 400]
        assert isinstance(m.rle['counts'], str)
        assert m.area == full.sum() == mask_utils.area({'size': [400, 400], 'counts': m.rle['counts'].encode()})
        coco = {'size': [400, 400], 'counts': m.rle['counts'].encode()}
        np.testing.assert_array_equal(m.bbox, mask_utils.toBbox(coco))
        assert m.prompt == 'hbox' and np.isfinite(m.score)
        assert m.empty == (m.area == 0)


def test_annotate_record_loads_the_image(tiny_sam, shared_data):
    import os.path as osp

    from samrs_mm.sources import build_source
    rec = build_source(type='dior', ann_dir=osp.join(shared_data, 'dior/Annotations/Oriented Bounding Boxes'))[0]
    engine = build_engine(dict(prompt='auto'), model=tiny_sam)
    masks = engine.annotate_record(rec)
    assert len(masks) == 1 and masks[0].rle['size'] == [800, 800]
    assert engine.prompt_for(rec.source).name == 'hbox'
    assert engine.prompt_for('fair1m').name == 'rhbox'


# ---------------------------------------------------------------- box backend
def test_box_backend_fills_boxes_exactly():
    engine = build_engine(dict(backend='box', prompt='hbox'))
    inst = [Instance('a', hbox=np.array([2., 3., 12., 8.])), Instance('b', hbox=np.array([70., 50., 90., 70.]))]
    a, b = engine.annotate(blank(), inst)
    assert (a.area, a.bbox, a.score, a.prompt) == (50, (2.0, 3.0, 10.0, 5.0), 1.0, 'hbox')
    assert (b.area, b.bbox) == (10 * 14, (70.0, 50.0, 10.0, 14.0))  # clipped to the 80 x 64 image


def test_box_backend_regions():
    # A 20 x 10 box turned by 90 degrees around (40, 30): a 10 wide, 20 tall rectangle.
    inst = [Instance('ship', hbox=np.array([30., 20., 50., 40.]), rbox=np.array([40., 30., 20., 10., np.pi / 2]),
                     quad=np.array([[35., 20.], [45., 20.], [45., 40.], [35., 40.]]))]
    rbox = build_engine(dict(backend='box', prompt='rbox')).annotate(blank(), inst)[0]
    assert rbox.area == 200 and rbox.bbox == (35.0, 20.0, 10.0, 20.0)
    assert build_engine(dict(backend='box', prompt='rbox_mask')).annotate(blank(), inst)[0].rle == rbox.rle
    assert build_engine(dict(backend='box', prompt='quad')).annotate(blank(), inst)[0].rle == rbox.rle
    assert build_engine(dict(backend='box', prompt='hbox')).annotate(blank(), inst)[0].area == 400
    rh = build_engine(dict(backend='box', prompt='auto')).annotate(blank(), inst, source='fair1m')[0]
    assert rh.prompt == 'rhbox' and rh.bbox == (35.0, 20.0, 10.0, 20.0)


@pytest.mark.parametrize('prompt', ['cp', 'hbox+cp', 'hbox+rbox_mask'])
def test_box_backend_needs_one_region(prompt):
    with pytest.raises(PromptError, match='fills one region'):
        build_engine(dict(backend='box', prompt=prompt))


def test_annotate_many_keeps_order_and_groups(tiny_sam):
    engine = build_engine(dict(prompt='hbox', image_batch_size=2), model=tiny_sam)
    boxes = [[1., 1., 20., 20.], [30., 10., 60., 40.]]
    reqs = [AnnotateRequest(blank(), [Instance('a', hbox=np.array(b)) for b in boxes[:k]], name=str(k))
            for k in (2, 0, 1)]
    out = list(engine.annotate_many(reqs))
    assert [len(o) for o in out] == [2, 0, 1]


# ---------------------------------------------------------------- prompt batch size
def run_sizer(sizer, per_prompt_ms, prompts=400, key='hbox'):
    """Feed fake timings (ms per prompt by batch size) until the sizer decides."""
    sizes = []
    while sizer.chosen(key) is None and prompts > 0:
        size = sizer.next_size(key)
        sizes.append(size)
        sizer.record(key, size, size * per_prompt_ms[size] / 1000)
        prompts -= size
    return sizes


def test_auto_batch_size_picks_the_fastest_per_prompt():
    sizer = PromptBatchSizer('auto', max_size=64, candidates=(1, 2, 4, 8, 16, 32, 64))
    ms = {1: 100, 2: 98, 4: 95, 8: 150, 16: 150, 32: 150, 64: 150}  # the CPU profile of the issue
    sizes = run_sizer(sizer, ms)
    # Each candidate twice, and batch 8 (over 1.25x the best) ends the search upwards.
    assert sizes == [1, 1, 2, 2, 4, 4, 8, 8]
    assert sizer.chosen('hbox') == 4 and sizer.next_size('hbox') == 4
    assert sizer.measurements('hbox')[4] == pytest.approx(0.095)
    assert sizer.chosen('hbox_mask') is None  # each prompt kind is measured on its own


def test_auto_batch_size_goes_up_on_gpu_like_profiles():
    sizer = PromptBatchSizer('auto', max_size=32, candidates=(1, 2, 4, 8, 16, 32, 64))
    run_sizer(sizer, {1: 10, 2: 5, 4: 2.5, 8: 1.3, 16: 0.7, 32: 0.5, 64: 0.4}, prompts=10000)
    assert sizer.chosen('hbox') == 32  # 64 exceeds the memory cap


def test_fixed_batch_size_and_cap():
    assert PromptBatchSizer(20, max_size=64).next_size('x') == 20
    assert PromptBatchSizer(20, max_size=8).next_size('x') == 8
    with pytest.raises(ValueError, match='prompt_batch_size'):
        PromptBatchSizer(0, max_size=8)


def test_engine_caps_batch_by_memory(tiny_sam):
    engine = build_engine(dict(prompt='hbox', prompt_batch_size=1000, max_decoder_memory_mb=50), model=tiny_sam)
    # Tiny decoder: 4 * (16 * 4096 * 32 + 64 * 4096) bytes = 9.4 MB per prompt -> 5 fit in 50 MB.
    assert engine.backend.sizer.next_size('hbox') == 5
