"""The common shape of every reader: a lazy, indexable sequence of ImageRecords.

Readers list their files up front (a directory scan, cheap) and parse one image's annotation
only when it is indexed, so a shard of a 10^5-image dataset parses only its own files.
They share the strict / lenient behaviour implemented here:

* strict (default): the first bad object or image raises :class:`AnnotationError`
  naming file and line;
* ``skip_unknown=True``: objects of classes outside the class list are skipped and counted
  (``stats.unknown_classes``), other errors still raise;
* ``lenient=True``: every bad object is skipped and counted; an image that cannot be used
  at all (empty or unparsable file, missing image) is returned with no instances and
  ``meta['skip_reason']`` set, and counted. :meth:`DetectionSource.records` yields only
  the usable images.

``stats`` (a :class:`ReadStats`) counts each image once, however often it is indexed.
"""
from __future__ import annotations

import os
import os.path as osp
from collections import namedtuple
from collections.abc import Sequence
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from ..structures import boxes as G
from ..structures.record import ImageRecord, Instance
from .class_maps import ClassListArg, ClassMapper, build_class_mapper
from .errors import AnnotationError, ReadStats
from .image_io import ImageIndex


def read_split_file(path: str) -> List[str]:
    """Image stems listed one per line in a split file (DIOR ``ImageSets/Main/train.txt`` style)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path, encoding='utf-8') as f:
        stems = [osp.splitext(line.strip())[0] for line in f]
    return [s for s in stems if s]


# One image of a reader with one annotation file per image (DOTA txt, VOC / DIOR / FAIR1M xml).
AnnotationItem = namedtuple('AnnotationItem', 'stem ann_path')


def index_annotation_files(ann_dir: str, ext: str, split_file: Optional[str], kind: str,
                           ignore_case: bool = False) -> List[AnnotationItem]:
    """One item per ``<stem><ext>`` file of ``ann_dir`` (sorted by stem), or per stem of
    ``split_file`` in its order, each of which must have its file (else a
    ``FileNotFoundError`` naming ``kind`` of file and a few missing stems)."""
    stems = sorted(osp.splitext(f)[0] for f in os.listdir(ann_dir)
                   if (f.lower() if ignore_case else f).endswith(ext))
    if split_file:
        wanted = read_split_file(split_file)
        have = set(stems)
        missing = [s for s in wanted if s not in have]
        if missing:
            raise FileNotFoundError(
                f'{split_file}: {len(missing)} listed images have no {kind} in '
                f'{ann_dir}, e.g. {missing[:5]}')
        stems = wanted
    return [AnnotationItem(s, osp.join(ann_dir, s + ext)) for s in stems]


def duplicate_stems(source: 'DetectionSource',
                    indices: Optional[Sequence[int]] = None) -> List[Tuple[str, str, str]]:
    """``(stem, first image, second image)`` for every image of ``source`` (or of its
    ``indices``) whose file stem an earlier image has already (``a.png`` and ``a.jpg``, or one
    file listed twice).

    Outputs are named by stem (labels, patches, resume records), so such images would
    overwrite each other; the tools refuse them before any work. Uses the file listing only.
    """
    first: dict = {}
    clashes = []
    for index in range(len(source)) if indices is None else indices:
        path = source.image_path_of(index)
        if path is None:
            continue
        stem = osp.splitext(osp.basename(path))[0]
        if stem in first:
            clashes.append((stem, first[stem], path))
        else:
            first[stem] = path
    return clashes


def duplicate_stems_message(clashes: List[Tuple[str, str, str]]) -> str:
    """One line naming the images of :func:`duplicate_stems` (the first few) and the fix."""
    shown = '; '.join(f'{a} and {b}' if a != b else f'{a} listed twice' for _, a, b in clashes[:3])
    more = f' (and {len(clashes) - 3} more)' if len(clashes) > 3 else ''
    return (f'{len(clashes)} source image(s) share a file stem with another, so their outputs would '
            f'overwrite each other: {shown}{more}; give every image a unique file name')


class DetectionSource(Sequence):
    """Base class of the readers; subclasses implement ``_index`` and ``_read``.

    Args:
        class_list: ``'sota'`` / ``'sior'`` / ``'fast'``, a sequence of class names, or None
            for the reader's default.
        class_map: extra ``{source name: target name}`` entries for the class table.
        skip_unknown: skip (and count) objects whose class is not in the list.
        lenient: skip (and count) every bad object or image instead of raising.
        allow_empty: an annotation file with no objects gives a record with no instances
            instead of an ``'empty'`` error.
        check_images: require the image file to exist (its size is read from it where the
            annotation does not give one).
    """

    name = 'base'
    default_class_list: ClassListArg = None

    def __init__(self, class_list: ClassListArg = None,
                 class_map: Optional[Mapping[str, str]] = None, skip_unknown: bool = False,
                 lenient: bool = False, allow_empty: bool = False, check_images: bool = True):
        self.class_list = class_list
        self.class_map = dict(class_map or {})
        self.skip_unknown = skip_unknown
        self.lenient = lenient
        self.allow_empty = allow_empty
        self.check_images = check_images
        self.stats = ReadStats(self.name)
        self._counted = set()
        self._mapper: Optional[ClassMapper] = None
        self._items: List[Any] = list(self._index())

    # ---- to implement -------------------------------------------------------------------
    def _index(self) -> List[Any]:
        """List the images (one opaque item per image); must not parse annotations."""
        raise NotImplementedError

    def _read(self, item: Any, stats: ReadStats) -> ImageRecord:
        """Parse one item into a record; report skips into ``stats``."""
        raise NotImplementedError

    def _item_paths(self, item: Any) -> Tuple[str, str]:
        """``(image_path, ann_path)`` of an item, for the placeholder of a skipped image."""
        return item.image_path, item.ann_path

    # ---- sequence protocol ----------------------------------------------------------------
    @property
    def mapper(self) -> ClassMapper:
        """Class-name mapper of this reader (built on first use)."""
        if self._mapper is None:
            self._mapper = self._build_mapper()
        return self._mapper

    def _build_mapper(self) -> ClassMapper:
        return build_class_mapper(self.name, self.class_list, self.default_class_list,
                                  self.class_map)

    @property
    def classes(self) -> Tuple[str, ...]:
        """Class names in label order; ``Instance.class_index`` indexes this tuple."""
        return self.mapper.classes

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        record, _ = self.read_with_stats(index)
        return record

    def __iter__(self) -> Iterator[ImageRecord]:
        for i in range(len(self)):
            yield self[i]

    def read_with_stats(self, index: int) -> Tuple[ImageRecord, ReadStats]:
        """Record ``index`` and the stats of reading it alone (for worker processes)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f'{self.name} source has {len(self)} images, index {index}')
        index %= len(self)
        item = self._items[index]
        local = ReadStats(self.name)
        try:
            record = self._read(item, local)
        except AnnotationError as exc:
            if not self.lenient:
                raise
            local.skip_image(exc)
            image_path, ann_path = self._item_paths(item)
            record = ImageRecord(image_path=image_path, width=0, height=0, source=self.name,
                                 ann_path=ann_path,
                                 meta=dict(skip_reason=exc.reason, error=str(exc)))
        else:
            local.images += 1
            local.instances += len(record.instances)
        if index not in self._counted:
            self._counted.add(index)
            self.stats.merge(local)
        return record, local

    def image_path_of(self, index: int) -> Optional[str]:
        """Where image ``index`` is (or would be), from the file listing alone (no parsing);
        None when the reader cannot tell without parsing."""
        try:
            return self._item_paths(self._items[index])[0]
        except (AttributeError, KeyError, TypeError):
            return None

    def records(self) -> Iterator[ImageRecord]:
        """Iterate over usable records only (lenient mode drops skipped images here)."""
        for record in self:
            if 'skip_reason' not in record.meta:
                yield record

    def summary(self) -> str:
        """Summary of what has been read so far (see :class:`ReadStats`)."""
        return self.stats.summary()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({len(self)} images, lenient={self.lenient})'

    # ---- helpers for subclasses ------------------------------------------------------------
    def _handle_object_error(self, exc: AnnotationError, stats: ReadStats) -> None:
        """Raise in strict mode; count the skip in lenient / skip-unknown mode."""
        if exc.reason == 'unknown-class' and (self.skip_unknown or self.lenient):
            stats.unknown_classes[exc.class_name] += 1
            stats.skip_instance(exc)
            return
        if not self.lenient:
            raise exc
        stats.skip_instance(exc)

    def _class_index(self, name: str, path: str, line: Optional[int] = None,
                     where: str = '') -> int:
        """Index of ``name`` in the class list, or an ``'unknown-class'`` AnnotationError."""
        index = self.mapper.index(name)
        if index is None:
            exc = AnnotationError(
                f'unknown class {name!r} (not in the {len(self.classes)}-class list and not in '
                f'the {self.name} table; pass skip_unknown=True to skip it, or class_map to '
                'map it)',
                path, line, reason='unknown-class', where=where, class_name=name)
            raise exc
        return index

    def _empty_check(self, instances: List[Instance], n_objects: int, path: str) -> None:
        """Raise ``'empty'`` for a file without any object unless ``allow_empty``."""
        if n_objects == 0 and not self.allow_empty:
            raise AnnotationError('annotation file has no objects (pass allow_empty=True to '
                                  'keep such images)', path, reason='empty')

    def _image_path(self, images: ImageIndex, stem: str, ann_path: str,
                    file_name: Optional[str] = None) -> str:
        """Resolve the image of an annotation; missing image is an error when ``check_images``."""
        path = images.lookup(stem, file_name)
        if path is None:
            if self.check_images:
                raise AnnotationError(
                    'no image for this annotation (looked for '
                    f'{images.expected_path(stem, file_name)})',
                    ann_path, reason='missing-image')
            path = images.expected_path(stem, file_name).replace('.*', '.png')
        return path


