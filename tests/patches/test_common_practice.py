"""Issue 18 part 1: patches by the common practice, read by mmrotate, objects inside, no mixing."""
import math
import os
import os.path as osp

import numpy as np
import pytest
import shapely

from samrs_mm.fileio import SettingsMismatch
from samrs_mm.patches import PatchSettings, crop_dataset, crop_patches, window_starts
from samrs_mm.sources import build_source, load_image
from samrs_mm.structures import boxes as G
from samrs_mm.structures.classes import SOTA_CLASSES
from samrs_mm.structures.record import ImageRecord, Instance


def _img_split_starts(n, size, gap):
    """The rule as mmrotate's img_split / BboxToolkit write it (float count, conditional move)."""
    step = size - gap
    count = 1 if n <= size else math.ceil((n - size) / step + 1)
    starts = [step * i for i in range(count)]
    if len(starts) > 1 and starts[-1] + size > n:
        starts[-1] = n - size
    return starts


@pytest.mark.parametrize('size, gap', [(600, 200), (800, 0), (800, 200), (1024, 200), (1024, 512)])
def test_window_starts_follow_the_common_rule_for_every_length(size, gap):
    for n in range(1, 6001):
        assert window_starts(n, size, size - gap) == _img_split_starts(n, size, gap), n


@pytest.fixture(scope='module')
def p0706_patches(shared_data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('p0706'))
    source = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))
    summary = crop_dataset(source, out, PatchSettings(patch_size=512, gap=100, truncated='difficult'),
                           progress=False)
    assert summary.ok
    return out


def test_mmrotate_dotadataset_reads_our_patches_as_our_reader_does(p0706_patches):
    from samrs_mm.compat import import_mmrotate
    import_mmrotate()
    from mmrotate.datasets import DOTADataset
    dataset = DOTADataset(ann_file=osp.join(p0706_patches, 'labelTxt/'), data_prefix=dict(img_path='images/'),
                          data_root='', metainfo=dict(classes=SOTA_CLASSES), pipeline=[], img_shape=(512, 512),
                          serialize_data=False)
    ours = {r.stem: r for r in build_source(type='dota', ann_dir=osp.join(p0706_patches, 'labelTxt'))}
    theirs = {info['img_id']: info for info in dataset.data_list}
    assert sorted(theirs) == sorted(ours) and len(ours) == len(os.listdir(osp.join(p0706_patches, 'images')))
    objects = 0
    for stem, record in ours.items():
        instances = theirs[stem]['instances']
        assert len(instances) == len(record.instances)
        for inst, theirs_inst in zip(record.instances, instances):
            assert theirs_inst['bbox'] == inst.quad.ravel().tolist()
            assert theirs_inst['bbox_label'] == inst.class_index
        objects += len(instances)
    assert objects > 536  # objects cut by windows appear in several patches


def test_written_objects_stay_inside_their_patch(p0706_patches):
    coords = []
    for name in os.listdir(osp.join(p0706_patches, 'labelTxt')):
        with open(osp.join(p0706_patches, 'labelTxt', name)) as f:
            coords += [[float(v) for v in line.split()[:8]] for line in f]
    coords = np.array(coords)
    assert coords.min() >= 0 and coords.max() <= 512


def test_clipped_rectangles_are_the_smallest_that_fit_the_patch():
    """cut_rule='clip': objects cut into 5+ corners: the minimum-area rectangle of the cut part
    can leave the patch; the written one is the smallest candidate that does not."""
    rng = np.random.default_rng(0)
    instances = []
    for _ in range(300):
        rbox = [rng.uniform(90, 110), rng.uniform(90, 110), rng.uniform(20, 60), rng.uniform(5, 20),
                rng.uniform(-np.pi / 2, np.pi / 2)]
        quad = G.rbox_to_quad(np.array(rbox))
        instances.append(Instance('ship', hbox=G.quad_to_hbox(quad), quad=quad, rbox=np.array(rbox)))
    record = ImageRecord('synthetic.png', 200, 200, instances=instances)
    settings = PatchSettings(patch_size=100, gap=0, iof_thr=0.3, truncated='difficult', cut_rule='clip')
    patches, _ = crop_patches(record, np.zeros((200, 200, 3), np.uint8), settings)
    poked_out = 0
    for patch in patches:
        window = shapely.box(patch.x, patch.y, patch.x + 100, patch.y + 100)
        for inst in patch.instances:
            assert inst.quad.min() >= 0 and inst.quad.max() <= 100
            assert np.all(inst.hbox >= 0) and np.all(inst.hbox <= 100)
        for source in instances:
            cut = shapely.intersection(shapely.Polygon(source.quad), window)
            if cut.area > 0 and len(cut.exterior.coords) > 5:
                plain = G.rbox_to_quad(G.points_to_rbox(np.asarray(cut.exterior.coords)[:-1]))
                poked_out += bool((plain < np.array([patch.x, patch.y]) - 1e-6).any()
                                  or (plain > np.array([patch.x, patch.y]) + 100 + 1e-6).any())
    assert poked_out > 0  # the case is really exercised


def test_a_folder_cut_with_the_other_rule_is_refused(shared_data, tmp_path):
    source = build_source(type='dota', ann_dir=osp.join(shared_data, 'dota/labelTxt'))
    old = PatchSettings.from_preset('dota-v2', window_rule='pad', label_header=True)
    crop_dataset(source, str(tmp_path), old, progress=False)
    # A folder cut before split_settings.json existed: its manifests tell how.
    os.remove(tmp_path / 'split_settings.json')
    before = sorted(os.listdir(tmp_path / 'images'))
    with pytest.raises(SettingsMismatch, match=r"label_header, window_rule differ: .*'window_rule': 'pad'.* vs "
                       r".*'window_rule': 'shift'.*continue it with the same options "
                       r"\(e\.g\. --window-rule, --cut-rule\), or give another --out-dir"):
        crop_dataset(source, str(tmp_path), PatchSettings.from_preset('dota-v2'), progress=False)
    assert sorted(os.listdir(tmp_path / 'images')) == before
    again = crop_dataset(source, str(tmp_path), old, progress=False)  # the same options continue it
    assert again.status == {'resumed': 1}
    image = load_image(str(tmp_path / 'images' / before[0]))
    assert image.shape == (1024, 1024, 3)
