"""Shared machinery of the fine-tuning dataset converters (Potsdam, iSAID).

Both converters cut large tiles into overlapping square crops, map colour-coded labels to
class indices, and must survive being interrupted: every file is written atomically, a
finished tile leaves a small marker so a rerun skips it without decoding the tile again,
and the output folder remembers the settings it was made with so a rerun with other
settings cannot silently mix crops of two protocols.

Like the other long-running tools (:mod:`samrs_mm.runs`, docs/runs.md), a converter owns its
output folder while it runs (:func:`run_converter`: a second run on it is refused), its
worker processes die with it, a stop signal ends it with a summary that says so, and a full
or read-only disk stops it with the error named; finished tiles are kept in every case.
"""
from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import os.path as osp
import re
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout
from samrs_mm.fileio import SettingsMismatch, atomic_write, claim_settings, load_record, record_is_current  # noqa: E402
from samrs_mm.patches.windows import window_starts  # noqa: E402
from samrs_mm.runs import (  # noqa: E402
    EXIT_FAILED,
    EXIT_STORAGE,
    RunInterrupted,
    ToolArgumentParser,
    as_storage_error,
    init_worker,
    interrupted_stop,
    run_as_owner,
    stop_record,
    storage_stop,
)

SETTINGS_FILE = '.conversion_settings.json'
DONE_DIR = '.done'


class ConversionError(Exception):
    """Bad input for a converter; the message names the offending file."""


# ----------------------------------------------------------------------------- windows
def crop_boxes(height: int, width: int, size: int, stride: int) -> List[Tuple[int, int, int, int]]:
    """All ``(x0, y0, x1, y1)`` crop boxes of a ``height`` x ``width`` tile, row-major.

    Windows start every ``stride`` pixels and the last one is moved back to end at the border
    (:func:`~samrs_mm.patches.windows.window_starts`, rule ``'shift'``); a side shorter than
    the window gets one window at 0 (the caller pads). For a 6000-pixel Potsdam tile, size 512
    and stride 320 that is 19 starts, hence 19 x 19 = 361 crops per tile.
    """
    return [(x0, y0, x0 + size, y0 + size)
            for y0 in window_starts(height, size, stride)
            for x0 in window_starts(width, size, stride)]


def pad_to(array: np.ndarray, height: int, width: int, value: int) -> np.ndarray:
    """Pad ``array`` at the bottom / right to at least ``height`` x ``width``."""
    pad_h, pad_w = max(0, height - array.shape[0]), max(0, width - array.shape[1])
    if pad_h == 0 and pad_w == 0:
        return array
    pads = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pads, mode='constant', constant_values=value)


# ------------------------------------------------------------------------------ colours
def rgb_codes(image_rgb: np.ndarray) -> np.ndarray:
    """Pack an ``H x W x 3`` uint8 RGB image into one int32 code per pixel."""
    image = image_rgb.astype(np.int32)
    return (image[..., 0] << 16) | (image[..., 1] << 8) | image[..., 2]


def colours_to_indices(image_rgb: np.ndarray, palette: Dict[Tuple[int, int, int], int],
                       unknown_value: int) -> Tuple[np.ndarray, int]:
    """Map an RGB label image to class indices through ``palette`` (colour -> index).

    Returns the uint8 index map and the number of pixels whose colour is not in the
    palette (they get ``unknown_value``).
    """
    codes = rgb_codes(image_rgb)
    palette_codes = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], np.int32)
    values = np.array(list(palette.values()), np.uint8)
    order = np.argsort(palette_codes)
    palette_codes, values = palette_codes[order], values[order]
    position = np.clip(np.searchsorted(palette_codes, codes), 0, len(palette_codes) - 1)
    known = palette_codes[position] == codes
    indices = np.where(known, values[position], np.uint8(unknown_value)).astype(np.uint8)
    return indices, int((~known).sum())


def unknown_colours(image_rgb: np.ndarray, palette: Dict[Tuple[int, int, int], int],
                    limit: int = 3) -> List[Tuple[int, int, int]]:
    """A few RGB colours of ``image_rgb`` that are not in ``palette`` (for error messages)."""
    codes = np.unique(rgb_codes(image_rgb))
    palette_codes = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], np.int32)
    odd = codes[~np.isin(codes, palette_codes)][:limit]
    return [(int(c) >> 16 & 255, int(c) >> 8 & 255, int(c) & 255) for c in odd]


