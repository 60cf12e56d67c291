"""tools/infer_scene.py and SceneInference: segmentors equal mmseg's slide inference of the scene held
whole, detectors equal the per-window predictions merged as mmrotate merges huge images; resume,
ranks (in-process and torchrun), nodata, unreadable blocks, a full disk."""
import json
import os
import os.path as osp
import shutil
import signal
import sys

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict

from samrs_mm.runs import RunInterrupted
from samrs_mm.scenes.inference import SceneInference
from samrs_mm.scenes.models import SceneModel
from samrs_mm.scenes.raster import SceneInputError
from samrs_mm.structures.classes import SAMRS_CLASS_LISTS
from tests.annotate.annotate_data import tool_main
from tests.conftest import free_port, run_tool
from tests.scenes.scene_data import grid_objects, write_scene
from tests.scenes.scene_models import build_and_save, detector_config, segmentor_config, sep_config
from tests.scenes.test_annotate_scene import _corrupt_a_block


def _load(config, checkpoint, **kwargs):
    from mmengine.config import Config
    return SceneModel(Config.fromfile(config), checkpoint, device='cpu', **kwargs)


@pytest.fixture(scope='module')
def files(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('infer_scene')
    objects = grid_objects(300, 230, step=90)
    made = dict(root=str(root), rgb=write_scene(str(root / 'rgb.tif'), 300, 230, objects),
                u16=write_scene(str(root / 'u16.tif'), 260, 190, objects, dtype='uint16', bands=1, nodata=0,
                                nodata_rect=(0, 0, 70, 50)))
    for name, writer in (('seg', segmentor_config), ('sep', sep_config)):
        made[name] = (writer(str(root / f'{name}.py')), str(root / f'{name}.pth'))
        build_and_save(*made[name])
    return made


@pytest.fixture(scope='module')
def segmentor(files):
    return _load(*files['seg'])


# Two classes whose logits are this close: which one wins depends on the float rounding of the kernels that
# ran (batch size, thread count, CPU), not on the code under test.
TIE = 1e-4


def _top2_margin(logits):
    top = logits.topk(2, dim=0).values
    return (top[0] - top[1]).numpy()


def mmseg_slide(model, rgb, valid=None):
    """mmseg's own: the whole image through the data preprocessor, ``slide_inference``, ``postprocess_result``.
    Returns the class map and each pixel's margin between its two best logits."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    inputs = model.model.data_preprocessor(dict(inputs=[tensor]), False)['inputs']
    height, width = rgb.shape[:2]
    meta = dict(ori_shape=(height, width), img_shape=(height, width), pad_shape=(height, width))
    if model.subset:
        meta['subset'] = model.subset
    with torch.no_grad():
        logits = model.model.slide_inference(inputs, [meta])
    label = model.model.postprocess_result(logits)[0].pred_sem_seg.data[0].numpy().astype(np.uint8)
    if valid is not None:
        label[~valid] = 255
    return label, _top2_margin(logits[0])


def assert_same_class_map(label, reference):
    """``label`` is mmseg's class map ``reference`` (label, margin) at every pixel where the two best
    classes do not tie within ``TIE`` (there the scene's batched windows may round the other way)."""
    expected, margin = reference
    assert label.shape == expected.shape
    wrong = (label != expected) & (margin >= TIE)
    assert not wrong.any(), f'{int(wrong.sum())} pixels differ from mmseg, e.g. at {np.argwhere(wrong)[:3].tolist()}'


def _infer(model, image, out, **scene):
    return SceneInference(model, image, str(out), scene, log=lambda *a: None, progress=False).run()


def _semantic(out):
    import rasterio
    with rasterio.open(osp.join(out, 'semantic.tif')) as ds:
        return ds.read(1), ds.crs.to_string(), ds.tags(ns='IMAGE_STRUCTURE').get('LAYOUT')


@pytest.mark.parametrize('scene', [dict(batch_size=3), dict(batch_size=1, crop_size=48, stride=20)])
def test_a_segmentor_equals_mmseg_slide_inference_of_the_whole_scene(files, segmentor, tmp_path, scene):
    from samrs_mm.sources.image_io import load_image
    summary = _infer(segmentor, files['rgb'], tmp_path / 'out', **scene)
    assert summary['complete'] and summary['tasks'] == ['semantic']
    label, crs, layout = _semantic(tmp_path / 'out')
    model = segmentor
    if 'crop_size' in scene:  # mmseg's slide of the same windows
        model.model.test_cfg = ConfigDict(model.model.test_cfg, crop_size=(48, 48), stride=(20, 20))
    try:
        reference = mmseg_slide(model, load_image(files['rgb']))
    finally:
        model.model.test_cfg = ConfigDict(model.model.test_cfg, crop_size=(64, 64), stride=(40, 40))
    assert crs == 'EPSG:32616' and layout == 'COG'
    assert_same_class_map(label, reference)
    assert sum(summary['semantic']['pixels'].values()) == 300 * 230


def test_a_16_bit_scene_with_nodata_is_stretched_as_the_whole_image_and_nodata_stays_unlabeled(files, segmentor,
                                                                                                tmp_path):
    import rasterio

    from samrs_mm.sources.image_io import load_image
    assert _infer(segmentor, files['u16'], tmp_path / 'out')['complete']
    with rasterio.open(files['u16']) as ds:
        valid = ds.read(1) != 0
    label, _, _ = _semantic(tmp_path / 'out')
    assert_same_class_map(label, mmseg_slide(segmentor, load_image(files['u16']), valid))
    assert (label[:50, :70] == 255).all()


def test_sep_needs_a_subset_and_then_equals_slide_inference_of_that_head(files, tmp_path):
    from samrs_mm.sources.image_io import load_image
    with pytest.raises(SceneInputError, match=r'one head per subset: choose one with --subset \(valid: sota, sior, '
                                              r'fast\)'):
        _load(*files['sep'])
    with pytest.raises(SceneInputError, match=r"--subset: got 'dota'; valid: sota, sior, fast"):
        _load(*files['sep'], subset='dota')
    model = _load(*files['sep'], subset='fast')
    summary = _infer(model, files['rgb'], tmp_path / 'out')
    assert summary['subset'] == 'fast' and summary['classes']['semantic'] == list(SAMRS_CLASS_LISTS['fast'])
    label, _, _ = _semantic(tmp_path / 'out')
    assert_same_class_map(label, mmseg_slide(model, load_image(files['rgb'])))
    assert label.max() < 37


class _StopAfter:
    """Wraps the model: SIGTERM arrives at its ``n``-th call of ``semantic_logits``."""

    def __init__(self, model, n):
        self.model, self.n, self.calls = model, n, 0

    def semantic_logits(self, images):
        self.calls += 1
        if self.calls == self.n:
            raise RunInterrupted(signal.SIGTERM)
        return self.model.semantic_logits(images)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_stops_resumes_and_ranks_give_the_same_class_map(files, segmentor, tmp_path):
    reference_summary = _infer(segmentor, files['rgb'], tmp_path / 'ref')
    reference, _, _ = _semantic(tmp_path / 'ref')
    stopped = _infer(_StopAfter(segmentor, 9), files['rgb'], tmp_path / 'out')
    assert stopped['exit_status'] == 143 and 1 <= stopped['done'] < reference_summary['units']
    assert _infer(segmentor, files['rgb'], tmp_path / 'out')['complete']
    assert np.array_equal(_semantic(tmp_path / 'out')[0], reference)
    with open(tmp_path / 'out' / 'summary.json') as f, open(tmp_path / 'ref' / 'summary.json') as g:
        assert json.load(f) == json.load(g)
    # Two ranks: contiguous blocks of strips; rank 1's first strip recomputes the window rows above it
    # (in other batches than the one process did: equal up to ties, as mmseg's).
    for rank in (1, 0):
        SceneInference(segmentor, files['rgb'], str(tmp_path / 'ranks'), {}, rank=rank, world_size=2,
                       barrier=lambda: None, run_id='r', progress=False, log=lambda *a: None).run()
    from samrs_mm.sources.image_io import load_image
    assert_same_class_map(_semantic(tmp_path / 'ranks')[0], mmseg_slide(segmentor, load_image(files['rgb'])))


def test_an_unreadable_block_fails_its_strips_by_name_and_the_rerun_completes(files, segmentor, tmp_path, capsys):
    broken = write_scene(str(tmp_path / 'rgb.tif'), 300, 230, grid_objects(300, 230, step=90), block=64)
    _corrupt_a_block(broken, 10, 10)  # rows 0-63 of the first 64 columns
    config, checkpoint = files['seg']
    main = tool_main('infer_scene')
    out = str(tmp_path / 'out')
    assert main([config, checkpoint, broken, '--out-dir', out, '--no-progress']) == 1
    err = capsys.readouterr().err
    assert f'{broken}: cannot read window x=0 y=0 64x64' in err
    with open(osp.join(out, 'summary.json')) as f:
        summary = json.load(f)
    failed = [f['unit'] for f in summary['failures']]
    assert failed and failed == list(range(len(failed)))  # the strips the bad block reaches
    assert summary['semantic']['strips_missing'] == len(failed)
    label, _, _ = _semantic(out)
    first_good = 40 * len(failed)  # strips are 40 rows (the stride)
    assert (label[:first_good] == 255).all() and (label[first_good:] != 255).any(axis=1).all()
    shutil.copyfile(files['rgb'], broken)
    assert main([config, checkpoint, broken, '--out-dir', out, '--no-progress']) == 0
    from samrs_mm.sources.image_io import load_image
    assert_same_class_map(_semantic(out)[0], mmseg_slide(segmentor, load_image(files['rgb'])))


def test_a_full_disk_stops_with_status_3_and_bad_options_are_one_line(files, small_disk, tmp_path, capsys):
    config, checkpoint = files['seg']
    main = tool_main('infer_scene')
    disk = small_disk(12)
    out = osp.join(disk.path, 'out')
    assert main([config, checkpoint, files['rgb'], '--out-dir', out, '--no-progress']) == 3
    err = capsys.readouterr().err
    assert 'error: cannot write ' in err and 'No space left on device' in err
    assert 1 <= len([n for n in os.listdir(osp.join(out, 'strips')) if n.endswith('.json')]) < 6
    sep_config_path, sep_checkpoint = files['sep']
    assert main([sep_config_path, sep_checkpoint, files['rgb'], '--out-dir', str(tmp_path / 'x')]) == 2
    assert capsys.readouterr().err.strip() == ('error: this model has one head per subset: choose one with '
                                               '--subset (valid: sota, sior, fast)')
    assert main([config, checkpoint, files['rgb'], '--out-dir', str(tmp_path / 'x'),
                 '--cfg-options', 'scene.batch_sise=2']) == 2
    assert capsys.readouterr().err.strip().startswith("error: unknown scene config key(s) ['batch_sise']; valid keys:")
    assert not osp.exists(tmp_path / 'x')


@pytest.mark.parametrize('kind', ['instance', 'rotated'])
def test_detections_equal_the_windows_predictions_merged_as_mmrotate_merges_huge_images(files, repo_root, tmp_path,
                                                                                        kind):
    import geopandas
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from samrs_mm.compat import import_mmrotate
    from samrs_mm.scenes.planning import detection_windows
    from samrs_mm.sources.image_io import load_image
    import_mmrotate()
    from mmrotate.utils import merge_results_by_nms
    config = detector_config(str(tmp_path / 'det.py'), repo_root, kind)
    checkpoint = str(tmp_path / 'det.pth')
    build_and_save(config, checkpoint)
    model = _load(config, checkpoint)
    summary = _infer(model, files['rgb'], tmp_path / 'out', patch_size=128, gap=32, batch_size=1)
    assert summary['complete'] and summary['tasks'] == [kind]
    image = load_image(files['rgb'])
    windows = detection_windows(300, 230, 128, 32)
    samples = []
    for window in windows:
        found = model.detect([image[window.y:window.y + window.height, window.x:window.x + window.width]])[0][kind]
        samples.append(DetDataSample(pred_instances=InstanceData(
            bboxes=torch.from_numpy(found['boxes']), scores=torch.from_numpy(found['scores']),
            labels=torch.from_numpy(found['labels']))))
    iou = 0.25 if kind == 'instance' else 0.1
    merged = merge_results_by_nms(samples, np.array([[w.x, w.y] for w in windows]), (300, 230),
                                  dict(type='nms' if kind == 'instance' else 'nms_rotated', iou_threshold=iou))
    name = 'instances' if kind == 'instance' else 'rotated'
    frame = geopandas.read_file(tmp_path / 'out' / f'{name}.gpkg')
    assert summary[kind]['kept'] == len(frame) == len(merged.pred_instances) > 0
    assert np.array_equal(frame['score'].to_numpy(np.float32), merged.pred_instances.scores.numpy())
    assert np.array_equal(frame['class_index'].to_numpy(), merged.pred_instances.labels.numpy())
    assert frame.crs.to_string() == 'EPSG:32616' and list(frame['det_id']) == list(range(len(frame)))
    if kind == 'rotated':  # the rotated boxes as polygons: their area is w x h (0.5 m pixels)
        boxes = merged.pred_instances.bboxes
        boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
        assert np.allclose(frame.geometry.area, (boxes[:, 2] * boxes[:, 3]).numpy() * 0.25, rtol=1e-4)


def test_mtp_runs_its_three_branches_and_its_semantic_branch_equals_slide_inference(repo_root, tmp_path):
    from samrs_mm.sources.image_io import load_image
    from tests.toy_data import write_tiny_mtp_config
    config = write_tiny_mtp_config(str(tmp_path / 'mtp.py'), repo_root, str(tmp_path / 'no-data'))
    checkpoint = str(tmp_path / 'mtp.pth')
    build_and_save(config, checkpoint)
    model = _load(config, checkpoint, subset='sior')
    image = write_scene(str(tmp_path / 'scene.tif'), 160, 128, grid_objects(160, 128, step=60))
    summary = _infer(model, image, tmp_path / 'out', crop_size=64, stride=40, patch_size=128, gap=32)
    assert summary['complete'] and summary['tasks'] == ['semantic', 'instance', 'rotated']
    assert sorted(summary['outputs']) == ['instances.gpkg', 'quicklook.png', 'rotated.gpkg', 'semantic.tif']
    model.model.test_cfg = ConfigDict(model.model.test_cfg, crop_size=(64, 64), stride=(40, 40))
    assert_same_class_map(_semantic(tmp_path / 'out')[0], mmseg_slide_mtp(model, load_image(image)))


def mmseg_slide_mtp(model, rgb):
    """MTP's semantic branch through mmseg's ``slide_inference`` (its labels: background 0 -> 255), and the
    top-2 logit margins as :func:`mmseg_slide`."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    inputs = model.model.data_preprocessor(dict(inputs=[tensor]), False)['inputs']
    height, width = rgb.shape[:2]
    with torch.no_grad():
        logits = model.model.slide_inference(inputs, [dict(ori_shape=(height, width), img_shape=(height, width),
                                                           subset=model.subset)])
    label = logits[0].argmax(dim=0)
    if model.background:
        label = torch.where(label == 0, torch.full_like(label, 255), label - 1)
    return label.numpy().astype(np.uint8), _top2_margin(logits[0])


def test_two_torchrun_ranks_write_what_one_process_writes(files, segmentor, tmp_path):
    from samrs_mm.sources.image_io import load_image
    config, checkpoint = files['seg']
    out = str(tmp_path / 'out')
    proc = run_tool([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
                     free_port(), 'tools/infer_scene.py', config, checkpoint, files['rgb'], '--out-dir', out,
                     '--launcher', 'pytorch', '--no-progress'], env=dict(OMP_NUM_THREADS='1'), timeout=300)
    assert 'tasks semantic | slide windows' in proc.stdout
    assert_same_class_map(_semantic(out)[0], mmseg_slide(segmentor, load_image(files['rgb'])))
