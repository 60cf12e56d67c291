"""Resume: a crashed run and its rerun end with exactly the files of an uninterrupted run.

The tool runs in this process (its start costs seconds); kills of real runs (SIGKILL,
SIGTERM, with workers and ``prompt_batch_size='auto'``) are in test_runner_stops.py.
"""
import contextlib
import io
import json
import os
import os.path as osp

import pytest

from tests.annotate.annotate_data import tool_main, tree_files, write_config, write_dota_dataset


def annotate(cfg):
    """Run tools/samrs_annotate.py CONFIG in this process; return its stdout (status 0 required)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = tool_main('samrs_annotate')([cfg, '--num-workers', '0'])
    assert status == 0, out.getvalue()
    return out.getvalue()


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """One uninterrupted tiny-SAM run over 4 images: ``(data root, work dir, files)``."""
    root = tmp_path_factory.mktemp('resume')
    data = write_dota_dataset(str(root / 'data'), n_images=4)
    cfg = write_config(str(root / 'ref.py'), data, str(root / 'ref'), backend='tiny')
    assert 'images 4 | labelled 4 (this run 4, resumed 0)' in annotate(cfg)
    return data, str(root / 'ref'), tree_files(str(root / 'ref'))


def test_reference_layout(reference):
    _, work, files = reference
    stems = [f'img{k:02d}' for k in range(4)]
    expected = {'annotations.json', 'summary.json'}
    for stem in stems:
        expected |= {f'semantic/{stem}.png', f'color/{stem}.png', f'instances/{stem}.json', f'images/{stem}.png'}
    assert set(files) == expected  # no temporary files left behind
    summary = json.loads(files['summary.json'])
    assert (summary['images'], summary['labelled'], summary['objects'], summary['failed']) == (4, 4, 12, 0)
    assert os.listdir(osp.join(work, 'logs'))  # run log and config copy live apart


def test_crash_leftovers_are_repaired(reference, tmp_path):
    """A crash between images leaves temp files, maybe a truncated label; the rerun repairs it."""
    data, _, ref_files = reference
    work = tmp_path / 'run'
    cfg = write_config(str(tmp_path / 'run.py'), data, str(work), backend='tiny')
    for rel, content in ref_files.items():  # a finished run ...
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    # ... then a crash: merge outputs gone, a stale temp file, one half-written instance file,
    # one image whose labels were made with other settings.
    (work / 'summary.json').unlink()
    (work / 'annotations.json').unlink()
    (work / '.tmp' / 'pid1').mkdir(parents=True)
    (work / '.tmp' / 'pid1' / '7-img03.json').write_text('{"trunc')
    (work / 'instances' / 'img02.json').write_bytes(ref_files['instances/img02.json'][:50])
    stale = json.loads(ref_files['instances/img03.json'])
    stale['settings'] = 'older-settings'
    (work / 'instances' / 'img03.json').write_text(json.dumps(stale))
    assert 'labelled 4 (this run 2, resumed 2)' in annotate(cfg)
    assert tree_files(str(work)) == ref_files


def test_settings_fingerprint_tracks_output_settings_only():
    """Settings that change the files change the fingerprint; device, batch sizes and the
    checkpoint's folder do not (a run moved to a GPU box resumes instead of relabelling)."""
    from samrs_mm.annotate.engine import ENGINE_DEFAULTS
    from samrs_mm.annotate.runner import settings_fingerprint
    writer = dict(overlap='small_on_top', ignore_index=255)
    classes = ['ship', 'plane']

    def fingerprint(**engine):
        cfg = dict(ENGINE_DEFAULTS, checkpoint='/a/sam_vit_h.pth')
        cfg.update(engine)
        return settings_fingerprint(cfg, writer, classes)

    base = fingerprint()
    assert len(base) == 16 and base == fingerprint()
    for same in (dict(device='cuda'), dict(prompt_batch_size=64), dict(image_batch_size=4),
                 dict(encoder_heads_per_chunk=2), dict(checkpoint='/b/sam_vit_h.pth')):
        assert fingerprint(**same) == base, same
    for other in (dict(allow_tf32=True), dict(dtype='bfloat16'), dict(prompt='rhbox'),
                  dict(multimask_output=True), dict(checkpoint='/a/sam_vit_b.pth')):
        assert fingerprint(**other) != base, other
    assert settings_fingerprint(dict(ENGINE_DEFAULTS), writer, classes[::-1]) != \
        settings_fingerprint(dict(ENGINE_DEFAULTS), writer, classes)
    assert settings_fingerprint(dict(ENGINE_DEFAULTS), dict(writer, overlap='large_on_top'), classes) != \
        settings_fingerprint(dict(ENGINE_DEFAULTS), writer, classes)


def test_existing_fingerprints_are_unchanged_and_families_differ():
    """The fingerprints of configurations written before the SAM families existed stay byte for byte
    (existing work dirs resume); family and model are part of it, so a resumed run never mixes models."""
    from samrs_mm.annotate.engine import ENGINE_DEFAULTS
    from samrs_mm.annotate.runner import WRITER_DEFAULTS, settings_fingerprint

    def fingerprint(**engine):
        return settings_fingerprint(dict(ENGINE_DEFAULTS, **engine), dict(WRITER_DEFAULTS), ['plane', 'ship'])
    # Values computed with the code of main before the SAM families (commit ad40df9).
    assert fingerprint() == '7616490ed55e9866'
    assert fingerprint(backend='box', prompt='hbox') == 'bda59fc13f8400e3'
    assert fingerprint(model_type='tiny_test', random_init=True, prompt='hbox', prompt_batch_size=8) == \
        'e409d1a627ac7f98'
    assert fingerprint(checkpoint='/x/sam_vit_h_4b8939.pth', device='cuda') == '88197b704a1cf1a3'
    tiny = dict(model_type='tiny_test', random_init=True, prompt='hbox')
    prints = {fingerprint(backend=b, **tiny) for b in ('segment_anything', 'sam_hq', 'sam2', 'sam3')}
    assert len(prints) == 4
    assert fingerprint(backend='sam2', model_type='hiera_l') != fingerprint(backend='sam2', model_type='hiera_b+')
    assert fingerprint(backend='sam_hq', hq_token_only=True) != fingerprint(backend='sam_hq')
