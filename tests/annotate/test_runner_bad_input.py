"""One test per bad input: each gets a clear message naming the file, a count and an exit status."""
import json

import numpy as np
import pytest
from PIL import Image

from samrs_mm.annotate.runner import AnnotateConfigError, AnnotateRunner
from tests.annotate.annotate_data import write_config, write_dota_dataset
from tests.conftest import run_tool

TOOL = 'tools/samrs_annotate.py'


@pytest.fixture
def dataset(tmp_path):
    return write_dota_dataset(str(tmp_path / 'data'), n_images=4)


def in_process_config(dataset, work, **source_extra):
    """The config write_config writes, as a dict for AnnotateRunner."""
    return dict(source=dict(type='dota', ann_dir=f'{dataset}/labelTxt', img_dir=f'{dataset}/images',
                            class_list='sota', **source_extra),
                engine=dict(backend='box', prompt='hbox'), writer=dict(copy_images='copy'),
                runner=dict(num_workers=0, progress=False), work_dir=str(work))


def summary_of(work):
    with open(f'{work}/summary.json') as f:
        return json.load(f)


def test_unreadable_image_fails_alone_and_the_rerun_finishes(dataset, tmp_path):
    bad = f'{dataset}/images/img02.png'
    good_bytes = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(b'not a png at all')
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    proc = run_tool([TOOL, cfg], check=False)
    assert proc.returncode == 1
    assert 'img02.png: cannot read image header' in proc.stderr
    assert 'failed 1' in proc.stdout
    summary = summary_of(tmp_path / 'work')
    assert (summary['labelled'], summary['failed'], summary['complete']) == (3, 1, False)
    assert summary['failures'][0]['file'].endswith('img02.png')
    with open(bad, 'wb') as f:
        f.write(good_bytes)
    proc = run_tool([TOOL, cfg])
    assert 'labelled 4 (this run 1, resumed 3)' in proc.stdout


def test_empty_annotation_file(dataset, tmp_path):
    open(f'{dataset}/labelTxt/img01.txt', 'w').close()
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    proc = run_tool([TOOL, cfg], check=False)
    assert proc.returncode == 1
    assert 'img01.txt' in proc.stderr and 'no objects' in proc.stderr and 'allow_empty=True' in proc.stderr
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
    proc = run_tool([TOOL, cfg], check=False)
    assert proc.returncode == 1
    assert 'img03.txt:6' in proc.stderr and "unknown class 'spaceship'" in proc.stderr
    AnnotateRunner(in_process_config(dataset, tmp_path / 'work', skip_unknown=True)).run()
    summary = summary_of(tmp_path / 'work')
    assert summary['failed'] == 0 and summary['read_stats']['unknown_classes'] == {'spaceship': 1}
    assert summary['objects'] == 12


def test_checkpoint_that_does_not_exist(dataset, tmp_path):
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    proc = run_tool([TOOL, cfg, '--cfg-options', 'engine.backend=segment_anything',
                     'engine.checkpoint=/no/such/sam_vit_h.pth'], check=False)
    assert proc.returncode == 2
    assert 'SAM checkpoint not found: /no/such/sam_vit_h.pth' in proc.stderr
    assert 'dl.fbaipublicfiles.com/segment_anything' in proc.stderr and 'engine.backend=box' in proc.stderr
    assert not (tmp_path / 'work').exists()  # refused before any work


def test_sam_without_checkpoint_is_refused_with_the_fix(dataset, tmp_path):
    cfg = write_config(str(tmp_path / 'cfg.py'), dataset, str(tmp_path / 'work'))
    proc = run_tool([TOOL, cfg, '--cfg-options', 'engine.backend=segment_anything'], check=False)
    assert proc.returncode == 2
    assert 'needs SAM weights' in proc.stderr and '--cfg-options engine.backend=box' in proc.stderr


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
