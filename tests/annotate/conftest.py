"""Fixtures of the annotate tests: a small random-weight SAM and real images with their boxes."""
import os.path as osp
from dataclasses import replace

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope='module')
def single_torch_thread():
    """Run these tests with one intra-op thread, restored afterwards.

    The 2 cores are shared with other test processes; two OpenMP threads competing with
    them made the small decoder 7x slower here, one thread is fast and deterministic.
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='session')
def tiny_sam():
    """The small random-weight test SAM (same frames as the official models)."""
    from samrs_mm.annotate.families.models import build_sam_model
    return build_sam_model('tiny_test', random_init=True, seed=0)


@pytest.fixture(scope='session')
def tiny_family_model():
    """``get(family)``: the random-weight ``tiny_test`` model of a SAM family, built once per session."""
    from samrs_mm.annotate.families.models import build_sam_model
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = build_sam_model('tiny_test', random_init=True, seed=0, family=family)
        return cache[family]
    return get


@pytest.fixture
def sam3_components(monkeypatch):
    """SAM 3's predictor labels its low-res masks' regions with the engine's scipy labeller.

    sam3 labels 8-connected regions with ``skimage.measure.label`` on CPU and then sets each
    region's area pixel by pixel in a Python loop over the regions (seconds per mask of the
    speckled random-weight models, and scikit-image is not installed here: sam3 then skips
    its hole filling with a warning). ``lowres_cleanup.connected_components`` returns the
    same labels and areas (scipy's 8-connected labelling); everything else of the
    predictor's post-processing stays its own.
    """
    import sam3.perflib.connected_components as cc

    from samrs_mm.annotate.engine.lowres_cleanup import connected_components
    monkeypatch.setattr(cc, 'connected_components', connected_components)


def crop_instances(image, instances, x0, y0, width, height, limit=None):
    """A real crop: the image window and the instances lying fully inside it, shifted."""
    crop = np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
    shift = np.array([x0, y0], dtype=np.float64)
    kept = []
    for inst in instances:
        box = np.asarray(inst.hbox, dtype=np.float64)
        if box[0] < x0 or box[1] < y0 or box[2] > x0 + width or box[3] > y0 + height:
            continue
        rbox = None if inst.rbox is None else np.concatenate([inst.rbox[:2] - shift, inst.rbox[2:]])
        quad = None if inst.quad is None else inst.quad - shift
        kept.append(replace(inst, hbox=box - np.tile(shift, 2), rbox=rbox, quad=quad))
    return crop, kept[:limit] if limit else kept


@pytest.fixture(scope='session')
def dota_record(shared_data):
    """DOTA P0706 (1111 x 1182, 536 objects) with its image."""
    from samrs_mm.sources import build_source, load_image
    rec = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))[0]
    return rec, load_image(rec)


@pytest.fixture(scope='session')
def dota_crop(dota_record):
    """A 512 x 512 window of P0706 with 16 of its ships (rotated quadrilaterals)."""
    rec, image = dota_record
    return crop_instances(image, rec.instances, 560, 40, 512, 512, limit=16)


@pytest.fixture(scope='session')
def isaid_sample(shared_data):
    """iSAID P0005 (884 x 977) and 16 of its instances (boxes derived from the masks)."""
    from samrs_mm.sources import build_source, load_image
    rec = build_source(type='isaid', img_dir=osp.join(shared_data, 'isaid/train'))[0]
    return load_image(rec), rec.instances[:16]


@pytest.fixture(scope='session')
def deepforest_sample(shared_data):
    """NEON OSBS_029 (400 x 400) with its 61 tree-crown boxes (horizontal boxes only)."""
    from samrs_mm.sources import build_source, load_image
    rec = build_source(type='voc', ann_dir=osp.join(shared_data, 'deepforest'),
                       img_dir=osp.join(shared_data, 'deepforest'), class_list=['Tree'])[0]
    return load_image(rec), rec.instances


@pytest.fixture(scope='session')
def grid_data(tmp_path_factory):
    """Four noise images with twelve planes each (DOTA format), for the stop / resume / rank
    tests; a test that swaps a file for a pipe puts it back."""
    from tests.annotate.annotate_data import PLANE_GRID, write_dota_dataset
    return write_dota_dataset(str(tmp_path_factory.mktemp('grid') / 'data'), n_images=4, objects=PLANE_GRID)


# Keeps the tiny SAM's candidate prompt batch sizes to 1, 2, 4, 8, so measuring them is quick.
GRID_ENGINE = dict(max_decoder_memory_mb=80)


@pytest.fixture(scope='session')
def grid_reference(grid_data, tmp_path_factory):
    """``reference(size)``: ``(work dir, tree_files)`` of an uninterrupted one-process tiny-SAM run
    over ``grid_data`` with the fixed prompt batch size ``size`` (made in this process, cached)."""
    from samrs_mm.annotate.runner import AnnotateRunner
    from tests.annotate.annotate_data import config_dict, tree_files
    cache = {}

    def reference(size):
        if size not in cache:
            work = tmp_path_factory.mktemp(f'grid_reference_{size}')
            cfg = config_dict(grid_data, work, backend='tiny', prompt_batch_size=size, **GRID_ENGINE)
            summary = AnnotateRunner(cfg, log=lambda *a: None).run()
            assert summary.complete and summary.labelled == 4
            cache[size] = (str(work), tree_files(str(work)))
        return cache[size]
    return reference
