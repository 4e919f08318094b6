"""TFRecord index files: `<name>.index.npz` with `arr_0` (offset, length) and `locations`.

An index is only ever used after it was checked against its TFRecord (offsets contiguous from 0,
lengths that add up to the file size, locations of the same count, a few records' headers and
locations sampled), so a stale or damaged index is rebuilt instead of trusted. Index files are
not trusted either: their headers are checked before anything is loaded, so a small file cannot
claim gigabytes (see `index_files`). Indexes are written atomically beside the file, or in the
per-user cache folder when the user's folder is read-only or the file's storage may only be
read. Every file is reached through its storage: a TFRecord may be a URL.
"""

from __future__ import annotations

import array
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TFRecordError
from .framing import iter_frames
from .index_checks import index_problem, record_location, records_match
from .index_files import index_bytes, max_index_records, read_index_file
from .paths import cache_path_for
from .progress import CancelToken, Job, Progress, run_job
from .read_only import read_only, set_read_only
from .records import _parse
from .source import is_compressed, open_source, source_size
from .storage import FileInfo, Storage, is_url, storage_for

PROGRESS_EVERY = 512


@dataclass
class IndexInfo:
    """A checked index: where it lives (None = only in memory), offsets and optional locations.

    `error` is set by a tolerant scan of a damaged file: the arrays then cover the good records
    before the damage.
    """

    offsets: np.ndarray
    locations: np.ndarray | None
    path: Path | str | None = None  # a str for an index that is a URL (see `index_location`)
    error: TFRecordError | None = None
    write_error: str | None = None  # why no index file could be written (a full disk, say)
    unchanged: bool = False  # a rebuild found these very arrays already in the index file

    def __len__(self) -> int:
        return len(self.offsets)


def _stem(tfrecord: str | os.PathLike) -> str:
    """The path without the file name's last extension, as Slideflow names indexes
    (`a.tfrecords` and `a.tfrecord` -> `a`); a name without one (or only one) is kept."""
    path = os.fspath(tfrecord)
    folder, name = os.path.split(path)
    base, dot, _ = name.rpartition(".")
    return os.path.join(folder, base) if dot and base else path


def index_location(path: str) -> Path | str:
    """An index's place as callers hold it: a Path for a local file, the URL itself for
    another storage's (a Path would fold the '//' of `mem://...`)."""
    return path if is_url(path) else Path(path)


def index_path(tfrecord: str | os.PathLike) -> Path | str:
    """`<name>.index.npz` beside the TFRecord (the only form we write)."""
    return index_location(_stem(tfrecord) + ".index.npz")


def cache_index_path(tfrecord: str | os.PathLike) -> Path:
    """Where the index goes when the TFRecord's folder is read-only (or its storage may only
    be read): keyed by the TFRecord's absolute path or URL."""
    return cache_path_for(tfrecord, "index", os.path.basename(_stem(tfrecord)) + ".index.npz")


def candidate_index_paths(tfrecord: str | os.PathLike) -> list[Path | str]:
    """Every place an index may be, in Slideflow's search order, then our cache."""
    stem = _stem(tfrecord)
    return [
        index_location(stem + ".index"),
        index_location(stem + ".index.npz"),
        index_location(stem + ".index.npy"),
        cache_index_path(tfrecord),
    ]


def _index_targets(tfrecord: str | os.PathLike) -> list[Path | str]:
    """Where a new index is written, in order of preference: beside the TFRecord when its
    storage may be written by readers (and read-only mode is off), then the per-user cache
    (keyed by the file's path or URL). The one place this is decided."""
    if storage_for(tfrecord).writable and not read_only():
        return [index_path(tfrecord), cache_index_path(tfrecord)]
    return [cache_index_path(tfrecord)]


def _stat(path: Path | str) -> FileInfo | None:
    """The `FileInfo` of `path` from its storage, None when it is not there (or unreadable)."""
    text = os.fspath(path)
    try:
        return storage_for(text).stat(text)
    except OSError:
        return None


def _is_file(path: Path | str) -> bool:
    found = _stat(path)
    return found is not None and found.is_file


def remove_indexes(tfrecord: str | os.PathLike) -> None:
    """Delete every index of a TFRecord that was just written anew: they describe the file it
    replaced (their offsets may even fit by chance, and then their locations would be wrong)."""
    for candidate in candidate_index_paths(tfrecord):
        text = os.fspath(candidate)
        try:
            storage_for(text).remove(text)
        except OSError:
            pass  # none there, or a read-only folder: find_index checks what is left before trusting it


def _data_size(tfrecord: str | os.PathLike, storage: Storage) -> int:
    if is_compressed(tfrecord, storage):
        with open_source(tfrecord, storage) as f:
            return source_size(f)
    return storage.stat(os.fspath(tfrecord)).size


