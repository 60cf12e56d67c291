"""Prompt specs, the paper's rule, and prompt construction checked against hand-computed values."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from samrs_mm.annotate.engine.prompts import (
    ObjectGeometry,
    PromptError,
    PromptSpec,
    SamPromptBuilder,
    mask_prompt_maps,
    parse_prompt_spec,
    resolve_prompt_spec,
)
from samrs_mm.annotate.engine.raster import fill_polygon
from samrs_mm.structures.boxes import BoxError, rbox_to_quad
from samrs_mm.structures.record import Instance


# ---------------------------------------------------------------- specs
@pytest.mark.parametrize('text, name', [
    ('hbox', 'hbox'), ('H-Box', 'hbox'), ('RH-Box', 'rhbox'), ('CP', 'cp'),
    ('H-Box-M', 'hbox_mask'), ('R-Box-M', 'rbox_mask'), ('RH-Box-M', 'rhbox_mask'),
    ('cp+hbox', 'hbox+cp'), ('RH-Box + CP', 'rhbox+cp'), ('rbox_mask+rhbox', 'rhbox+rbox_mask'),
    ('hbox_mask+cp+rhbox', 'rhbox+cp+hbox_mask'),
])
def test_parse_names_and_aliases(text, name):
    spec = parse_prompt_spec(text)
    assert spec.name == name
    assert parse_prompt_spec(spec.name) == spec  # canonical names round-trip


def test_parse_structure():
    assert parse_prompt_spec('rhbox+cp+rbox_mask') == PromptSpec(box='rhbox', point=True, mask='rbox')
    assert parse_prompt_spec('cp').basic == ('cp',)


@pytest.mark.parametrize('text, message', [
    ('hbox+rhbox', 'two box prompts'), ('hbox_mask+rbox_mask', 'two mask prompts'),
    ('cp+cp', 'CP appears twice'), ('rbox', 'unknown prompt'), ('box', 'unknown prompt'),
    ('', 'non-empty'), ('auto+cp', "'auto' cannot be combined"),
])
def test_parse_errors(text, message):
    with pytest.raises(PromptError, match=message):
        parse_prompt_spec(text)


def test_paper_rule():
    # FAIR1M has rotated boxes only -> RH-Box; DOTA, DIOR (and everything else) -> H-Box.
    assert resolve_prompt_spec('auto', 'fair1m').name == 'rhbox'
    assert resolve_prompt_spec('AUTO', 'FAIR1M').name == 'rhbox'
    for source in ('dota', 'dior', 'hrsc', 'isaid', 'coco', ''):
        assert resolve_prompt_spec('auto', source).name == 'hbox'
    assert resolve_prompt_spec('auto', 'hrsc', rotated_only_sources=['hrsc']).name == 'rhbox'
    assert resolve_prompt_spec('cp', 'fair1m').name == 'cp'


# ---------------------------------------------------------------- geometry
def test_rhbox_of_rotated_box_by_hand():
    # w=20, h=10 turned by 30 degrees: half extents (20 cos30 + 10 sin30) / 2 = 11.1603 and
    # (20 sin30 + 10 cos30) / 2 = 9.3301 around the centre (50, 40).
    inst = Instance('ship', hbox=np.array([0., 0., 100., 100.]), rbox=np.array([50, 40, 20, 10, math.pi / 6]))
    geo = ObjectGeometry.from_instances([inst], 200, 200)
    np.testing.assert_allclose(geo.boxes('rhbox')[0], [38.8397460, 30.6698730, 61.1602540, 49.3301270], atol=1e-6)
    np.testing.assert_array_equal(geo.boxes('hbox')[0], [0, 0, 100, 100])  # H-Box is the record's own


def test_rhbox_without_rotated_box_is_the_hbox():
    inst = Instance('car', hbox=np.array([10.5, 20., 30., 60.25]))
    geo = ObjectGeometry.from_instances([inst], 100, 100)
    np.testing.assert_array_equal(geo.boxes('rhbox')[0], [10.5, 20., 30., 60.25])
    np.testing.assert_allclose(geo.polygons('rbox')[0], [[10.5, 20], [30, 20], [30, 60.25], [10.5, 60.25]])


def test_center_point_by_hand():
    # CP: the rotated box's centre where there is one (HRSC's mbox_cx/cy), else the hbox centre.
    rotated = Instance('ship', hbox=np.array([0., 0., 50., 50.]), rbox=np.array([21.5, 30.25, 10, 4, 0.3]))
    horizontal = Instance('car', hbox=np.array([10., 20., 30., 60.]))
    quad_only = Instance('ship', hbox=np.array([0., 0., 4., 2.]),
                         quad=np.array([[0., 0.], [4., 0.], [4., 2.], [0., 2.]]))
    geo = ObjectGeometry.from_instances([rotated, horizontal, quad_only], 100, 100)
    np.testing.assert_allclose(geo.centers(), [[21.5, 30.25], [20., 40.], [2., 1.]])


@pytest.mark.parametrize('hbox, message', [
    ([10, 10, 5, 20], 'x2 < x1'), ([np.nan, 1, 2, 3], 'non-finite'), ([200, 10, 220, 20], 'outside'),
    ([-30, -30, 0, 0], 'outside'),
])
def test_bad_boxes_name_the_origin(hbox, message):
    inst = Instance('ship', hbox=np.array(hbox, dtype=float), origin='labels/P0001.txt:7')
    with pytest.raises(BoxError, match=message) as err:
        ObjectGeometry.from_instances([inst], 100, 100)
    assert 'labels/P0001.txt:7' in str(err.value)


def test_bad_box_without_origin_names_image_and_index():
    good = Instance('ship', hbox=np.array([1., 1., 5., 5.]))
    bad = Instance('ship', hbox=np.array([1., 1., 5., 5.]), rbox=np.array([1, 1, -2, 3, 0.]))
    with pytest.raises(BoxError, match=r'img\.png instance #1: rbox'):
        ObjectGeometry.from_instances([good, bad], 100, 100, where='img.png')


# ---------------------------------------------------------------- mask prompts
def test_hbox_mask_prompt_by_hand():
    # Image 256 (h) x 512 (w): scale 2, model input 512 x 1024, rows 512..1023 are padding.
    # hbox (4, 8, 12, 16) -> frame (8, 16, 24, 32): frame cols 8..23 and rows 16..31 inside.
    # The 4x bilinear reduction reads frame pixels 4c+1 and 4c+2 of each cell: cols 2..5 and
    # rows 4..7 read only inside pixels (+1000), every other cell only outside ones (-1000).
    maps = mask_prompt_maps(hbox_poly([4, 8, 12, 16]), (256, 512), (512, 1024))
    expected = np.full((256, 256), -1000, np.float32)
    expected[4:8, 2:6] = 1000
    np.testing.assert_array_equal(maps[0], expected)


def test_mask_prompt_half_covered_cells_are_zero():
    # hbox x from 4 to 5 -> frame cols 8, 9 inside: cell 2 reads cols 9 (in) and 10 (out) -> 0.
    maps = mask_prompt_maps(hbox_poly([4, 8, 5, 16]), (256, 512), (512, 1024))
    expected = np.full((256, 256), -1000, np.float32)
    expected[4:8, 2] = 0
    np.testing.assert_array_equal(maps[0], expected)


def test_mask_prompt_padding_is_outside():
    # The box runs past the image bottom (y 250..300 of 256): frame rows 500..511 inside the
    # image, 512.. are padding (-1000). Cells 125..127 read rows 501..510 -> +1000; cell 128
    # reads padding rows 513, 514 -> -1000.
    maps = mask_prompt_maps(hbox_poly([4, 250, 12, 300]), (256, 512), (512, 1024))
    expected = np.full((256, 256), -1000, np.float32)
    expected[125:128, 2:6] = 1000
    np.testing.assert_array_equal(maps[0], expected)


def literal_mask_prompt(poly, original_size, input_size, padded=1024, mask_size=256):
    """The definition, step by step: +-1000 map on the input grid, pad with -1000, resize."""
    scale = np.array([input_size[1] / original_size[1], input_size[0] / original_size[0]])
    window, top, left = fill_polygon(poly * scale, *input_size)
    frame = np.full((padded, padded), -1000, np.float32)  # outside and padding
    canvas = np.zeros(input_size, bool)
    canvas[top:top + window.shape[0], left:left + window.shape[1]] = window
    frame[:input_size[0], :input_size[1]][canvas] = 1000
    return F.interpolate(torch.from_numpy(frame)[None, None], (mask_size, mask_size), mode='bilinear',
                         align_corners=False)[0, 0].numpy()


def hbox_poly(hbox):
    x1, y1, x2, y2 = hbox
    return np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], dtype=float)


@pytest.mark.parametrize('original_size', [(1182, 1111), (600, 600), (300, 900), (977, 884)])
def test_mask_prompt_equals_literal_construction(original_size):
    transform = ResizeLongestSide(1024)
    input_size = transform.get_preprocess_shape(*original_size, 1024)
    rng = np.random.default_rng(sum(original_size))
    h, w = original_size
    for _ in range(12):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        bw, bh = rng.uniform(2, w / 3), rng.uniform(2, h / 3)
        theta = rng.uniform(-np.pi / 2, np.pi / 2)
        poly = rbox_to_quad(np.array([cx, cy, bw, bh, theta]))
        ours = mask_prompt_maps(poly[None], original_size, input_size)[0]
        np.testing.assert_array_equal(ours, literal_mask_prompt(poly, original_size, input_size))


def test_builder_matches_predictor_transform():
    transform = ResizeLongestSide(1024)
    inst = [Instance('ship', hbox=np.array([10., 20., 110., 70.]), rbox=np.array([60, 45, 100, 30, 0.2])),
            Instance('car', hbox=np.array([300., 5., 320., 25.]))]
    geo = ObjectGeometry.from_instances(inst, 600, 800)
    builder = SamPromptBuilder(parse_prompt_spec('rhbox+cp+rbox_mask'), geo, (600, 800), transform)
    batch = builder.batch(0, 2, 'cpu')
    assert builder.input_size == (768, 1024)
    for i in range(2):
        kw = builder.predictor_kwargs(i)
        # What SamPredictor.predict does with them:
        box = torch.as_tensor(transform.apply_boxes(kw['box'], (600, 800)), dtype=torch.float)
        pts = torch.as_tensor(transform.apply_coords(kw['point_coords'], (600, 800)), dtype=torch.float)
        assert torch.equal(batch.boxes[i], box[0])
        assert torch.equal(batch.point_coords[i], pts)
        assert batch.point_labels[i].tolist() == [1]
        assert torch.equal(batch.mask_inputs[i], torch.as_tensor(kw['mask_input']))
    # Scale 1024/800 = 1.28: the car's hbox (300, 5, 320, 25) -> (384, 6.4, 409.6, 32).
    np.testing.assert_allclose(batch.boxes[1].numpy(), [384, 6.4, 409.6, 32], rtol=1e-6)
    np.testing.assert_allclose(batch.point_coords[1, 0].numpy(), [396.8, 19.2], rtol=1e-6)


@pytest.mark.parametrize('padded, mask_size', [(1024, 256), (1008, 288)])
def test_square_frame_mask_prompt_equals_literal_construction(padded, mask_size):
    """SAM 2 (1024 square -> 256) and SAM 3 (1008 square -> 288, a factor 3.5): the image fills the frame."""
    original_size = (977, 884)
    rng = np.random.default_rng(padded)
    for _ in range(6):
        poly = rbox_to_quad(np.array([rng.uniform(0, 884), rng.uniform(0, 977), rng.uniform(2, 300),
                                      rng.uniform(2, 300), rng.uniform(-1.5, 1.5)]))
        ours = mask_prompt_maps(poly[None], original_size, (padded, padded), padded, mask_size)[0]
        literal = literal_mask_prompt(poly, original_size, (padded, padded), padded, mask_size)
        np.testing.assert_array_equal(ours, literal)
        # Exact sums of +-1000 with weights 1/2 (factor 4) or 1/4, 3/4 (factor 3.5): multiples of 125.
        assert (ours > 0).any() and np.all(ours % 125 == 0)


@pytest.mark.parametrize('resolution', [1024, 1008])
def test_square_frame_maps_prompts_as_sam2_transforms(resolution):
    """SquareFrame gives the float32 model-frame coordinates SAM2Transforms.transform_coords gives."""
    from sam2.utils.transforms import SAM2Transforms

    from samrs_mm.annotate.engine.prompts import SquareFrame
    frame, ref = SquareFrame(resolution), SAM2Transforms(resolution=resolution, mask_threshold=0.0)
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1200, (7, 1, 2))
    boxes = np.concatenate([points[:, 0], points[:, 0] + rng.uniform(1, 90, (7, 2))], axis=1)
    for size in ((1182, 1111), (37, 53)):
        expected = ref.transform_coords(torch.as_tensor(points, dtype=torch.float), normalize=True, orig_hw=size)
        assert np.array_equal(frame.apply_coords(points, size), expected.numpy())
        expected = ref.transform_boxes(torch.as_tensor(boxes, dtype=torch.float), normalize=True, orig_hw=size)
        assert np.array_equal(frame.apply_boxes(boxes, size), expected.reshape(-1, 4).numpy())
    assert frame.get_preprocess_shape(1182, 1111, resolution) == (resolution, resolution)
