"""Label a whole dataset: source -> DataLoader -> engine -> writers, then merge (``tools/samrs_annotate.py``).

:class:`AnnotateRunner` takes the annotate config (docs/annotate.md): ``source`` (passed to
:func:`~samrs_mm.sources.build_source`), ``engine`` (passed to
:func:`~samrs_mm.annotate.engine.build_engine`), ``writer``
(:class:`~samrs_mm.annotate.outputs.LabelWriter` settings
plus ``splits``) and ``runner`` (workers, failure policy). What it guarantees:

* **Parallel decoding.** A torch ``DataLoader`` with ``num_workers`` processes parses the
  annotations and decodes the images; the main process runs the engine and writes.
* **Resume.** An image whose ``instances/<stem>.json`` exists with the same settings
  fingerprint is skipped before its pixels are decoded; every file is written atomically.
  Killed at any moment and restarted, a run ends with the same files as an uninterrupted one.
* **Shards.** With ``world_size`` processes, rank ``r`` labels images ``r, r + N, ...``; every
  image is covered exactly once. After a barrier rank 0 merges all shards into
  ``annotations.json`` and ``summary.json``.
* **Accounting.** Every source image ends as labelled, skipped (a lenient source could not
  use it) or failed (error naming the file); failures never stop the other images unless
  ``fail_fast``. ``summary.json`` holds only what the finished labels determine (identical
  after a resume); timings and per-run counts go to ``logs/``.
* **Stops.** A run stopped early (a stop signal, a full or read-only disk, ``fail_fast``)
  keeps every finished image, removes its temporary files and writes a ``summary.json`` that
  says why it stopped and how many images it did not reach; ``RunSummary.stopped`` carries
  the tool's exit status (:mod:`samrs_mm.runs`).
* **One prompt batch size.** With ``prompt_batch_size='auto'`` the size is measured once per
  work dir on a throw-away pass and kept in ``prompt_batch_size/``
  (:class:`~samrs_mm.annotate.engine.batch_size.BatchSizeStore`); every rank and every resume reads
  it, so the files never depend on timing, on the number of ranks or on where a run resumed.
* **Unique names.** Two source images with one file stem would overwrite each other's
  labels: they are refused before any work, both named.

Parts, one job each: :mod:`.config` (defaults, checks, fingerprint), :mod:`.plan` (the source
and this rank's shard, loaded in DataLoader workers), :mod:`.loop` (the labelling loop),
:mod:`.resume` (rank accounts, the kept prompt batch size), :mod:`.summary` (outcomes, merge,
``summary.json``) and :mod:`.runner` (:class:`AnnotateRunner`, which puts them together).
"""
from .config import RUNNER_DEFAULTS, WRITER_DEFAULTS, AnnotateConfigError, sam_weights_problem, settings_fingerprint
from .runner import AnnotateRunner
from .summary import ItemOutcome, RunSummary

__all__ = ['AnnotateRunner', 'AnnotateConfigError', 'ItemOutcome', 'RunSummary', 'settings_fingerprint',
           'sam_weights_problem', 'RUNNER_DEFAULTS', 'WRITER_DEFAULTS']