def find_index(tfrecord: str | os.PathLike, notes: list[str] | None = None, first_bytes: int = 0) -> IndexInfo | None:
    """The first index that exists and matches the TFRecord, or None (stale ones are skipped).

    An index file that cannot be read (damaged, not numbers, claiming more records than the
    file can hold, ...) is skipped like a stale one; why goes to `notes` when given. Reading
    one never raises: a bad index is only its own file's problem, and the file is read afresh.
    `first_bytes`: bytes from the file's start about to be read (a window's first screen of
    thumbnails), fetched from a remote storage in the same batch as the index.
    """
    data_size: int | None = None
    storage = storage_for(tfrecord)
    candidates = candidate_index_paths(tfrecord)
    cached = candidates[-1]
    if storage.versions_are_exact:  # an object store: the cache entry is of these very bytes, ask it first
        candidates = [cached, *candidates[:-1]]
    for candidate in candidates:
        found = _stat(candidate)
        if found is None or not found.is_file:
            continue
        trusted = storage.versions_are_exact and candidate == cached  # cached under this size and ETag
        plain = _trusted_plain(tfrecord, candidate, storage, first_bytes) if trusted else None
        if plain is not None:
            return plain
        if data_size is None:
            _fetch_together(tfrecord, candidate, found, storage, trusted, first_bytes)
            data_size = _data_size(tfrecord, storage)
        try:
            offsets, locations = read_index_file(candidate, max_index_records(data_size))
        except ValueError as exc:
            if notes is not None:
                notes.append(f"ignored {exc}")
            continue
        except OSError:  # gone or unreadable meanwhile: as if it were not there
            continue
        if index_problem(offsets, locations, data_size) is None and (
            trusted or records_match(tfrecord, offsets, locations, storage)
        ):
            if storage.versions_are_exact and not trusted and locations is not None:
                _remember_checked(IndexInfo(offsets, locations, candidate), cached)
            return IndexInfo(offsets, locations, candidate)
    return None


def _trusted_plain(tfrecord: str | os.PathLike, cached: Path | str, storage: Storage, first_bytes: int) -> IndexInfo | None:
    """Our cache's copy of an index checked against these very bytes (same size and ETag), when
    it covers the file as stored: then the file is a plain one and needs no gzip sniff (on a
    remote storage, a request per file saved on every open after the first). None: a
    compressed file (its index covers the inflated bytes), or anything amiss; look as usual."""
    path = os.fspath(tfrecord)
    size = storage.stat(path).size
    try:
        offsets, locations = read_index_file(cached, max_index_records(size))
    except (ValueError, OSError):
        return None
    if index_problem(offsets, locations, size) is not None:
        return None
    if first_bytes:
        storage.prefetch_ranges([(path, 0, first_bytes)])
    return IndexInfo(offsets, locations, cached)


def _fetch_together(
    tfrecord: str | os.PathLike, candidate: Path | str, found: FileInfo, storage: Storage, trusted: bool,
    first_bytes: int,
) -> None:
    """On a storage where every read is a request: the index file, both ends of the TFRecord
    (`check_window` bytes each, or `first_bytes` at its start: the gzip sniff, the first
    records and the sampled ones) in one batch of concurrent requests, so finding and checking
    an index is one round trip (a `trusted` index, our cache's copy, needs only `first_bytes`).
    An index file too big for the records the TFRecord can hold is left to `read_index_file`
    to refuse."""
    window = storage.check_window
    if not window or (trusted and not first_bytes):
        return
    path = os.fspath(tfrecord)
    size = storage.stat(path).size
    ranges = [(path, 0, max(window, first_bytes))]
    if not trusted:
        ranges.append((path, max(0, size - window), window))
    text = os.fspath(candidate)
    bounded = found.size <= MAX_INDEX_BYTES_PER_RECORD * max_index_records(size) + 4096
    if storage_for(text) is storage and bounded:  # an index beside the file (not our cache's copy)
        ranges.append((text, 0, found.size))
    storage.prefetch_ranges(ranges)


MAX_INDEX_BYTES_PER_RECORD = 64  # an index file's bytes per record, in any of its forms, at most


def _remember_checked(info: IndexInfo, cached: Path | str) -> None:
    """A copy of an index just checked against an object's records, in the per-user cache under
    the object's URL, size and ETag: the next open trusts it without a request (an object
    replaced gets a new ETag, so a new cache entry, and its index is checked again). Only
    indexes with locations: an older form without them is indexed again for them."""
    try:
        save_index(info, cached, index_file=cached)
    except OSError:  # no cache to be had: the index is checked again next time
        pass


def load_index(tfrecord: str | os.PathLike) -> np.ndarray | None:
    """The `arr_0` array of a valid index for this TFRecord, or None when there is none."""
    info = find_index(tfrecord)
    return None if info is None else info.offsets