def parse_float(token: str, path: str, line: Optional[int], what: str, where: str = '') -> float:
    """``float(token)`` or a ``'non-numeric'`` AnnotationError naming the field."""
    try:
        return float(token)
    except (TypeError, ValueError):
        raise AnnotationError(f'non-numeric {what}: {token!r}', path, line, reason='non-numeric',
                              where=where) from None


def build_instance(class_name: str, class_index: int, path: str, line: Optional[int] = None,
                   *, hbox=None, quad=None, rbox=None, difficult: bool = False,
                   mask: Optional[dict] = None, width: int = 0, height: int = 0,
                   where: str = '') -> Instance:
    """One object of a reader: its boxes completed and checked (:func:`~samrs_mm.structures.boxes.complete_boxes`,
    :func:`~samrs_mm.structures.boxes.check_boxes`: zero-size shapes are ``'degenerate'``, an
    object that does not overlap the ``width x height`` image ``'outside-image'``), with its
    origin ``file:line`` (or ``file#where``) for later error messages."""
    if hbox is None and quad is None and rbox is None:
        raise ValueError('build_instance needs a hbox, quad or rbox')
    boxes = G.complete_boxes(hbox, quad, rbox, path=path, line=line, where=where)
    G.check_boxes(boxes, width=width, height=height, path=path, line=line, where=where)
    origin = f'{path}:{line}' if line is not None else (f'{path}#{where}' if where else path)
    return Instance(class_name=class_name, hbox=boxes.hbox, class_index=class_index, rbox=boxes.rbox,
                    quad=boxes.quad, difficult=bool(difficult), mask=mask, origin=origin)
