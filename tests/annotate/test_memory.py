"""Memory stays bounded on an image with 1,000+ objects: no per-object full-image arrays are kept."""
import os
import threading
import time

import numpy as np
import pytest

from samrs_mm.annotate.engine import build_engine
from samrs_mm.structures.record import Instance


class PeakRSS:
    """Peak resident set size of this process during a block, sampled every millisecond (MiB)."""

    @staticmethod
    def now():
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20

    def __enter__(self):
        self.start = self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())
        self.growth = self.peak - self.start


def many_boxes(rng, n, size):
    """``n`` ship-sized boxes (8-40 px) scattered over a ``size`` x ``size`` image."""
    xy = rng.uniform(0, size - 40, (n, 2))
    return [Instance('ship', hbox=np.concatenate([p, p + rng.uniform(8, 40, 2)])) for p in xy]


@pytest.mark.parametrize('batched', [False, True])  # per-object masks (CPU default), batched (GPU default)
def test_1000_objects_in_bounded_memory(batched, tiny_sam, dota_record):
    from samrs_mm.annotate.families.sam import decoder_bytes_per_prompt
    _, full_image = dota_record
    image = np.ascontiguousarray(full_image[:600, :600])  # a real 600 x 600 crop (FAST patch size)
    rng = np.random.default_rng(0)
    batch = 16
    engine = build_engine(dict(prompt='hbox', prompt_batch_size=batch, batched_masks=batched), model=tiny_sam)
    engine.annotate(image, many_boxes(rng, 20, 600))  # warm-up: allocator pools, kernels

    with PeakRSS() as encoder:  # the image encoder alone (its global attention dominates)
        engine.backend.encode([image])
    with PeakRSS() as small:
        few = engine.annotate(image, many_boxes(rng, 100, 600))
    with PeakRSS() as large:
        masks = engine.annotate(image, many_boxes(rng, 1000, 600))

    assert len(few) == 100 and len(masks) == 1000
    assert [m.index for m in masks] == list(range(1000))
    assert sum(m.area for m in masks) > 0
    rle_mib = sum(len(m.rle['counts']) for m in masks) / 2 ** 20
    batch_mib = batch * decoder_bytes_per_prompt(tiny_sam) / 2 ** 20
    # Decoding 1000 objects adds at most one prompt batch of activations, the output RLE
    # strings and some slack over the encoder's own peak (batched: one mask bucket, at most
    # 16 MiB of float32 on CPU, inside the slack). 1000 full-image masks would hold
    # 1373 MiB as float logits (343 MiB as bools).
    assert large.growth < encoder.growth + batch_mib + rle_mib + 40, (encoder.growth, large.growth, rle_mib)
    # 10x more objects cost no more than their RLE strings.
    assert large.growth - small.growth < 40 + rle_mib, (small.growth, large.growth, rle_mib)
