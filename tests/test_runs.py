"""samrs_mm.runs: the pieces every long-running tool shares (the tools' own tests run them for real)."""
import errno
import json
import os
import signal
import sys

import pytest

from samrs_mm.annotate.engine.batch_size import BatchSizeStore, PromptBatchSizer
from samrs_mm.runs import (
    ConfigOptionsAction,
    OptionError,
    RunInterrupted,
    StorageError,
    ToolArgumentParser,
    WorkDirBusy,
    WorkDirLock,
    as_storage_error,
    describe_exit_status,
    stop_on_signals,
)
from samrs_mm.runs.lock import LOCK_FILE
from samrs_mm.runs.options import parse_config_value
from samrs_mm.structures import class_list_from_text


def test_lock_refuses_a_second_owner_naming_the_first_and_takes_over_a_stale_file(tmp_path):
    folder = str(tmp_path / 'work')
    with WorkDirLock(folder) as lock:
        owner = json.loads((tmp_path / 'work' / LOCK_FILE).read_text())
        assert owner['pid'] == os.getpid() and owner['command'].startswith(os.path.basename(sys.executable))
        with pytest.raises(WorkDirBusy) as busy:
            WorkDirLock(folder).acquire()
        assert str(busy.value).startswith(f'{folder} is in use by another run (pid {os.getpid()} on ')
        assert lock.locked
    assert not (tmp_path / 'work' / LOCK_FILE).exists()
    # What a killed run leaves: a file nobody holds. It names a dead owner and is taken over.
    (tmp_path / 'work' / LOCK_FILE).write_text(json.dumps(dict(pid=1, host='gone')))
    with WorkDirLock(folder):
        assert json.loads((tmp_path / 'work' / LOCK_FILE).read_text())['pid'] == os.getpid()


CHILD = r'''
import functools, multiprocessing, os, sys, time
from samrs_mm.runs import WorkDirLock, init_worker

def report(_):
    fds = os.listdir('/proc/self/fd')
    return [os.readlink(f'/proc/self/fd/{fd}') for fd in fds if os.path.exists(f'/proc/self/fd/{fd}')]

def wait(_):
    time.sleep(600)

if __name__ == '__main__':
    lock = WorkDirLock(sys.argv[1]).acquire()
    ctx = multiprocessing.get_context('fork')
    # obey_sigterm: Pool.terminate (leaving the with block) stops its workers with SIGTERM.
    with ctx.Pool(1, initializer=functools.partial(init_worker, os.getpid(), obey_sigterm=True)) as pool:
        files = pool.map(report, [0])[0]
    print('lock fd in worker:', lock.path in files, flush=True)
    pool = ctx.Pool(1, initializer=functools.partial(init_worker, os.getpid(), obey_sigterm=True))
    pool.map_async(wait, [0])
    print('worker', pool._pool[0].pid, flush=True)
    time.sleep(600)
'''


@pytest.mark.timeout(120)  # a worker that ignored SIGTERM once hung Pool.terminate in the child
def test_workers_die_with_their_parent_and_a_killed_owner_frees_the_folder(tmp_path):
    """A process holding the lock starts a worker (init_worker) and is killed with SIGKILL:
    the worker dies too (it would block forever otherwise) and the folder is free at once."""
    import subprocess

    from tests.conftest import kill_group, survivors
    blocked = tmp_path / 'blocked'  # samrs_mm.runs needs no OpenMMLab: skip its registration
    for name in ('mmengine', 'mmcv', 'mmseg'):
        (blocked / name).mkdir(parents=True)
        (blocked / name / '__init__.py').write_text('raise ImportError("not needed here")\n')
    script = tmp_path / 'child.py'
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocked), os.getcwd(), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / 'work')], env=env, text=True,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == 'lock fd in worker: False'  # closed in the child
        worker = int(proc.stdout.readline().split()[1])
        os.kill(worker, 0)  # alive
        with pytest.raises(WorkDirBusy):
            WorkDirLock(str(tmp_path / 'work')).acquire()
        proc.kill()
        proc.wait()
        assert survivors(proc.pid) == []
        with WorkDirLock(str(tmp_path / 'work')):
            pass
    finally:
        kill_group(proc.pid)
        proc.wait()


