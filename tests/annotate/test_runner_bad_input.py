"""One test per bad input: a clear message naming the file or the option, a count, an exit status.

The tool runs in this process (a tool start costs seconds); its exit statuses are those of
docs/runs.md: 1 some image failed, 2 the run could not start (nothing written), 3 the work
dir cannot be written.
"""
import contextlib
import io
import json
import os

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from samrs_mm.annotate.runner import AnnotateConfigError, AnnotateRunner
from tests.annotate.annotate_data import (
    config_dict,
    tool_main,
    tree_files,
    write_coco_with_duplicate_stems,
    write_config,
    write_dota_dataset,
)
from tests.conftest import REPO_ROOT


def annotate(args):
    """Run tools/samrs_annotate.py ARGS in this process: ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = tool_main('samrs_annotate')([str(a) for a in args])
        except SystemExit as exc:  # argparse
            status = exc.code
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def dataset(tmp_path):
    return write_dota_dataset(str(tmp_path / 'data'), n_images=4)


def in_process_config(dataset, work, **source_extra):
    """The config write_config writes, as a dict for AnnotateRunner."""
    cfg = config_dict(dataset, work)
    cfg['source'].update(source_extra)
    return cfg


def summary_of(work):
    with open(f'{work}/summary.json') as f:
        return json.load(f)


def test_unreadable_image_fails_alone_and_the_rerun_finishes(dataset, tmp_path):
    bad = f'{dataset}/images/img02.png'
    good_bytes = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(b'not a png at all')
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, out, err = annotate([cfg])
    assert status == 1
    assert 'img02.png: cannot read image header' in err
    assert 'failed 1' in out
    summary = summary_of(tmp_path / 'work')
    assert (summary['labelled'], summary['failed'], summary['complete']) == (3, 1, False)
    assert summary['failures'][0]['file'].endswith('img02.png')
    with open(bad, 'wb') as f:
        f.write(good_bytes)
    status, out, _ = annotate([cfg])
    assert status == 0 and 'labelled 4 (this run 1, resumed 3)' in out


def test_fail_fast_stops_at_the_first_failure_with_a_summary(dataset, tmp_path):
    with open(f'{dataset}/images/img01.png', 'wb') as f:
        f.write(b'not a png at all')
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, out, err = annotate([cfg, '--fail-fast', '--num-workers', '0'])
    assert status == 1 and 'Traceback' not in err
    assert 'stopped early (stopped at the first failed image (fail_fast)' in err
    summary = summary_of(tmp_path / 'work')
    assert summary['stopped']['reason'] == 'fail_fast' and summary['stopped']['exit_status'] == 1
    assert (summary['labelled'], summary['failed'], summary['not_reached']) == (1, 1, 2)


def test_empty_annotation_file(dataset, tmp_path):
    open(f'{dataset}/labelTxt/img01.txt', 'w').close()
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, _, err = annotate([cfg, '--num-workers', '0'])
    assert status == 1
    assert 'img01.txt' in err and 'no objects' in err and 'allow_empty=True' in err
    # Accepted on request: the image gets an all-255 label and an empty instance list.
    AnnotateRunner(in_process_config(dataset, tmp_path / 'work', allow_empty=True)).run()
    label = np.asarray(Image.open(tmp_path / 'work' / 'semantic' / 'img01.png'))
    assert label.shape == (96, 128) and (label == 255).all()
    inst = json.loads((tmp_path / 'work' / 'instances' / 'img01.json').read_text())
    assert inst['objects'] == []
    coco = json.loads((tmp_path / 'work' / 'annotations.json').read_text())
    assert 'img01.png' in [i['file_name'] for i in coco['images']]


def test_class_missing_from_the_list(dataset, tmp_path):
    with open(f'{dataset}/labelTxt/img03.txt', 'a') as f:
        f.write('1 1 9 1 9 9 1 9 spaceship 0\n')
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, _, err = annotate([cfg, '--num-workers', '0'])
    assert status == 1
    assert 'img03.txt:6' in err and "unknown class 'spaceship'" in err
    AnnotateRunner(in_process_config(dataset, tmp_path / 'work', skip_unknown=True)).run()
    summary = summary_of(tmp_path / 'work')
    assert summary['failed'] == 0 and summary['read_stats']['unknown_classes'] == {'spaceship': 1}
    assert summary['objects'] == 12


def test_checkpoint_that_does_not_exist(dataset, tmp_path):
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, _, err = annotate([cfg, '--cfg-options', 'engine.backend=segment_anything',
                               'engine.checkpoint=/no/such/sam_vit_h.pth'])
    assert status == 2
    assert 'SAM checkpoint not found: /no/such/sam_vit_h.pth' in err
    assert 'dl.fbaipublicfiles.com/segment_anything' in err and 'engine.backend=box' in err
    assert not (tmp_path / 'work').exists()  # refused before any work


def test_sam_without_checkpoint_is_refused_with_the_fix(dataset, tmp_path):
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, _, err = annotate([cfg, '--cfg-options', 'engine.backend=segment_anything'])
    assert status == 2
    assert 'needs SAM weights' in err and '--cfg-options engine.backend=box' in err


@pytest.mark.parametrize('args, message', [
    (['--cfg-options', 'source.class_list=foo'],
     "error: source.class_list: unknown class list 'foo'; use one of ['fast', 'sior', 'sota'] or a sequence of "
     'class names'),
    (['--cfg-options', 'engine.backend'],
     "samrs_annotate.py: error: --cfg-options: 'engine.backend' is not KEY=VALUE (e.g. engine.backend=box)"),
    (['--num-workers', '-1'], 'error: runner.num_workers: got -1; valid: an int >= 0'),
    (['--cfg-options', 'runner.progress=maybe'], "error: runner.progress: got 'maybe'; valid: True or False"),
    (['--cfg-options', 'runner.stretch=[2,200]'],
     'error: runner.stretch: got [2, 200]; valid: two percentiles (low, high), 0 <= low < high <= 100'),
    (['--cfg-options', 'engine.prompt_batch_size=0'],
     "error: engine config: prompt_batch_size must be 'auto' or an int >= 1, got 0"),
    (['--cfg-options', 'writer.overlap=top'], "error: writer config: unknown overlap rule 'top'; choose one of"),
    (['--cfg-options', 'engine.backend=sam9'], "error: engine config: unknown backend 'sam9'; choose one of"),
    (['--launcher', 'mpi'], "samrs_annotate.py: error: argument --launcher: invalid choice: 'mpi'"),
])
def test_bad_option_is_one_line_exit_2_and_writes_nothing(dataset, tmp_path, args, message):
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    status, out, err = annotate([cfg] + args)
    assert status == 2
    assert err.startswith(message) and err.count('\n') == 1, err
    assert 'Traceback' not in err and out == ''
    assert not (tmp_path / 'work').exists()


def test_images_sharing_a_stem_are_refused_before_any_work(tmp_path):
    """a.png and a.jpg would write the same labels: refused with both named, workers or not."""
    source = write_coco_with_duplicate_stems(str(tmp_path / 'coco'))
    cfg_path = tmp_path / 'cfg.py'
    cfg_path.write_text(f'source = {source!r}\nengine = dict(backend="box", prompt="hbox")\n'
                        f'runner = dict(num_workers=2, progress=False)\nwork_dir = {str(tmp_path / "work")!r}\n')
    status, _, err = annotate([cfg_path])
    assert status == 2
    assert err == (f'error: 1 source image(s) share a file stem with another, so their outputs would overwrite '
                   f'each other: {tmp_path}/coco/a.png and {tmp_path}/coco/a.jpg; give every image a unique '
                   'file name\n')
    assert not (tmp_path / 'work').exists()


def test_a_path_with_spaces(tmp_path):
    """--cfg-options keeps the spaces of a quoted value (mmengine's DictAction drops them), and
    the shipped configs' variables take such paths too (DIOR's 'Horizontal Bounding Boxes')."""
    data = write_dota_dataset(str(tmp_path / 'Horizontal Bounding Boxes'), n_images=2)
    cfg = write_config(str(tmp_path / 'cfg.py'), str(tmp_path / 'elsewhere'), str(tmp_path / 'work'))
    status, out, _ = annotate([cfg, '--num-workers', '0', '--cfg-options', f'source.ann_dir={data}/labelTxt',
                               f'source.img_dir={data}/images', 'engine.prompt=hbox'])
    assert status == 0 and 'labelled 2 (this run 2' in out
    assert summary_of(tmp_path / 'work')['source']['ann_dir'] == f'{data}/labelTxt'
    os.environ['DIOR_ROOT'] = str(tmp_path / 'my DIOR')
    try:
        loaded = Config.fromfile(f'{REPO_ROOT}/configs/annotate/sior_dior_hbox.py')
    finally:
        del os.environ['DIOR_ROOT']
    assert loaded.source.ann_dir == f'{tmp_path}/my DIOR/Annotations/Horizontal Bounding Boxes'


def test_full_disk_keeps_finished_images_and_the_rerun_completes(dataset, tmp_path, small_disk):
    disk = small_disk(100)  # about two images' files (copied image, labels) and the config copy
    work = os.path.join(disk.path, 'work')
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, work)
    status, _, err = annotate([cfg, '--num-workers', '0'])
    assert status == 3, err
    assert err.startswith(f'error: cannot write {work}/') and 'No space left on device' in err
    finished = sorted(os.listdir(os.path.join(work, 'instances')))
    assert 1 <= len(finished) < 4
    assert not os.path.exists(os.path.join(work, '.tmp'))  # no temporary file left
    disk.resize(2048)
    status, out, _ = annotate([cfg, '--num-workers', '0'])
    assert status == 0 and f'labelled 4 (this run {4 - len(finished)}, resumed {len(finished)})' in out
    reference = str(tmp_path / 'reference')
    AnnotateRunner(in_process_config(dataset, reference), log=lambda *a: None).run()
    assert tree_files(work) == tree_files(reference)
    # A read-only work dir: named, nothing done.
    disk.read_only()
    status, out, err = annotate([cfg, '--num-workers', '0'])
    assert status == 3 and out == ''
    assert err == f'error: cannot write {work}/.samrs_mm.lock: Read-only file system\n'


def test_family_weights_problems_name_the_family_and_its_file():
    """The same checks for HQ-SAM, SAM 2.1 and SAM 3, with each family's official file (in process)."""
    from samrs_mm.annotate.runner import sam_weights_problem
    problem = sam_weights_problem(dict(backend='sam2', model_type='hiera_l'))
    assert "engine.backend='sam2' needs SAM 2.1 weights" in problem
    assert '092824/sam2.1_hiera_large.pt' in problem and 'engine.backend=box' in problem
    problem = sam_weights_problem(dict(backend='sam_hq', model_type='vit_b', checkpoint='/no/sam_hq_vit_b.pth'))
    assert problem.startswith('HQ-SAM checkpoint not found: /no/sam_hq_vit_b.pth') and 'sam_hq_vit_b.pth' in problem
    assert 'facebook/sam3' in sam_weights_problem(dict(backend='sam3', model_type='sam3'))
    assert sam_weights_problem(dict(backend='sam3', model_type='tiny_test', random_init=True)) is None
    assert sam_weights_problem(dict(backend='sam2', checkpoint='official')) is None


def test_unknown_config_keys(dataset, tmp_path):
    cfg = in_process_config(dataset, tmp_path / 'work')
    cfg['writer']['overlpa'] = 'small_on_top'
    with pytest.raises(AnnotateConfigError, match=r"unknown writer config key\(s\) \['overlpa'\]"):
        AnnotateRunner(cfg)
    cfg = in_process_config(dataset, tmp_path / 'work')
    cfg['engine']['prompt'] = 'hbox+hbox'
    with pytest.raises(AnnotateConfigError, match='two box prompts'):
        AnnotateRunner(cfg)
    cfg = in_process_config(dataset, tmp_path / 'work')
    cfg['source']['ann_dir'] += '_missing'
    with pytest.raises(AnnotateConfigError, match='DOTA annotation folder not found'):
        AnnotateRunner(cfg)
