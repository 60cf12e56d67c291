"""The command-line side both scene tools share: ranks, one owner of the output folder, stops, the report.

:func:`run_scene_tool` does for ``tools/annotate_scene.py`` and ``tools/infer_scene.py`` what
``tools/samrs_annotate.py`` does for datasets (docs/runs.md): the ranks of a torchrun / Slurm
run (:func:`~samrs_mm.runs.setup_ranks`), inputs checked before anything is written (exit 2
with one line), rank 0 owning the output folder (:func:`~samrs_mm.runs.take_folder`), stop
signals turned into a summary and ``128 + N``, a full disk into exit 3, and the closing report.
"""
from __future__ import annotations

import signal
import sys
from typing import Callable, Dict

from ..runs import (
    EXIT_STORAGE,
    EXIT_USAGE,
    OptionError,
    RunInterrupted,
    StorageError,
    die_with_parent,
    print_error,
    setup_ranks,
    stop_on_signals,
    take_folder,
)
from .raster import SceneInputError, gdal_env

__all__ = ['run_scene_tool', 'load_tool_config']

DIST_TIMEOUT = 7 * 24 * 3600


def load_tool_config(path: str, options):
    """The mmengine Config of ``path`` with ``--cfg-options`` applied (errors: :class:`SceneInputError`)."""
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(path)
        if options:
            cfg.merge_from_dict(options)
    except Exception as exc:  # noqa: BLE001 - any parse error of the file is a usage error
        raise SceneInputError(f'cannot load config {path}: {str(exc).splitlines()[0] if str(exc) else exc}') from None
    return cfg


def run_scene_tool(name: str, out_dir: str, launcher: str, build: Callable, line: Callable[[Dict], str]) -> int:
    """Run a scene tool; return its exit status.

    ``build(rank, world_size, barrier)`` makes the :class:`~samrs_mm.scenes.run.SceneRun`
    (reading and checking every input; :class:`SceneInputError` / ``OptionError`` /
    ``ValueError`` -> exit 2, nothing written); ``line(summary)`` is the one-line report.
    """
    with stop_on_signals():
        try:
            with gdal_env():
                return _run(name, out_dir, launcher, build, line)
        except RunInterrupted as exc:  # outside the run, which handles its own stops
            print(f'[{name}] {exc}; finished work is kept, rerun the same command', file=sys.stderr)
            return exc.exit_status


def _run(name, out_dir, launcher, build, line) -> int:
    if launcher == 'pytorch':
        die_with_parent(signal.SIGTERM)  # a rank whose torchrun agent is killed stops like one it stops
    rank, world_size, barrier, share = setup_ranks(launcher, DIST_TIMEOUT)
    try:
        run = build(rank, world_size, barrier)
    except (SceneInputError, OptionError) as exc:
        print_error(str(exc))
        return EXIT_USAGE
    lock, run_id, problem = take_folder(out_dir, rank, share)
    if problem:
        if rank == 0:
            print_error(problem[1])
        return problem[0]
    run.run_id = run_id
    try:
        summary = run.run()
    except StorageError as exc:
        print_error(str(exc))
        return EXIT_STORAGE
    finally:
        if lock is not None:
            lock.release()
    if rank != 0:
        return int(summary.get('exit_status', 0))
    return report(name, summary, out_dir, line)


def report(name: str, summary: Dict, out_dir: str, line: Callable[[Dict], str]) -> int:
    """Print rank 0's closing lines; return the exit status."""
    stopped = summary.get('stopped')
    if stopped is not None:
        if stopped['reason'] == 'storage':
            print_error(stopped['detail'])
        print(f'[{name}] stopped early ({stopped["detail"]}): {summary.get("not_reached", 0)} of '
              f'{summary.get("units", 0)} units not reached; finished ones are kept, rerun the same command to '
              'finish', file=sys.stderr)
        print(f'[{name}] summary in {out_dir}/summary.json')
    else:
        print(f'[{name}] {line(summary)}')
        print(f'[{name}] outputs in {out_dir} ({", ".join(summary.get("outputs", []))}; summary.json)')
    failures = summary.get('failures') or []
    if failures:
        print(f'[{name}] {len(failures)} unit(s) failed; the output is incomplete. First failures:', file=sys.stderr)
        for failure in failures[:10]:
            print(f'  {failure["error"]}', file=sys.stderr)
        print('  fix them and rerun the same command: finished units are kept.', file=sys.stderr)
    return int(summary.get('exit_status', 0))