def test_stop_signals_raise_once_and_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterrupted) as stop:
        with stop_on_signals():
            signal.raise_signal(signal.SIGTERM)
    assert (stop.value.signal_name, stop.value.exit_status) == ('SIGTERM', 143)
    assert signal.getsignal(signal.SIGTERM) == before
    assert describe_exit_status(130) == 'interrupted by SIGINT' and describe_exit_status(3).startswith('output')
    # A signal the process ignores (nohup: SIGHUP) stays ignored; one it handles is taken over.
    # (SIGINT set here: pytest-xdist workers ignore it.)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGHUP, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def test_storage_errors_name_the_file_written():
    err = as_storage_error(OSError(errno.ENOSPC, 'No space left on device', '/w/.tmp/pid1/3-a.png'),
                           '/w/semantic/a.png', '/w')
    assert isinstance(err, StorageError) and str(err) == 'cannot write /w/semantic/a.png: No space left on device'
    copy = OSError(errno.EROFS, 'Read-only file system', '/data/a.png', None, '/w/images/a.png')
    assert str(as_storage_error(copy, folder='/w')) == 'cannot write /w/images/a.png: Read-only file system'
    assert as_storage_error(OSError(errno.ENOENT, 'No such file or directory', '/x')) is None
    assert as_storage_error(ValueError('x')) is None


def test_option_errors_are_one_line(capsys):
    parser = ToolArgumentParser(prog='tool.py')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction)
    args = parser.parse_args(['--cfg-options', 'source.ann_dir=data/DIOR/Annotations/Horizontal Bounding Boxes',
                              'a=[1, 2]', 'b=8', 'c=True', "d='quoted value'", 'e=x,y'])
    assert args.cfg_options == {'source.ann_dir': 'data/DIOR/Annotations/Horizontal Bounding Boxes',
                                'a': [1, 2], 'b': 8, 'c': True, 'd': 'quoted value', 'e': ['x', 'y']}
    for bad, message in ((['--cfg-options', 'engine.backend'], "--cfg-options: 'engine.backend' is not KEY=VALUE"),
                         (['--cfg-options', 'a=[1,2'], "--cfg-options: cannot read the value of 'a'")):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(bad)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith(f'tool.py: error: {message}') and err.count('\n') == 1
    with pytest.raises(SystemExit):
        parser.fail(OptionError('--classes', "'foo' is not a class list", 'sota, sior, fast'))
    assert capsys.readouterr().err == \
        "tool.py: error: --classes: 'foo' is not a class list; valid: sota, sior, fast (see --help)\n"
    assert parse_config_value(' /a b/c ') == '/a b/c' and parse_config_value('None') is None


def test_class_list_option():
    assert class_list_from_text('SOTA') == 'sota'
    assert class_list_from_text('ship, plane') == ['ship', 'plane']
    assert class_list_from_text('ship,') == ['ship']
    for bad, message in (('sotaa', "'sotaa' is not a class list name (fast, sior, sota) nor a comma-separated "
                                   "list of class names (one class: 'sotaa,')"),
                         (',', "',' holds no class name"), ('a,a', "'a,a' names a class twice")):
        with pytest.raises(ValueError) as err:
            class_list_from_text(bad)
        assert str(err.value) == message


def test_prompt_batch_size_decided_once_and_kept(tmp_path):
    sizer = PromptBatchSizer('auto', max_size=8, candidates=(1, 2, 4, 8))
    assert sizer.calibration_prompts() == 2 * 15
    assert sizer.next_size('hbox') == 1 and sizer.provisional == 1 and sizer.undecided() == ['hbox']
    sizer.record('hbox', 1, 0.1)
    assert sizer.decide_all() == {'hbox': 1} and sizer.next_size('hbox') == 1 and sizer.provisional == 1
    assert sizer.adopt('rbox', 64) == 8  # capped at the memory budget
    assert sizer.decisions() == {'hbox': 1, 'rbox': 8}
    assert PromptBatchSizer(16, max_size=8).decisions() == {} and PromptBatchSizer(16, max_size=8).next_size('x') == 8
    store = BatchSizeStore(str(tmp_path / 'prompt_batch_size'), 'abc-cpu')
    assert store.load('hbox') is None
    assert store.publish('hbox', 4, dict(note='first')) == (4, True)
    assert store.publish('hbox', 16) == (4, False)  # first decision wins
    assert BatchSizeStore(str(tmp_path / 'prompt_batch_size'), 'abc-cuda').load_all() == {}
    assert store.load_all() == {'hbox': 4}
    assert os.listdir(tmp_path / 'prompt_batch_size') == ['abc-cpu-hbox.json']