def load_locations(tfrecord: str | os.PathLike) -> np.ndarray | None:
    """The `locations` array of a valid index, or None (no index, or no locations in it)."""
    info = find_index(tfrecord)
    return None if info is None else info.locations


def iter_scan(
    tfrecord: str | os.PathLike,
    cancel: CancelToken | None = None,
    verify_crc: bool = True,
    tolerate_errors: bool = False,
) -> Job[IndexInfo]:
    """Read every record and return an in-memory index (nothing is written).

    With `tolerate_errors` a damaged file gives an index anyway, with the first error in
    `IndexInfo.error`: a record whose framing is sound but whose payload is not (data CRC, not
    an Example) stays in the index, so reading it gives its error and the records after it
    still show; where the framing itself breaks, the index ends before the damage. Otherwise
    the first `TFRecordError` is raised.
    """
    path = os.fspath(tfrecord)
    # flat int64 arrays: 16 bytes a record (a list of tuples took ~6x the file's size in memory
    # for a file of empty records)
    offsets = array.array("q")
    locations: array.array | None = array.array("q")
    error: TFRecordError | None = None
    bad_payloads: list[TFRecordError] | None = [] if tolerate_errors else None
    with open_source(path) as f:
        size = source_size(f)
        yield Progress(0, size, path)
        try:
            for i, (offset, length, payload) in enumerate(
                iter_frames(f, path, verify_crc=verify_crc, file_size=size, views=True, bad_payloads=bad_payloads)
            ):
                offsets.extend((offset, length))
                try:
                    loc = record_location(payload, path, i) if locations is not None else _parse(payload, path, i)
                except TFRecordError as exc:
                    if not tolerate_errors:
                        raise
                    error = error or exc.located(path, i, offset)
                    locations = None  # this record's place is unknown: the file has none to map
                else:
                    if locations is not None:  # (a payload with a bad CRC that parses keeps its place)
                        if loc is None:
                            locations = None
                        else:
                            locations.extend(loc)
                if bad_payloads and bad_payloads[-1].index == i:
                    error = error or bad_payloads[-1]
                if i % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    yield Progress(offset + length, size, path)
        except TFRecordError as exc:
            if not tolerate_errors:
                raise
            error = error or exc.located(path, len(offsets) // 2)
        yield Progress(size, size, path)
    arr = np.frombuffer(offsets, dtype=np.int64).reshape(-1, 2)
    loc_arr = None
    if locations:
        loc_arr = np.frombuffer(locations, dtype=np.int64).reshape(-1, 2)
    return IndexInfo(arr, loc_arr, None, error)


def save_index(info: IndexInfo, tfrecord: str | os.PathLike, index_file: str | os.PathLike | None = None) -> IndexInfo:
    """Write the index atomically beside the file, else in the cache; in memory if both fail."""
    data = index_bytes(info.offsets, info.locations)
    reason = "no place to write it"
    targets = [index_location(os.fspath(index_file))] if index_file is not None else _index_targets(tfrecord)
    for target in targets:
        if _holds(target, info):  # a valid index is never rewritten (its file stays untouched)
            return IndexInfo(info.offsets, info.locations, target, info.error, unchanged=True)
        found = _stat(target)
        if found is not None and not found.is_file:
            reason = f"{target} is not a regular file"
            continue  # a FIFO or device under the index's name is the user's: left alone
        text = os.fspath(target)
        storage = storage_for(text)
        try:
            storage.make_dirs(os.path.dirname(text))
            with storage.atomic_output(text) as out:
                out.write(data)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            continue
        return IndexInfo(info.offsets, info.locations, target, info.error)
    if index_file is not None:
        raise OSError(f"cannot write index {index_file}: {reason}")
    return IndexInfo(info.offsets, info.locations, None, info.error, write_error=reason)


def _holds(target: Path | str, info: IndexInfo) -> bool:
    """True when `target` already stores exactly these arrays."""
    if not _is_file(target):
        return False
    try:
        offsets, locations = read_index_file(target, len(info.offsets))
    except (OSError, ValueError):
        return False
    same_locations = (locations is None and info.locations is None) or (
        locations is not None and info.locations is not None and np.array_equal(locations, info.locations)
    )
    return np.array_equal(offsets, info.offsets) and same_locations


def iter_create_index(
    tfrecord: str | os.PathLike,
    cancel: CancelToken | None = None,
    index_file: str | os.PathLike | None = None,
) -> Job[IndexInfo]:
    """Scan the TFRecord and write its index (job form for the GUI worker and CLI progress).

    Raises `TFRecordError` for a damaged file: no index is written for it. Gzip and zlib files
    get an in-memory index only (their offsets refer to the decompressed stream, which Slideflow
    cannot use).
    """
    info = yield from iter_scan(tfrecord, cancel)
    if is_compressed(tfrecord) and index_file is None:
        return info
    return save_index(info, tfrecord, index_file)


def create_index(tfrecord: str | os.PathLike, index_file: str | os.PathLike | None = None) -> IndexInfo:
    """Build and write the index of one TFRecord (Slideflow's `tfrecord2idx.create_index`).

    `index_file` is named as Slideflow names it, by its stem: `create_index(p, 'x.index')` writes
    `x.index.npz` (numpy's savez adds `.npz`, and Slideflow reads a bare `.index` as text).
    """
    if index_file is not None and not os.fspath(index_file).endswith(".npz"):
        index_file = os.fspath(index_file) + ".npz"
    return run_job(iter_create_index(tfrecord, index_file=index_file))


def ensure_index(tfrecord: str | os.PathLike, create: bool = True, verify_crc: bool = True) -> IndexInfo:
    """A valid index: found on disk, else built (written when `create`, else kept in memory)."""
    info = find_index(tfrecord)
    if info is not None:
        return info
    if create:
        return create_index(tfrecord)
    return run_job(iter_scan(tfrecord, verify_crc=verify_crc))


@dataclass
class IndexResult:
    """Plain, picklable outcome of indexing one file, for the window, the CLI and a process pool.

    `state` is what a reader of the file gets: 'indexed', 'damaged' (the index covers the
    records before the damage, `error` says where) or 'error' (nothing readable). `action` is
    what became of its index: 'kept' (a valid one was found, or a rebuild read the file through
    and found the same index already written), 'built' (the file was read
    through: the index written to `index_path`, else held in memory, for a gzip file or because
    `write_error`) or 'none' (the file could not be read through). `notes` say why index files
    found beside it were ignored.
    """

    path: str
    state: str  # 'indexed' | 'damaged' | 'error'
    action: str = "none"  # 'kept' | 'built' | 'none'
    offsets: np.ndarray | None = None
    locations: np.ndarray | None = None
    index_path: str | None = None
    error: str | None = None
    write_error: str | None = None
    notes: list[str] = field(default_factory=list)
    size: int = 0
    mtime_ns: int = 0

    @property
    def records(self) -> int:
        """Records the index covers (those before the damage, for a damaged file)."""
        return 0 if self.offsets is None else len(self.offsets)

    def info(self) -> IndexInfo | None:
        if self.offsets is None:
            return None
        return IndexInfo(self.offsets, self.locations, index_location(self.index_path) if self.index_path else None)

    def _take(self, info: IndexInfo) -> IndexResult:
        """This result with the arrays and the place of `info`."""
        self.offsets, self.locations = info.offsets, info.locations
        self.index_path = str(info.path) if info.path else None
        return self


def iter_index_file(
    path: str | os.PathLike, rebuild: bool = False, cancel: CancelToken | None = None
) -> Job[IndexResult]:
    """Job: index one file (a valid index is kept unless `rebuild`); the one per-file function
    of `tfr-viewer index`, the window's indexing process and a cluster worker.

    The file's own problems (unreadable, empty, damaged) are the result's state, never raised;
    a damaged file is read again past the damage, so the records before it still show. An error
    nobody foresaw propagates: each caller reports it its own way.
    """
    path = os.fspath(path)
    try:
        st = storage_for(path).stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a URL no storage serves
        return IndexResult(path, "error", error=f"{path}: {getattr(exc, 'strerror', None) or exc}")
    result = IndexResult(path, "indexed", size=st.size, mtime_ns=st.mtime_ns)
    try:
        found = None if rebuild else find_index(path, result.notes)
        if found is not None:
            result.action = "kept"
            return result._take(found)
        if st.size == 0:  # no index is written for it
            result.state, result.error = "error", f"{path}: empty file: holds no records"
            return result
        info = yield from iter_create_index(path, cancel)
    except TFRecordError as exc:
        result.state, result.error = "damaged", str(exc)
        return (yield from _read_up_to_damage(result, cancel))
    except OSError as exc:
        result.state, result.error = "error", f"{path}: {exc.strerror or exc}"
        return result
    result.action = "kept" if info.unchanged else "built"
    result.write_error = info.write_error
    return result._take(info)


def _read_up_to_damage(result: IndexResult, cancel: CancelToken | None) -> Job[IndexResult]:
    """The damaged file's records that can be read (nothing is written for it)."""
    try:
        info = yield from iter_scan(result.path, cancel, tolerate_errors=True)
    except (TFRecordError, OSError):
        return result
    return result._take(info)


def index_file(path: str | os.PathLike, rebuild: bool = False, read_only_mode: bool | None = None) -> IndexResult:
    """`iter_index_file` run through: the plain function a process pool or a cluster calls.
    `read_only_mode` carries the caller's read-only mode into a process started before it changed."""
    if read_only_mode is not None:
        set_read_only(read_only_mode)
    return run_job(iter_index_file(path, rebuild))
