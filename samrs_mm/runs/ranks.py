"""Several processes of one run (torchrun, Slurm): their ranks, a barrier, and one owner of the output folder.

:func:`setup_ranks` turns the launcher's environment into ``(rank, world_size, barrier,
share)``: a gloo process group is enough (the tools need a barrier and one small broadcast,
no collective on the GPU), so it works on CPU-only machines too. :func:`take_folder` lets rank
0 take the output folder's :class:`~samrs_mm.runs.lock.WorkDirLock` and tells every rank the
outcome before anyone writes, with a run id shared by all ranks.
"""
from __future__ import annotations

import datetime
import os
import subprocess
import uuid
from typing import Callable, Optional, Tuple

from .errors import EXIT_FAILED, EXIT_STORAGE, EXIT_USAGE, StorageError, stop_record
from .lock import WorkDirBusy, WorkDirLock
from .signals import RunInterrupted, interrupted_stop

__all__ = ['LAUNCHERS', 'setup_ranks', 'take_folder', 'wait_for_ranks']

LAUNCHERS = ('none', 'pytorch', 'slurm')


def setup_ranks(launcher: str, timeout_s: float) -> Tuple[int, int, Optional[Callable[[], None]], Callable]:
    """``(rank, world_size, barrier, share)`` for the launcher; ``share(obj)`` returns rank 0's
    ``obj`` on every rank; ``barrier`` is None for a single process."""
    if launcher == 'none':
        return 0, 1, None, lambda obj: obj
    if launcher == 'slurm':
        # Same mapping as mmengine's Slurm launcher, without its CUDA-only device setup.
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            nodes = subprocess.getoutput(f'scontrol show hostname {os.environ["SLURM_NODELIST"]} | head -n1')
            os.environ['MASTER_ADDR'] = nodes.strip()
        os.environ.setdefault('MASTER_PORT', '29500')
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if world_size == 1:
        return 0, 1, None, lambda obj: obj
    import torch.distributed as dist
    dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=timeout_s))

    def share(obj):
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]
    return rank, world_size, dist.barrier, share


def take_folder(folder: str, rank: int, share) -> Tuple[Optional[WorkDirLock], str, Optional[Tuple[int, str]]]:
    """Rank 0 takes ``folder``'s lock; every rank learns the outcome (and the run id).

    Returns ``(lock or None, run_id, problem)`` where ``problem`` is ``(exit status, message)``
    when the run must not start (the folder is in use: 2; it cannot be written: 3).
    """
    lock, outcome = None, dict(run_id=uuid.uuid4().hex[:12], problem=None)
    if rank == 0:
        lock = WorkDirLock(folder)
        try:
            lock.acquire()
        except WorkDirBusy as exc:
            lock, outcome['problem'] = None, (EXIT_USAGE, str(exc))
        except StorageError as exc:
            lock, outcome['problem'] = None, (EXIT_STORAGE, str(exc))
    outcome = share(outcome)
    return lock, outcome['run_id'], outcome['problem']


def wait_for_ranks(barrier: Callable[[], None]) -> Optional[dict]:
    """Wait at ``barrier`` for every rank; a stop record when the wait was interrupted (a signal)
    or another rank is gone (gloo raises when a peer's connection closes), else None."""
    try:
        barrier()
    except (RunInterrupted, KeyboardInterrupt) as exc:
        return interrupted_stop(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the backend raises for a lost peer
        return stop_record('rank_lost', f'another process of this run ended early ({type(exc).__name__}: {exc})',
                           EXIT_FAILED)
    return None