def label_values(job: 'CropJob', image: np.ndarray, label_bgr: np.ndarray,
                 palette: Dict[Tuple[int, int, int], int], ignore_value: int,
                 palette_name: str) -> Tuple[np.ndarray, int]:
    """Class values of a decoded BGR colour label, and how many pixels had unknown colours.

    Unknown colours become ``ignore_value`` (an error naming the file with ``--strict``);
    the label must have its image's size; bands after the third are ignored.
    """
    if label_bgr.shape[:2] != image.shape[:2]:
        raise ConversionError(f'{job.label}: label size {label_bgr.shape[1]}x{label_bgr.shape[0]} '
                              f'differs from image {job.image} size '
                              f'{image.shape[1]}x{image.shape[0]}')
    label_rgb = cv2.cvtColor(label_bgr[..., :3], cv2.COLOR_BGR2RGB)
    values, unknown = colours_to_indices(label_rgb, palette, ignore_value)
    if unknown and job.strict:
        raise ConversionError(f'{job.label}: {unknown} pixels have colours outside the '
                              f'{palette_name} (e.g. RGB {unknown_colours(label_rgb, palette)}); '
                              'drop --strict to ignore them')
    return values, unknown


# -------------------------------------------------------------------------------- input
@dataclass(frozen=True)
class FileRef:
    """A file on disk, or a member of a zip archive (``member`` set)."""

    path: str
    member: Optional[str] = None

    def __str__(self) -> str:
        return f'{self.path}:{self.member}' if self.member else self.path

    @property
    def name(self) -> str:
        """Base name of the file (of the member, for archives)."""
        return osp.basename(self.member if self.member else self.path)

    def read_bytes(self) -> bytes:
        """The file's raw bytes."""
        if self.member is None:
            with open(self.path, 'rb') as handle:
                return handle.read()
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(self.member)


