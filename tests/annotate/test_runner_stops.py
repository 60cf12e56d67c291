"""What clusters do to a labelling run: kill -9, SIGTERM, a second run on the same work dir.

One chain of real tool runs, with ``prompt_batch_size='auto'`` (tiny random SAM) and two
DataLoader workers, shared by the tests below. An annotation file swapped for a named pipe
holds a run at a known image whatever the machine's speed:

1. pipe at img02: the run labels img00, img01 (deciding the batch size first) and waits;
   it is killed with SIGKILL;
2. pipe at img03: the rerun resumes two images, labels img02 and waits; a second run on the
   same work dir is refused; then SIGTERM;
3. no pipe: the rerun finishes (in this process, with its two workers), its decoder's prompt
   batches recorded.

The files must equal those of an uninterrupted run, and no process of a killed run may live on.
Why keeping the size matters is checked where it is decided, not by hoping that another size
rounds the floating point of this machine differently: the resumed run must decode every
prompt batch at the kept size, with no new measuring pass.
"""
import contextlib
import io
import json
import os
import os.path as osp
import signal

import pytest

from samrs_mm.annotate.engine.prompts import SamPromptBuilder
from tests.annotate.annotate_data import PLANE_GRID, decided_size, tool_main, tree_files, write_config
from tests.annotate.conftest import GRID_ENGINE
from tests.conftest import blocking_file, group_processes, kill_group, start_tool, survivors, wait_for

TOOL = 'tools/samrs_annotate.py'
ONE_THREAD = dict(OMP_NUM_THREADS='1')  # as the in-process reference runs
ENGINE_EXTRA = ''.join(f', {k}={v!r}' for k, v in GRID_ENGINE.items())


def labelled_stems(work):
    folder = osp.join(work, 'instances')
    return sorted(osp.splitext(n)[0] for n in os.listdir(folder)) if osp.isdir(folder) else []


@contextlib.contextmanager
def recorded_prompt_batches():
    """Collect the number of objects of every prompt batch built for the decoder."""
    sizes = []
    batch = SamPromptBuilder.batch

    def recording(self, start, stop, device):
        sizes.append(stop - start)
        return batch(self, start, stop, device)
    SamPromptBuilder.batch = recording
    try:
        yield sizes
    finally:
        SamPromptBuilder.batch = batch


