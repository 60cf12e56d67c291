"""What a run labels: the source, the images of this rank's shard, and how a worker loads one.

Every source image is handled by exactly one rank (``r, r + N, ...``); a DataLoader worker
parses its annotation, checks whether its labels already exist with the run's settings
(resume) and decodes its pixels only when it needs labelling.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch

from .config import AnnotateConfigError
from .summary import ItemOutcome

__all__ = ['build_source', 'default_image_root', 'shard_indices', 'error_text', 'LoadedItem', 'ShardDataset',
           'identity_collate', 'StemGuard']


def build_source(source_cfg: dict):
    """The source reader of ``source_cfg``, its class list and its file stems checked (one-line errors)."""
    from ...sources import build_source as build
    from ...sources import duplicate_stems, duplicate_stems_message
    from ...sources.class_maps import resolve_class_list
    source_cfg = dict(source_cfg)
    try:
        resolve_class_list(source_cfg.get('class_list'))
    except ValueError as exc:
        raise AnnotateConfigError(f'source.class_list: {exc}') from None
    try:
        source = build(source_cfg)
    except (KeyError, TypeError, ValueError, FileNotFoundError) as exc:
        raise AnnotateConfigError(f'source config {source_cfg}: {exc}') from None
    try:
        tuple(source.classes)
    except ValueError as exc:
        raise AnnotateConfigError(f'source.class_list: {exc}') from None
    clashes = duplicate_stems(source)
    if clashes:
        raise AnnotateConfigError(duplicate_stems_message(clashes))
    return source


def default_image_root(source) -> Optional[str]:
    """The folder ``file_name`` in the json files is relative to when images are not copied."""
    img_dir = getattr(source, 'img_dir', None)
    if isinstance(img_dir, str):
        return img_dir
    if isinstance(img_dir, (list, tuple)) and img_dir:
        return img_dir[0] if len(img_dir) == 1 else osp.commonpath([osp.abspath(d) for d in img_dir])
    return None


def shard_indices(num_images: int, rank: int, world_size: int) -> List[int]:
    """Source indices rank ``rank`` of ``world_size`` labels."""
    return list(range(rank, num_images, world_size))


def error_text(exc: BaseException) -> str:
    """Message of an error; unexpected types keep their name so bugs stay recognisable."""
    from ...sources.errors import AnnotationError
    if isinstance(exc, (AnnotationError, ValueError, FileNotFoundError)):
        return str(exc)
    return f'{type(exc).__name__}: {exc}'


class LoadedItem:
    """What a DataLoader worker hands over for one source image."""

    __slots__ = ('index', 'status', 'record', 'image', 'error', 'file', 'stats')

    def __init__(self, index, status, record=None, image=None, error='', file='', stats=None):
        self.index, self.status, self.record, self.image = index, status, record, image
        self.error, self.file, self.stats = error, file, stats


class ShardDataset(torch.utils.data.Dataset):
    """The source images of one shard: parses, checks resume state, decodes (in workers)."""

    def __init__(self, source, indices: Sequence[int], writer, fingerprint: str,
                 stretch, bands) -> None:
        self.source = source
        self.indices = list(indices)
        self.writer = writer
        self.fingerprint = fingerprint
        self.stretch = tuple(stretch)
        self.bands = bands

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> LoadedItem:
        from ...sources.image_io import load_image
        index = self.indices[k]
        try:
            record, stats = self.source.read_with_stats(index)
        except Exception as exc:  # noqa: BLE001 - reported per image, never lost
            return LoadedItem(index, 'failed', error=error_text(exc), file=getattr(exc, 'path', '') or '')
        stats = stats.as_dict()
        if 'skip_reason' in record.meta:
            return LoadedItem(index, 'skipped', record=record, error=record.meta.get('error', ''),
                              file=record.ann_path or record.image_path, stats=stats)
        try:
            if self.writer.finished(record, self.fingerprint):
                return LoadedItem(index, 'resumed', record=record, stats=stats)
            image = load_image(record, stretch=self.stretch, bands=self.bands)
        except Exception as exc:  # noqa: BLE001
            return LoadedItem(index, 'failed', record=record, error=error_text(exc),
                              file=getattr(exc, 'path', '') or record.image_path, stats=stats)
        return LoadedItem(index, 'todo', record=record, image=image, stats=stats)


def identity_collate(items):
    """Collate of the shard loader: the list of loaded items as it is."""
    return items


class StemGuard:
    """Fails an image whose file stem another image of this run already has.

    The sources are checked for such images before the run; this catches the ones only
    their annotation reveals (a VOC ``<filename>`` naming another image).
    """

    def __init__(self) -> None:
        self._stems: Dict[str, str] = {}      # file stem -> image, of the images this process saw

    def clash(self, item: LoadedItem) -> Optional[ItemOutcome]:
        """A failed :class:`~.summary.ItemOutcome` when ``item``'s stem is taken, else None."""
        if item.record is None or item.status not in ('todo', 'resumed'):
            return None
        stem, path = item.record.stem, item.record.image_path
        other = self._stems.setdefault(stem, path)
        if osp.abspath(other) == osp.abspath(path):
            return None
        return ItemOutcome(index=item.index, status='failed', file=path, stats=item.stats,
                           error=f'{path}: its labels would overwrite those of {other} (same file stem '
                                 f'{stem!r}); give images unique names')
