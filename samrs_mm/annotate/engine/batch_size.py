"""How many prompts the mask decoder takes at once: a fixed number, or measured (``'auto'``).

The best prompt batch size depends on the device: on 2 CPU cores SAM's decoder costs about
100 ms per prompt at batch 1-4 but 150 ms at batch 8-64 (cache pressure), while a GPU wants
large batches. ``'auto'`` measures instead of guessing, on the real work: the first batches
of the run are decoded at each candidate size in turn (each twice, the faster run counts,
so one-off start-up costs do not decide) and timed; from then on the size with the lowest
time per prompt is used. No prompt is decoded twice; the measurement costs nothing but the
slower candidates' extra time. Candidates whose activations would not fit the memory budget
are never tried; once a candidate is clearly slower per prompt than the best so far, larger
ones are skipped.

Measuring on the real work makes the first objects' masks depend on timing (a prompt batch of
another size rounds differently in the last float bits). A labelling run therefore decides
once per work dir and keeps the decision (:class:`BatchSizeStore`; the runner calibrates on
a throw-away pass, see :mod:`samrs_mm.annotate.runner`): every rank, and every resume, then
decodes with the same sizes, and the files do not depend on where a run was resumed or how
many processes made it. :attr:`PromptBatchSizer.provisional` counts the batches handed out
before a decision, so a caller can tell whether a pass used a measuring size.
"""
from __future__ import annotations

import datetime
import json
import os
import os.path as osp
import re
import socket
from typing import Dict, List, Optional, Sequence, Tuple, Union

__all__ = ['PromptBatchSizer', 'BatchSizeStore', 'DEFAULT_CANDIDATES']

DEFAULT_CANDIDATES = (1, 2, 4, 8, 16, 32, 64, 128, 256)

# A candidate slower per prompt than the best by this factor ends the search upwards.
_GIVE_UP_RATIO = 1.25


class PromptBatchSizer:
    """Chooses the decoder's prompt batch size, separately per prompt kind (``key``).

    Args:
        setting: an int >= 1 (fixed size) or ``'auto'``.
        max_size: the largest size the memory budget allows (caps both modes).
        candidates: sizes ``'auto'`` may try, ascending.
        repeats: timed runs per candidate.
    """

    def __init__(self, setting: Union[int, str], max_size: int,
                 candidates: Sequence[int] = DEFAULT_CANDIDATES, repeats: int = 2) -> None:
        if setting != 'auto' and not (isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1):
            raise ValueError(f"prompt_batch_size must be 'auto' or an int >= 1, got {setting!r}")
        self.setting = setting
        self.max_size = max(1, int(max_size))
        self.candidates = [c for c in sorted(candidates) if c <= self.max_size] or [1]
        self.repeats = repeats
        self._times: Dict[str, Dict[int, List[float]]] = {}
        self._chosen: Dict[str, int] = {}
        # Batches sized before a decision (their results depend on timing).
        self.provisional = 0

    def chosen(self, key: str) -> Optional[int]:
        """The size in use for ``key`` once decided (always, for a fixed setting)."""
        if self.setting != 'auto':
            return min(self.setting, self.max_size)
        return self._chosen.get(key)

    def measurements(self, key: str) -> Dict[int, float]:
        """Best measured seconds per prompt of each tried size (for logs and benchmarks)."""
        return {size: min(ts) / size for size, ts in self._times.get(key, {}).items() if ts}

    def next_size(self, key: str) -> int:
        """Size of the next batch of prompts of kind ``key``."""
        decided = self.chosen(key)
        if decided is not None:
            return decided
        times = self._times.setdefault(key, {})
        for size in self.candidates:
            if len(times.get(size, [])) < self.repeats:
                self.provisional += 1
                return size
        return self._decide(key)

    def record(self, key: str, size: int, seconds: float) -> None:
        """Report that a batch of ``size`` prompts took ``seconds`` (ignored once decided)."""
        if self.chosen(key) is not None or size not in self.candidates:
            return
        times = self._times.setdefault(key, {})
        times.setdefault(size, []).append(float(seconds))
        if len(times[size]) < self.repeats:
            return
        per_prompt = self.measurements(key)
        best = min(per_prompt.values())
        if per_prompt[size] > _GIVE_UP_RATIO * best or size == self.candidates[-1]:
            self._decide(key)

    @property
    def measuring(self) -> bool:
        """True for ``'auto'``: sizes are measured unless decided or adopted."""
        return self.setting == 'auto'

    def decisions(self) -> Dict[str, int]:
        """The decided size of every prompt kind (``'auto'`` only; empty for a fixed setting)."""
        return dict(self._chosen) if self.measuring else {}

    def undecided(self) -> List[str]:
        """Prompt kinds that were handed sizes while still measuring."""
        return [key for key in self._times if key not in self._chosen] if self.measuring else []

    def adopt(self, key: str, size: int) -> int:
        """Use ``size`` for ``key`` from now on (a decision made earlier or by another process).

        Capped at the memory budget's largest size; returns the size in use.
        """
        self._chosen[key] = max(1, min(int(size), self.max_size))
        return self._chosen[key]

    def decide_all(self) -> Dict[str, int]:
        """Decide every measured but undecided kind from what was measured so far."""
        return {key: self._decide(key) for key in self.undecided()}

    def calibration_prompts(self) -> int:
        """Prompts that one pass needs to time every candidate ``repeats`` times."""
        return self.repeats * sum(self.candidates)

    def _decide(self, key: str) -> int:
        """Fix the fastest measured size per prompt for ``key``."""
        per_prompt = self.measurements(key)
        size = min(per_prompt, key=per_prompt.get) if per_prompt else self.candidates[0]
        self._chosen[key] = size
        return size