def decode_image(ref: FileRef, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file or archive member with OpenCV; clear error if it is not one."""
    try:
        data = np.frombuffer(ref.read_bytes(), np.uint8)
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise ConversionError(f'{ref}: cannot read ({error})') from error
    image = cv2.imdecode(data, flags)
    if image is None:
        raise ConversionError(f'{ref}: not a readable image')
    return image


def scan_inputs(root: str, name_pattern: 're.Pattern[str]') -> Iterator[FileRef]:
    """Every file under ``root`` (plain or inside ``*.zip``) whose base name matches."""
    if not osp.isdir(root):
        raise ConversionError(f'{root}: input folder not found')
    for folder, _, files in sorted(os.walk(root)):
        for file_name in sorted(files):
            path = osp.join(folder, file_name)
            if file_name.lower().endswith('.zip'):
                try:
                    with zipfile.ZipFile(path) as archive:
                        members = archive.namelist()
                except zipfile.BadZipFile as error:
                    raise ConversionError(f'{path}: not a valid zip archive ({error})') from error
                for member in sorted(members):
                    if not member.endswith('/') and name_pattern.fullmatch(osp.basename(member)):
                        yield FileRef(path, member)
            elif name_pattern.fullmatch(file_name):
                yield FileRef(path)


def add_unique(found: Dict[str, FileRef], key: str, ref: FileRef) -> None:
    """Record ``ref`` for ``key``; an extracted file wins over the same file in an archive.

    Two plain files (or two archive members) for one key are ambiguous: an error names both.
    """
    previous = found.get(key)
    if previous is None or (previous.member is not None and ref.member is None):
        found[key] = ref
    elif (previous.member is None) == (ref.member is None):
        raise ConversionError(f'{key} found twice: {previous} and {ref}; keep one of them')


# ------------------------------------------------------------------------------- output
def atomic_write_png(path: str, image: np.ndarray) -> None:
    """Write a PNG so that ``path`` either does not exist or holds the complete file."""
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise ConversionError(f'{path}: PNG encoding failed')
    atomic_write(path, encoded.tobytes())


def check_settings(out_dir: str, settings: dict, overwrite: bool, file_name: str = SETTINGS_FILE) -> None:
    """Refuse to resume into a folder converted with different settings; record ours.

    ``file_name`` lets a second converter writing into the same folder (iSAID instances
    beside the semantic crops) keep its own record.
    """
    path = osp.join(out_dir, file_name)
    if overwrite and osp.isfile(path):
        os.remove(path)
    try:
        claim_settings(path, settings, 'use another output folder or --overwrite')
    except SettingsMismatch as error:
        raise ConversionError(str(error)) from None


def done_marker(out_dir: str, split: str, key: str, done_dir: str = DONE_DIR) -> str:
    """Path of the marker a finished tile leaves behind (``done_dir``: one per converter)."""
    return osp.join(out_dir, done_dir, split, f'{key}.json')


def tile_is_done(out_dir: str, split: str, key: str, done_dir: str = DONE_DIR) -> bool:
    """True when the tile's marker exists and every crop it lists is on disk."""
    marker = load_record(done_marker(out_dir, split, key, done_dir))
    outputs = (marker or {}).get('outputs')
    return isinstance(outputs, list) and record_is_current(marker, outputs=[osp.join(out_dir, rel) for rel in outputs])


def mark_tile_done(out_dir: str, split: str, key: str, outputs: Sequence[str], stats: dict,
                   done_dir: str = DONE_DIR) -> None:
    """Record that all ``outputs`` (paths relative to ``out_dir``) of a tile are written."""
    marker = done_marker(out_dir, split, key, done_dir)
    os.makedirs(osp.dirname(marker), exist_ok=True)
    atomic_write(marker, json.dumps(dict(outputs=list(outputs), **stats)).encode())


def read_marker(out_dir: str, split: str, key: str, done_dir: str = DONE_DIR) -> dict:
    """The content of a finished tile's marker."""
    with open(done_marker(out_dir, split, key, done_dir)) as handle:
        return json.load(handle)


# ----------------------------------------------------------------------------- running
@dataclass(frozen=True)
class CropJob:
    """One tile (large image) and its colour label to cut into crops."""

    split: str
    key: str
    image: FileRef
    label: FileRef
    out_dir: str
    crop_size: int
    stride: int
    strict: bool
    overwrite: bool

    def describe(self) -> str:
        """The tile's input files, for error messages."""
        return f'{self.image} / {self.label}'


@dataclass
class TileResult:
    """What one worker did with one tile."""

    split: str
    key: str
    written: int = 0
    existing: int = 0
    skipped_tile: bool = False
    unknown_pixels: int = 0
    crops: int = 0
    error: Optional[str] = None
    extra: dict = field(default_factory=dict)
    # Set instead of ``error`` when the output cannot be written: the run stops.
    storage_error: Optional[str] = None


def write_crops(job: CropJob, read: Callable[[CropJob], Tuple[np.ndarray, np.ndarray, int]],
                crop_names: Callable[[str, Tuple[int, int, int, int]], Tuple[str, str]],
                ignore_value: int) -> TileResult:
    """Write every crop of one tile, skipping what a previous run finished.

    ``read(job)`` decodes the tile (image, label values, count of unknown label colours);
    ``crop_names(key, box)`` gives the image and label file names of the crop ``box``;
    ``ignore_value`` is the dataset's "not scored" label value, used for padding.
    A tile with a done marker is not even decoded; crops whose two files exist are kept.
    """
    if not job.overwrite and tile_is_done(job.out_dir, job.split, job.key):
        marker = read_marker(job.out_dir, job.split, job.key)
        return TileResult(job.split, job.key, skipped_tile=True, crops=len(marker['outputs']) // 2,
                          unknown_pixels=marker.get('unknown_pixels', 0),
                          extra=dict(label=str(job.label)))
    image, values, unknown = read(job)
    # Anything smaller than a crop is padded (image 0, label ignore), so no crop is partial.
    image = pad_to(image, job.crop_size, job.crop_size, 0)
    values = pad_to(values, job.crop_size, job.crop_size, ignore_value)
    height, width = values.shape
    result = TileResult(job.split, job.key, unknown_pixels=unknown,
                        extra=dict(label=str(job.label)))
    outputs: List[str] = []
    for box in crop_boxes(height, width, job.crop_size, job.stride):
        img_name, ann_name = crop_names(job.key, box)
        img_rel = osp.join('img_dir', job.split, img_name)
        ann_rel = osp.join('ann_dir', job.split, ann_name)
        outputs += [img_rel, ann_rel]
        result.crops += 1
        img_path, ann_path = osp.join(job.out_dir, img_rel), osp.join(job.out_dir, ann_rel)
        if not job.overwrite and osp.isfile(img_path) and osp.isfile(ann_path):
            continue
        x0, y0, x1, y1 = box
        atomic_write_png(img_path, image[y0:y1, x0:x1])
        atomic_write_png(ann_path, values[y0:y1, x0:x1])
        result.written += 1
    mark_tile_done(job.out_dir, job.split, job.key, outputs, dict(unknown_pixels=unknown))
    return result


@dataclass
class JobsRun:
    """What :func:`run_jobs` did: the results (sorted), why it stopped early (or None) and
    how many jobs it did not reach."""

    results: List[TileResult]
    stopped: Optional[dict] = None
    not_reached: int = 0


def run_jobs(jobs: Sequence, worker: Callable[[object], TileResult], nproc: int,
             desc: str, unit: str = 'tile') -> JobsRun:
    """Run ``worker`` on every job in ``nproc`` processes with a progress bar.

    Exceptions inside a job become the job's ``error`` (one bad tile never stops the
    others); the caller reports them and exits non-zero. A stop signal (raised as
    :class:`~samrs_mm.runs.RunInterrupted`) or an output that cannot be written stops the
    run: the workers are ended, the finished tiles kept.
    """
    results: List[TileResult] = []
    stopped: Optional[dict] = None
    progress = tqdm(total=len(jobs), desc=desc, unit=unit, dynamic_ncols=True,
                    file=sys.stdout)
    pool = None
    try:
        if nproc <= 1 or len(jobs) <= 1:
            done = (_guarded(worker, job) for job in jobs)
        else:
            context = multiprocessing.get_context('spawn' if sys.platform == 'darwin' else 'fork')
            pool = context.Pool(min(nproc, len(jobs)),
                                initializer=functools.partial(init_worker, os.getpid(), obey_sigterm=True))
            done = pool.imap_unordered(_GuardedWorker(worker), jobs)
        for result in done:
            if result.storage_error:
                stopped = stop_record('storage', result.storage_error, EXIT_STORAGE)
                break
            results.append(result)
            progress.update()
    except (RunInterrupted, KeyboardInterrupt) as exc:
        stopped = interrupted_stop(exc)
    finally:
        progress.close()
        if pool is not None:
            if stopped is not None:
                pool.terminate()  # workers only cut tiles: nothing of theirs is worth waiting for
            else:
                pool.close()
            pool.join()
    return JobsRun(sorted(results, key=lambda r: (r.split, r.key)), stopped, len(jobs) - len(results))


class _GuardedWorker:
    """Picklable wrapper turning a job's exception into its error message."""

    def __init__(self, worker: Callable[[object], TileResult]) -> None:
        self.worker = worker

    def __call__(self, job) -> TileResult:
        return _guarded(self.worker, job)


def _guarded(worker: Callable[[object], TileResult], job) -> TileResult:
    try:
        return worker(job)
    except ConversionError as error:
        return TileResult(split=job.split, key=job.key, error=str(error))
    except Exception as error:  # noqa: BLE001 - reported per tile, never swallowed
        storage = as_storage_error(error, folder=getattr(job, 'out_dir', ''))
        if storage is not None:
            return TileResult(split=job.split, key=job.key, storage_error=str(storage))
        return TileResult(split=job.split, key=job.key,
                          error=f'{job.describe()}: {type(error).__name__}: {error}')


def summarise(results: Iterable[TileResult], out_dir: str, title: str,
              warnings: Sequence[str] = (), unit: str = 'tiles', stopped: Optional[dict] = None,
              not_reached: int = 0, file_name: str = 'conversion_summary.json') -> int:
    """Print the end-of-run summary, write it as JSON (``out_dir/file_name``); return the exit
    status (docs/runs.md).

    ``stopped`` / ``not_reached`` describe a run that ended early (:class:`JobsRun`).
    """
    results = list(results)
    per_split: Dict[str, Dict[str, int]] = {}
    for result in results:
        counts = per_split.setdefault(result.split, dict(tiles=0, crops=0, written=0, reused=0,
                                                         failed=0, unknown_pixels=0))
        counts['tiles'] += 1
        if result.error:
            counts['failed'] += 1
            continue
        counts['crops'] += result.crops
        counts['written'] += result.written
        counts['reused'] += result.crops - result.written
        counts['unknown_pixels'] += result.unknown_pixels
    failures = [r for r in results if r.error]
    unknown = [r for r in results if r.unknown_pixels and not r.error]
    print(f'\n{title}: summary (output: {out_dir})')
    for split, counts in sorted(per_split.items()):
        print(f'  {split:6s} {counts["tiles"]:5d} {unit} -> {counts["crops"]:6d} crops '
              f'({counts["written"]} written, {counts["reused"]} already there), '
              f'{counts["failed"]} failed')
    for result in unknown:
        print(f'  note: {result.extra.get("label", result.key)}: {result.unknown_pixels} label '
              'pixels of unknown colour were set to the ignore value')
    for message in warnings:
        print(f'  warning: {message}')
    for result in failures:
        print(f'  FAILED {result.split}/{result.key}: {result.error}')
    summary = dict(splits=per_split, warnings=list(warnings),
                   failures={f'{r.split}/{r.key}': r.error for r in failures})
    if stopped is not None:
        summary.update(complete=False, stopped=stopped, not_reached=not_reached,
                       rerun=f'rerun the same command: finished {unit} are kept and skipped')
    try:
        atomic_write(osp.join(out_dir, file_name),
                     json.dumps(summary, indent=2, sort_keys=True).encode())
    except OSError as error:
        storage = as_storage_error(error, folder=out_dir)
        if storage is None:
            raise
        print(f'  {file_name} not written: {storage}')
        stopped = stopped or storage_stop(storage)
    if stopped is not None:
        print(f'STOPPED ({stopped["detail"]}): {not_reached} {unit} not reached; finished {unit} are '
              'kept, rerun the same command to finish', file=sys.stderr)
        return int(stopped['exit_status'])
    if failures:
        print(f'{len(failures)} of {len(results)} {unit} failed; rerun the same command after '
              f'fixing them (finished {unit} are skipped).')
        return EXIT_FAILED
    return 0


def run_converter(out_dir: str, convert: Callable[[], int]) -> int:
    """Run ``convert()`` (a converter's work, returning its exit status) as the owner of
    ``out_dir`` (:func:`samrs_mm.runs.run_as_owner`; a bad input found on the way is a usage
    error). Call it after the options and inputs were checked (nothing is written before)."""
    return run_as_owner(out_dir, convert, usage_errors=(ConversionError,))


def default_nproc() -> int:
    """Worker processes used when ``--nproc`` is not given."""
    return max(1, min(8, os.cpu_count() or 1))


def converter_parser(description: str, tool_file: str) -> ToolArgumentParser:
    """The converters' argument parser: one-line option errors, exit status 2."""
    return ToolArgumentParser(prog=osp.basename(tool_file), description=description)


def check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Refuse (exit status 2) options of ``names`` that are not >= 1."""
    for name in names:
        value = getattr(args, name)
        if value < 1:
            parser.error(f'--{name.replace("_", "-")}: got {value}; valid: an int >= 1')


def add_crop_arguments(parser: argparse.ArgumentParser, crop_size: int, stride: int,
                       legend: str) -> None:
    """The options every converter shares: crop geometry (paper defaults), workers, strictness
    about colours outside ``legend``, and resume/overwrite."""
    parser.add_argument('--crop-size', type=int, default=crop_size,
                        help=f'crop side (paper: {crop_size})')
    parser.add_argument('--stride', type=int, default=stride, help=f'crop stride (paper: {stride})')
    parser.add_argument('--nproc', type=int, default=default_nproc(), help='worker processes')
    parser.add_argument('--strict', action='store_true',
                        help=f'fail on label colours outside the {legend} instead of '
                             'ignoring those pixels')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite crops that already exist (default: resume)')
