"""What a run did: one outcome per image, the run's summary, and the files that record them.

``summary.json`` holds only what the finished labels determine (identical after a resume);
timings and per-run counts go to ``logs/``. A run stopped early writes a ``summary.json``
that says why and how many images it did not reach.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from ...runs import EXIT_FAILED
from ..outputs import AtomicFiles, merge_annotations
from .config import engine_settings, plain

__all__ = ['ItemOutcome', 'RunSummary', 'merge_read_stats', 'RunReport']


@dataclass
class ItemOutcome:
    """What happened to one source image."""

    index: int
    status: str                     # 'labelled' | 'resumed' | 'skipped' | 'failed'
    stem: str = ''
    file: str = ''
    objects: int = 0
    empty_masks: int = 0
    error: str = ''
    stats: Optional[dict] = None    # ReadStats.as_dict() of reading this image

    @property
    def has_labels(self) -> bool:
        """True when the image's label files exist at the end."""
        return self.status in ('labelled', 'resumed')


@dataclass
class RunSummary:
    """End-of-run numbers (rank 0 has the totals of every rank)."""

    images: int = 0
    labelled: int = 0
    labelled_now: int = 0
    resumed: int = 0
    objects: int = 0
    objects_now: int = 0
    empty_masks: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: List[dict] = field(default_factory=list)
    work_dir: str = ''
    read_stats: dict = field(default_factory=dict)   # what the source skipped (rank 0)
    not_reached: int = 0                             # images a stopped run did not get to
    stopped: Optional[dict] = None                   # why the run stopped early (reason, detail, exit_status)

    @classmethod
    def of_outcomes(cls, outcomes: List[ItemOutcome], seconds: float, work_dir: str,
                    images: Optional[int] = None, **extra) -> 'RunSummary':
        """The counts of ``outcomes`` (one per image handled); ``images`` defaults to their number."""
        return cls(
            images=len(outcomes) if images is None else images,
            labelled=sum(o.has_labels for o in outcomes),
            labelled_now=sum(o.status == 'labelled' for o in outcomes),
            resumed=sum(o.status == 'resumed' for o in outcomes),
            objects=sum(o.objects for o in outcomes if o.has_labels),
            objects_now=sum(o.objects for o in outcomes if o.status == 'labelled'),
            empty_masks=sum(o.empty_masks for o in outcomes if o.has_labels),
            skipped=sum(o.status == 'skipped' for o in outcomes),
            failed=sum(o.status == 'failed' for o in outcomes), seconds=seconds,
            failures=[dict(index=o.index, file=o.file, error=o.error) for o in outcomes if o.status == 'failed'],
            work_dir=work_dir, **extra)

    @property
    def objects_per_second(self) -> float:
        """Objects labelled by this run per wall-clock second."""
        return self.objects_now / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True when the run reached every image and none failed."""
        return self.failed == 0 and self.stopped is None

    @property
    def exit_status(self) -> int:
        """The tool's exit status (docs/runs.md): the stop's, else 1 when an image failed, else 0."""
        if self.stopped is not None:
            return int(self.stopped['exit_status'])
        return EXIT_FAILED if self.failed else 0

    def line(self) -> str:
        """One-line human summary."""
        text = (f'images {self.images} | labelled {self.labelled} (this run {self.labelled_now}, '
                f'resumed {self.resumed}) | objects {self.objects} | empty masks {self.empty_masks} | '
                f'skipped {self.skipped} | failed {self.failed} | {self.objects_per_second:.1f} objects/s')
        if self.stopped is not None:
            text += f' | not reached {self.not_reached} ({self.stopped["detail"]})'
        return text



def merge_read_stats(stats_dicts: Sequence[Optional[dict]], source_name: str) -> dict:
    """Sum ReadStats dicts (in the given order, so examples are deterministic)."""
    from ...sources.errors import ReadStats
    total = ReadStats(source_name)
    for d in stats_dicts:
        if not d:
            continue
        part = ReadStats(d.get('source', source_name))
        part.images = d.get('images', 0)
        part.instances = d.get('instances', 0)
        part.skipped_images.update(d.get('skipped_images', {}))
        part.skipped_instances.update(d.get('skipped_instances', {}))
        part.unknown_classes.update(d.get('unknown_classes', {}))
        part.examples = {k: list(v) for k, v in d.get('examples', {}).items()}
        total.merge(part)
    out = total.as_dict()
    # Counters keep first-seen order; sort for stable files.
    for key in ('skipped_images', 'skipped_instances', 'unknown_classes'):
        out[key] = dict(sorted(out[key].items()))
    out['examples'] = dict(sorted(out['examples'].items()))
    return out



class RunReport:
    """Writes ``annotations.json`` (+ splits), ``summary.json`` and the run log of a work dir.

    Args:
        work_dir: the run's output root.
        cfg: the annotate config (``source`` is recorded as given).
        engine_cfg, writer_cfg: the engine and writer settings of the run.
        classes: the class list; fingerprint: the settings fingerprint.
        source_name: the source reader's name (for the read statistics).
        world_size: number of ranks; log: where one-line messages go.
    """

    def __init__(self, work_dir: str, cfg: dict, engine_cfg: dict, writer_cfg: dict, classes: Sequence[str],
                 fingerprint: str, source_name: str, world_size: int = 1, log: Callable = print) -> None:
        self.work_dir = work_dir
        self.cfg, self.engine_cfg, self.writer_cfg = cfg, engine_cfg, writer_cfg
        self.classes = tuple(classes)
        self.fingerprint = fingerprint
        self.source_name = source_name
        self.world_size = world_size
        self.log = log

    def complete(self, outcomes: List[ItemOutcome], seconds: float, files: AtomicFiles,
                 per_rank: Sequence[dict] = ()) -> RunSummary:
        """Merge the labels of every image of a finished run and write its summary and log."""
        stems = [o.stem for o in outcomes if o.has_labels]
        counts = merge_annotations(self.work_dir, stems, self.classes, osp.join(self.work_dir, 'annotations.json'),
                                   files)
        split_info = self._merge_splits(stems, files)
        skipped = [dict(index=o.index, file=o.file, reason=o.error) for o in outcomes if o.status == 'skipped']
        summary = RunSummary.of_outcomes(outcomes, seconds, self.work_dir)
        summary.read_stats = merge_read_stats([o.stats for o in outcomes], self.source_name)
        files.write_json(osp.join(self.work_dir, 'summary.json'), dict(
            images=summary.images, labelled=summary.labelled, objects=summary.objects,
            empty_masks=summary.empty_masks, skipped=summary.skipped, failed=summary.failed,
            complete=summary.complete, classes=list(self.classes), class_counts=counts['class_counts'],
            coco_annotations=counts['annotations'], splits=split_info, settings=self.fingerprint,
            engine=engine_settings(self.engine_cfg), writer=plain(self._writer_settings()),
            source=plain(self.cfg['source']),
            read_stats=summary.read_stats,
            failures=summary.failures, skipped_images=skipped), indent=2)
        self.write_log(files, summary, per_rank)
        return summary

    def stopped(self, reports: Dict[int, tuple], stop: dict, seconds: float, num_images: int,
                files: AtomicFiles) -> RunSummary:
        """Summary of a run stopped early from the ``{rank: (outcomes, stop)}`` accounts it has,
        written to ``summary.json`` (best effort: the disk may be full) without rebuilding
        ``annotations.json``."""
        everything = sorted((o for mine, _ in reports.values() for o in mine), key=lambda o: o.index)
        summary = RunSummary.of_outcomes(everything, seconds, self.work_dir, images=num_images,
                                         not_reached=num_images - len(everything), stopped=stop)
        summary.read_stats = merge_read_stats([o.stats for o in everything], self.source_name)
        data = dict(
            complete=False, stopped=stop, images=summary.images, labelled=summary.labelled,
            objects=summary.objects, empty_masks=summary.empty_masks, skipped=summary.skipped,
            failed=summary.failed, not_reached=summary.not_reached,
            rerun='rerun the same command: finished images are kept and skipped',
            classes=list(self.classes), settings=self.fingerprint, engine=engine_settings(self.engine_cfg),
            writer=plain(self._writer_settings()), source=plain(self.cfg['source']),
            read_stats=summary.read_stats, failures=summary.failures,
            skipped_images=[dict(index=o.index, file=o.file, reason=o.error) for o in everything
                            if o.status == 'skipped'])
        if self.world_size > 1:
            data.update(ranks_reported=sorted(reports),
                        rank_stops={str(r): s for r, (_, s) in sorted(reports.items()) if s})
        path = osp.join(self.work_dir, 'summary.json')
        try:
            files.write_json(path, data, indent=2)
            self.write_log(files, summary)
        except OSError as exc:
            from ...runs import as_storage_error
            self.log(f'[samrs_annotate] summary.json not written: {as_storage_error(exc, path) or exc}')
            # A summary of an earlier run would claim more than is true now.
            with contextlib.suppress(OSError):
                os.remove(path)
        return summary

    def _merge_splits(self, stems: List[str], files: AtomicFiles) -> Dict[str, dict]:
        from ...sources.base import read_split_file
        info: Dict[str, dict] = {}
        for name, path in sorted((self.writer_cfg.get('splits') or {}).items()):
            if not osp.isfile(path):
                self.log(f'[samrs_annotate] split list {path} not found: annotations_{name}.json not written')
                info[name] = dict(list=path, found=False)
                continue
            wanted = set(read_split_file(path))
            chosen = [s for s in stems if s in wanted]
            counts = merge_annotations(self.work_dir, chosen, self.classes,
                                       osp.join(self.work_dir, f'annotations_{name}.json'), files)
            info[name] = dict(list=path, found=True, images=counts['images'], listed=len(wanted),
                              not_labelled=len(wanted) - len(chosen))
        return info

    def _writer_settings(self) -> dict:
        """Writer settings for summary.json; ``vector`` only when set, so runs without it
        keep the summary they had before the option existed."""
        return {k: v for k, v in self.writer_cfg.items() if not (k == 'vector' and v is None)}

    def write_log(self, files: AtomicFiles, summary: RunSummary, per_rank: Sequence[dict] = ()) -> None:
        """The run's timings and counts in ``logs/annotate_<time>.json`` (not part of the results)."""
        stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
        data = asdict(summary)
        data.update(objects_per_second=summary.objects_per_second, world_size=self.world_size,
                    per_rank=list(per_rank),
                    device=str(self.engine_cfg.get('device', 'cpu')), finished_at=stamp)
        files.write_json(osp.join(self.work_dir, 'logs', f'annotate_{stamp}.json'), data, indent=2)
