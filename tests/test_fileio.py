"""samrs_mm.fileio: atomic writes and the records of finished work."""
import json
import os

import pytest

from samrs_mm.fileio import atomic_open, atomic_write, load_record, record_is_current, temp_path


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / 'sub' / 'a.png'
    atomic_write(str(target), b'one')
    atomic_write(str(target), b'two', tmp_dir=str(tmp_path / '.tmp'))
    assert target.read_bytes() == b'two'
    assert os.listdir(tmp_path / 'sub') == ['a.png'] and os.listdir(tmp_path / '.tmp') == []
    assert not temp_path(str(target)).endswith('.png')  # globs of the output skip temp files


def test_atomic_open_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / 'list.txt'
    target.write_text('old\n')
    with pytest.raises(RuntimeError):
        with atomic_open(str(target), 'w') as f:
            f.write('half')
            raise RuntimeError('killed')
    assert target.read_text() == 'old\n' and os.listdir(tmp_path) == ['list.txt']


def test_records_are_current_only_with_same_settings_and_outputs(tmp_path):
    out = tmp_path / 'x.png'
    record_path = tmp_path / 'x.json'
    assert load_record(str(record_path)) is None
    record_path.write_text('{"settings": {"size": 1')  # torn by a kill: redo, never trust
    assert load_record(str(record_path)) is None
    record_path.write_text(json.dumps(dict(settings=dict(size=1))))
    record = load_record(str(record_path))
    assert not record_is_current(record, dict(settings=dict(size=1)), [str(out)])
    out.write_bytes(b'')
    assert record_is_current(record, dict(settings=dict(size=1)), [str(out)])
    assert not record_is_current(record, dict(settings=dict(size=2)), [str(out)])
