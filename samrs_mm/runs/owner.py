"""Run a tool's work as the one owner of its output folder, with every stop mapped to an exit status."""
import sys
from typing import Callable, Optional, Tuple, Type

from .errors import EXIT_STORAGE, EXIT_USAGE, StorageError, as_storage_error
from .lock import WorkDirBusy, WorkDirLock
from .options import print_error
from .signals import RunInterrupted, stop_on_signals

__all__ = ['run_as_owner']


def run_as_owner(folder: str, work: Callable[[], int],
                 usage_errors: Tuple[Type[BaseException], ...] = (),
                 interrupted: Optional[Callable[[RunInterrupted], str]] = None) -> int:
    """Run ``work()`` (which returns the exit status) holding ``folder``'s lock, stop signals caught.

    What clusters do becomes the exit statuses of docs/runs.md with a one-line message: a second
    run on the folder and any of ``usage_errors`` -> 2; SIGTERM / SIGINT / SIGHUP -> 128 + N with
    ``interrupted(error)`` (default: finished work is kept, rerun) on stderr; a full or read-only
    disk -> 3. Any other error propagates (a bug must keep its traceback). Call it once the
    options and inputs were checked, so that a refused run has written nothing.
    """
    with stop_on_signals():
        try:
            with WorkDirLock(folder):
                return work()
        except (WorkDirBusy, *usage_errors) as error:
            print_error(str(error))
            return EXIT_USAGE
        except RunInterrupted as error:
            message = (interrupted(error) if interrupted is not None
                       else f'{error}; finished work is kept, rerun the same command to finish')
            print(message, file=sys.stderr)
            return error.exit_status
        except (StorageError, OSError) as error:
            storage = as_storage_error(error, folder=folder)
            if storage is None:
                raise
            print_error(str(storage))
            return EXIT_STORAGE
