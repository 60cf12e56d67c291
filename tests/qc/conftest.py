"""Shared QC runs: one fake annotate output from iSAID's ground truth (with planted defects),
its old-format twin (no quality fields) and the QC passes over both, made once per module."""
import importlib.util
import json
import os.path as osp
import shutil

import pytest

from tests.conftest import REPO_ROOT


def load_tool():
    """``tools/label_qc.py`` as a module (its ``main(argv)`` runs in this process)."""
    spec = importlib.util.spec_from_file_location('label_qc_tool', osp.join(REPO_ROOT, 'tools', 'label_qc.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def strip_signals(src: str, dst: str) -> None:
    """Copy a work dir without the quality fields (what runs before them wrote)."""
    from samrs_mm.structures.mask_quality import QUALITY_FIELDS
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns('qc', '.tmp'))
    for path in sorted(__import__('glob').glob(osp.join(dst, 'instances', '*.json'))):
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        for obj in data['objects']:
            for key in QUALITY_FIELDS:
                obj.pop(key, None)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(data, f)


@pytest.fixture(scope='session')
def qc_runs(shared_data, tmp_path_factory):
    """``dict(new=..., old=..., planted=..., tool=...)``: both work dirs, their QC outputs and
    filtered copies (new: ``--apply`` drop with pages; old: ``--apply-mode ignore``, no pages)."""
    from tests.qc.qc_data import write_isaid_work_dir
    root = tmp_path_factory.mktemp('qc')
    new_dir, planted = write_isaid_work_dir(shared_data, str(root / 'new'), store_signals=True)
    old_dir = str(root / 'old' / 'sota')
    strip_signals(new_dir, old_dir)
    tool = load_tool()
    runs = dict(planted=planted, tool=tool, root=str(root))
    for key, work_dir, extra in (('new', new_dir, ['--apply', '--apply-dir', str(root / 'dropped' / 'sota')]),
                                 ('old', old_dir, ['--apply', '--apply-dir', str(root / 'ignored' / 'sota'),
                                                   '--apply-mode', 'ignore', '--no-pages'])):
        status = tool.main([work_dir] + extra)
        assert status == 0
        with open(osp.join(work_dir, 'qc', 'summary.json'), encoding='utf-8') as f:
            summary = json.load(f)
        runs[key] = dict(work_dir=work_dir, summary=summary, apply_dir=summary['apply']['out_dir'])
    return runs
