"""SIGTERM / SIGINT / SIGHUP end a run cleanly instead of killing it mid-write.

Schedulers stop a job with SIGTERM and kill it a little later (Slurm's ``KillWait``, 30 s by
default; torchrun's agent likewise); Ctrl-C sends SIGINT; a dropped terminal SIGHUP. Inside
:func:`stop_on_signals` the first of them raises :class:`RunInterrupted` in the main thread,
at the next Python instruction: the item in progress is abandoned (its files are written
atomically, so nothing half-written is left), finished items stay, and the tool writes a
summary saying it was interrupted and exits with ``128 + signal`` (143 for SIGTERM, 130 for
SIGINT). A second signal while that summary is written ends the process at once.

A signal the process ignores (``nohup`` ignores SIGHUP) stays ignored.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Dict, Iterator, Sequence

__all__ = ['STOP_SIGNALS', 'RunInterrupted', 'interrupted_stop', 'stop_on_signals']

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class RunInterrupted(BaseException):
    """A stop signal arrived. A ``BaseException`` (like ``KeyboardInterrupt``), so the
    ``except Exception`` that keeps one bad item from stopping a run lets it through."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.signal_name = signal.Signals(self.signum).name
        super().__init__(f'interrupted by {self.signal_name}')

    @property
    def exit_status(self) -> int:
        """The shell's status of a process ended by this signal: ``128 + signum``."""
        return 128 + self.signum


def interrupted_stop(exc: BaseException) -> dict:
    """The :func:`~samrs_mm.runs.errors.stop_record` of a run ended by ``exc``: a
    :class:`RunInterrupted`, or a ``KeyboardInterrupt`` (SIGINT without the handler)."""
    from .errors import stop_record
    signum = exc.signum if isinstance(exc, RunInterrupted) else int(signal.SIGINT)
    return stop_record('interrupted', f'interrupted by {signal.Signals(signum).name}', 128 + signum)


def _die_now(signum, frame) -> None:
    """Second signal: end the process as the signal's default action would."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Inside the block, the first of ``signals`` raises :class:`RunInterrupted`.

    Handlers are restored on exit. Outside the main thread (where Python cannot install
    handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: Dict[int, object] = {}

    def interrupt(signum, frame):
        for sig in previous:
            signal.signal(sig, _die_now)
        raise RunInterrupted(signum)

    for sig in signals:
        current = signal.getsignal(sig)
        if current == signal.SIG_IGN:
            continue
        previous[sig] = current
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
