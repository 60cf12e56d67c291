"""The quality signals recorded at labelling time (docs/label_qc.md).

* SAM's stability score of every mask equals ``segment_anything``'s own
  ``calculate_stability_score`` of the low-res logits the mask comes from (exactly), and of
  ``SamPredictor``'s logits for that object alone (up to float ties at the +-1 thresholds);
* the instance files and the COCO json carry every signal of ``QUALITY_FIELDS``, the geometric
  ones equal to ``prompt_agreement`` of the written mask and its boxes;
* instance files written before the signals existed still merge into a COCO json.
"""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from samrs_mm.annotate.engine import build_engine
from samrs_mm.annotate.engine.prompts import ObjectGeometry
from samrs_mm.structures.mask_quality import QUALITY_FIELDS, prompt_agreement


@pytest.fixture(scope='module')
def sharp_sam(tiny_sam):
    """The tiny SAM with its mask logits scaled 20x (the same masks: the sign is kept).

    The random weights give logits within +-0.2, so nothing passes the stability score's +-1
    thresholds; scaled, they span about +-4 and the scores vary between objects."""
    import copy
    sam = copy.deepcopy(tiny_sam)
    with torch.no_grad():
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(20.0)
            mlp.layers[-1].bias.mul_(20.0)
    return sam


@pytest.fixture(scope='module')
def labelled_crop(sharp_sam, dota_crop):
    """The sharpened tiny SAM's masks of the 16 ships of the DOTA crop, prompt batches of 5."""
    image, instances = dota_crop
    engine = build_engine(dict(prompt='hbox', prompt_batch_size=5), model=sharp_sam)
    return engine, image, instances, engine.annotate(image, instances, source='dota')


def engine_low_res(engine, image, instances):
    """The engine's low-res logits of every object, decoded again in the engine's own batches."""
    backend = engine.backend
    height, width = image.shape[:2]
    builder = backend.prompt_builder(engine.prompt_for('dota'), ObjectGeometry.from_instances(instances, height,
                                                                                             width),
                                     (height, width))
    backend.decoder.set_image(backend.encode([image]))
    out = []
    for start in range(0, len(builder), 5):
        with torch.no_grad():
            low, iou = backend.decoder.decode(builder.batch(start, min(len(builder), start + 5), backend.device),
                                              False)
        out.append(backend._select(low.float(), iou.float())[0])
    return torch.cat(out), backend._upsampler(builder.input_size, (height, width)).valid_lowres()


def test_stability_is_sams_definition_of_the_masks_logits(labelled_crop, sharp_sam):
    from segment_anything import SamPredictor
    from segment_anything.utils.amg import calculate_stability_score
    engine, image, instances, masks = labelled_crop
    low, (rows, cols) = engine_low_res(engine, image, instances)
    assert (rows, cols) == (256, 256)  # the square crop is resized to fill SAM's whole 1024 frame
    sams = calculate_stability_score(low[:, :rows, :cols], sharp_sam.mask_threshold, 1.0).tolist()
    assert [m.stability for m in masks] == sams
    assert len(set(sams)) > 8 and all(0.0 < s <= 1.0 for s in sams)  # the signal varies between objects
    # And the predictor's logits for each object alone give the same score (float ties at the
    # thresholds may move a pixel or two).
    predictor = SamPredictor(sharp_sam)
    predictor.set_image(image)
    for inst, mask in zip(instances, masks):
        _, _, low_ref = predictor.predict(box=np.asarray(inst.hbox), multimask_output=False)
        ref = calculate_stability_score(torch.as_tensor(low_ref)[:, :rows, :cols], sharp_sam.mask_threshold, 1.0)
        assert mask.stability == pytest.approx(float(ref[0]), abs=1e-3)


def test_instance_files_and_coco_carry_the_signals(labelled_crop, tmp_path):
    from samrs_mm.annotate.outputs import LabelWriter, merge_annotations, read_instances
    from samrs_mm.structures.record import ImageRecord
    from samrs_mm.structures.rle import decode
    engine, image, instances, masks = labelled_crop
    classes = sorted({inst.class_name for inst in instances})
    instances = [replace(inst, class_index=classes.index(inst.class_name)) for inst in instances]
    record = ImageRecord(image_path='crop.png', height=image.shape[0], width=image.shape[1], instances=instances,
                         source='dota')
    writer = LabelWriter(str(tmp_path), classes)
    writer.write(record, masks, 'fp')
    objects = read_instances(writer.instances_path('crop'))['objects']
    for obj, inst, mask in zip(objects, instances, masks):
        expected = prompt_agreement(decode(mask.rle), inst.hbox, inst.rbox)
        for key in ('outside_box', 'box_fill', 'rbox_iou'):
            assert obj[key] == round(expected[key], 6)
        assert obj['parts'] == expected['parts'] >= 1
        assert obj['stability'] == round(mask.stability, 6)
    counts = merge_annotations(str(tmp_path), ['crop'], classes, str(tmp_path / 'coco.json'))
    with open(tmp_path / 'coco.json') as f:
        anns = json.load(f)['annotations']
    assert len(anns) == counts['annotations'] == sum(1 for m in masks if m.area)
    kept = [o for o in objects if o['area']]
    assert [{k: a[k] for k in QUALITY_FIELDS} for a in anns] == [{k: o[k] for k in QUALITY_FIELDS} for o in kept]

    # A file of format 1 (no signals) still merges; its annotations have none.
    path = writer.instances_path('crop')
    with open(path) as f:
        data = json.load(f)
    data['version'] = 1
    for obj in data['objects']:
        for key in QUALITY_FIELDS:
            obj.pop(key)
    with open(path, 'w') as f:
        json.dump(data, f)
    merge_annotations(str(tmp_path), ['crop'], classes, str(tmp_path / 'old.json'))
    with open(tmp_path / 'old.json') as f:
        old = json.load(f)['annotations']
    assert len(old) == len(anns) and not any(key in a for a in old for key in QUALITY_FIELDS)


def test_box_backend_masks_fill_their_boxes():
    from samrs_mm.annotate.outputs import quality_signals
    from samrs_mm.structures.record import Instance
    engine = build_engine(dict(backend='box', prompt='hbox'))
    inst = Instance('plane', hbox=np.array([10.0, 12.0, 60.0, 50.0]))
    (mask,) = engine.annotate(np.zeros((80, 90, 3), np.uint8), [inst])
    signals = quality_signals(mask, inst)
    # No logits: no stability; the filled box is one part, inside its box, filling it.
    assert signals == dict(stability=None, outside_box=0.0, box_fill=1.0, rbox_iou=None, parts=1)


def test_only_the_low_res_cells_over_the_image_count():
    """A 600 x 800 image fills 768 x 1024 of SAM's padded frame: 192 of the 256 low-res rows."""
    from samrs_mm.annotate.engine.upsample import WindowedMaskUpsampler
    assert WindowedMaskUpsampler(256, 1024, (768, 1024), (600, 800)).valid_lowres() == (192, 256)
    assert WindowedMaskUpsampler(256, 1024, (1024, 683), (1200, 800)).valid_lowres() == (256, 171)
    assert WindowedMaskUpsampler(256, None, None, (600, 800)).valid_lowres() == (256, 256)  # SAM 2: no padding