@pytest.fixture(scope='module')
def chain(grid_data, tmp_path_factory):
    """Run the chain of the module docstring once; return what was seen along the way."""
    root = tmp_path_factory.mktemp('stops')
    work = str(root / 'work')
    cfg = write_config(str(root / 'run.py'), grid_data, work, backend='tiny', prompt_batch_size='auto',
                       engine_extra=ENGINE_EXTRA, num_workers=2)
    labels = osp.join(grid_data, 'labelTxt')
    seen = dict(work=work, cfg=cfg)
    procs = []
    try:
        # 1. kill -9 while a worker waits on img02.
        with blocking_file(osp.join(labels, 'img02.txt')):
            proc = start_tool([TOOL, cfg], str(root / 'run1'), env=ONE_THREAD)
            procs.append(proc)
            wait_for(lambda: labelled_stems(work) == ['img00', 'img01'], proc, what='two images labelled')
            seen['run1_group'] = group_processes(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            seen['run1_survivors'] = survivors(proc.pid)
        seen['after_kill'] = labelled_stems(work)
        seen['size_after_kill'] = decided_size(work)
        seen['lock_after_kill'] = osp.exists(osp.join(work, '.samrs_mm.lock'))
        # 2. a second run is refused while the rerun waits on img03; then SIGTERM.
        with blocking_file(osp.join(labels, 'img03.txt')):
            proc = start_tool([TOOL, cfg], str(root / 'run2'), env=ONE_THREAD)
            procs.append(proc)
            wait_for(lambda: 'img02' in labelled_stems(work), proc, what='img02 labelled')
            seen['run2_pid'] = proc.pid
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                seen['second_status'] = tool_main('samrs_annotate')([cfg, '--num-workers', '0'])
            seen['second_stderr'] = err.getvalue()
            seen['run2_group'] = group_processes(proc.pid)
            proc.send_signal(signal.SIGTERM)
            seen['run2_status'] = proc.wait(timeout=120)
            seen['run2_survivors'] = survivors(proc.pid)
        with open(root / 'run2' / 'stdout') as f, open(root / 'run2' / 'stderr') as g:
            seen['run2_output'] = f.read() + g.read()
        with open(osp.join(work, 'summary.json')) as f:
            seen['run2_summary'] = json.load(f)
        seen['tmp_after_term'] = osp.exists(osp.join(work, '.tmp'))
        # 3. the rerun finishes (in this process: one tool start less), recording the size of
        # every prompt batch its decoder is given.
        out = io.StringIO()
        with contextlib.redirect_stdout(out), recorded_prompt_batches() as batches:
            seen['run3_status'] = tool_main('samrs_annotate')([cfg])
        seen['run3_batches'] = batches
        seen['run3_output'] = out.getvalue()
        seen['files'] = tree_files(work, exclude=('logs', 'prompt_batch_size'))
        seen['size'] = decided_size(work)
    finally:
        for proc in procs:
            kill_group(proc.pid)
            proc.wait()
    return seen


def test_kill_9_leaves_no_process_and_keeps_finished_images(chain):
    assert len(chain['run1_group']) == 3  # the tool and its two DataLoader workers
    assert chain['run1_survivors'] == []  # workers die with their parent
    assert chain['after_kill'] == ['img00', 'img01']
    # The lock file of the killed run stays, and does not hold the next run back.
    assert chain['lock_after_kill']
    assert chain['size_after_kill'] in (1, 2, 4, 8)


def test_second_run_on_the_work_dir_is_refused_naming_the_first(chain):
    assert chain['second_status'] == 2
    message = chain['second_stderr']
    assert message.startswith(f'error: {chain["work"]} is in use by another run (pid {chain["run2_pid"]} on ')
    assert 'samrs_annotate.py' in message and '.samrs_mm.lock' in message
    assert message.count('\n') == 1


def test_sigterm_stops_with_an_interrupted_summary(chain):
    assert chain['run2_status'] == 128 + signal.SIGTERM
    assert len(chain['run2_group']) == 3 and chain['run2_survivors'] == []
    assert 'labelled 3 (this run 1, resumed 2)' in chain['run2_output']
    assert 'not reached 1 (interrupted by SIGTERM)' in chain['run2_output']
    summary = chain['run2_summary']
    assert summary['complete'] is False
    assert summary['stopped'] == dict(reason='interrupted', detail='interrupted by SIGTERM', exit_status=143)
    assert (summary['images'], summary['labelled'], summary['failed'], summary['not_reached']) == (4, 3, 0, 1)
    assert summary['rerun'].startswith('rerun the same command')
    assert not chain['tmp_after_term']  # no temporary file left (the killed run's included)


def test_resume_after_kills_equals_an_uninterrupted_run(chain, grid_reference):
    assert chain['run3_status'] == 0
    assert 'labelled 4 (this run 1, resumed 3)' in chain['run3_output']
    assert chain['size'] == chain['size_after_kill']  # decided once, kept across both kills
    _, reference = grid_reference(chain['size'])
    assert chain['files'] == reference
    assert not osp.exists(osp.join(chain['work'], '.samrs_mm.lock'))
    # The resumed run decoded img03's objects in batches of the kept size, and nothing else
    # (a new measurement would decode repeated copies of an image's objects at several sizes).
    size, objects = chain['size'], len(PLANE_GRID)
    assert chain['run3_batches'] == [min(size, objects - start) for start in range(0, objects, size)]


@pytest.mark.parametrize('backend', ['sam_hq', 'sam2', 'sam3'])
def test_every_sam_family_decides_once_and_resumes_with_the_kept_size(backend, tmp_path):
    """The other families decode through the same sizer (SAM: the chain above): 'auto' is
    decided once, kept, and a resume adopts it (no new measurement) and rewrites the lost
    image byte for byte."""
    from samrs_mm.annotate.runner import AnnotateRunner
    from tests.annotate.annotate_data import PLANE_GRID, config_dict, write_dota_dataset
    data = write_dota_dataset(str(tmp_path / 'data'), n_images=2, objects=PLANE_GRID)
    cfg = config_dict(data, tmp_path / 'work', backend='tiny', prompt_batch_size='auto', **GRID_ENGINE)
    cfg['engine']['backend'] = backend
    logs = []
    assert AnnotateRunner(cfg, log=logs.append).run().complete
    assert len([line for line in logs if 'measured here' in line]) == 1
    before = tree_files(str(tmp_path / 'work'))
    os.remove(tmp_path / 'work' / 'instances' / 'img01.json')
    logs.clear()
    summary = AnnotateRunner(cfg, log=logs.append).run()
    assert (summary.labelled_now, summary.resumed) == (1, 1) and logs == []
    assert tree_files(str(tmp_path / 'work')) == before
