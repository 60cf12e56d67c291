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
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

__all__ = ['PromptBatchSizer', 'DEFAULT_CANDIDATES']

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

    def _decide(self, key: str) -> int:
        """Fix the fastest measured size per prompt for ``key``."""
        per_prompt = self.measurements(key)
        size = min(per_prompt, key=per_prompt.get) if per_prompt else self.candidates[0]
        self._chosen[key] = size
        return size