class BatchSizeStore:
    """Decided prompt batch sizes kept in a folder of the work dir, first decision wins.

    One small json file per (settings fingerprint, device type, prompt kind): a resume on
    the same kind of device, or another rank, reads the size instead of measuring again.
    :meth:`publish` creates the file only when it does not exist yet (an atomic hard link),
    so when two ranks decide at the same time both end up with the first one's size.
    Another device type or other settings measure anew (their outputs differ anyway).
    """

    def __init__(self, folder: str, scope: str) -> None:
        self.folder = folder
        self.scope = scope

    def path(self, key: str) -> str:
        """The file of prompt kind ``key``."""
        return osp.join(self.folder, f'{self.scope}-{re.sub(r"[^A-Za-z0-9_.+-]", "_", key)}.json')

    def load(self, key: str) -> Optional[int]:
        """The size decided for ``key``, or None."""
        try:
            with open(self.path(key), encoding='utf-8') as handle:
                size = json.load(handle).get('prompt_batch_size')
        except (OSError, ValueError, AttributeError):
            return None
        return size if isinstance(size, int) and not isinstance(size, bool) and size >= 1 else None

    def load_all(self) -> Dict[str, int]:
        """Every prompt kind's kept size for this scope."""
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return {}
        sizes = {}
        for name in names:
            if not (name.startswith(self.scope + '-') and name.endswith('.json')):
                continue
            try:
                with open(osp.join(self.folder, name), encoding='utf-8') as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                continue
            size = record.get('prompt_batch_size') if isinstance(record, dict) else None
            if isinstance(record, dict) and isinstance(record.get('prompt'), str) and isinstance(size, int) \
                    and not isinstance(size, bool) and size >= 1:
                sizes[record['prompt']] = size
        return sizes

    def publish(self, key: str, size: int, details: Optional[dict] = None) -> Tuple[int, bool]:
        """Record ``size`` for ``key`` unless a size is recorded already.

        Returns the recorded size and whether this call recorded it.
        """
        from ...fileio import temp_path
        os.makedirs(self.folder, exist_ok=True)
        record = dict(prompt=key, prompt_batch_size=int(size), scope=self.scope, host=socket.gethostname(),
                      pid=os.getpid(), decided_at=datetime.datetime.now().isoformat(timespec='seconds'),
                      **(details or {}))
        path = self.path(key)
        tmp = temp_path(path)
        with open(tmp, 'w', encoding='utf-8') as handle:
            json.dump(record, handle, indent=1)
        mine = True
        try:
            os.link(tmp, path)
        except FileExistsError:
            mine = False
        except OSError:
            # No hard links here: an exclusive create is the same first-wins rule.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                mine = False
            else:
                with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                    json.dump(record, handle, indent=1)
        finally:
            os.remove(tmp)
        kept = self.load(key)
        return (int(size) if kept is None else kept), mine
