"""TFRecord index files: `<name>.index.npz` with `arr_0` (offset, length) and `locations`.

An index is only ever used after it was checked against its TFRecord (offsets contiguous from 0,
lengths that add up to the file size, locations of the same count), so a stale or damaged index
is rebuilt instead of trusted. Indexes are written atomically beside the file, or in the per-user
cache folder when the user's folder is read-only.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import TFRecordError
from .framing import FRAMING_SIZE, HEADER, HEADER_SIZE, iter_frames, masked_crc32c
from .progress import CancelToken, Job, Progress, run_job
from .records import _parse
from .paths import atomic_write_bytes, cache_path_for
from .source import GZIP_MAGIC, is_gzip, open_source, source_size

PROGRESS_EVERY = 512


@dataclass
class IndexInfo:
    """A checked index: where it lives (None = only in memory), offsets and optional locations.

    `error` is set by a tolerant scan of a damaged file: the arrays then cover the good records
    before the damage.
    """

    offsets: np.ndarray
    locations: np.ndarray | None
    path: Path | None = None
    error: TFRecordError | None = None

    def __len__(self) -> int:
        return len(self.offsets)


def _stem(tfrecord: str | os.PathLike) -> str:
    """The path without the file name's last extension, as Slideflow names indexes
    (`a.tfrecords` and `a.tfrecord` -> `a`); a name without one (or only one) is kept."""
    path = os.fspath(tfrecord)
    folder, name = os.path.split(path)
    base, dot, _ = name.rpartition(".")
    return os.path.join(folder, base) if dot and base else path


def index_path(tfrecord: str | os.PathLike) -> Path:
    """`<name>.index.npz` beside the TFRecord (the only form we write)."""
    return Path(_stem(tfrecord) + ".index.npz")


def cache_index_path(tfrecord: str | os.PathLike) -> Path:
    """Where the index goes when the TFRecord's folder is read-only."""
    return cache_path_for(tfrecord, "index", index_path(tfrecord).name)


def candidate_index_paths(tfrecord: str | os.PathLike) -> list[Path]:
    """Every place an index may be, in Slideflow's search order, then our cache."""
    stem = _stem(tfrecord)
    return [
        Path(stem + ".index"),
        Path(stem + ".index.npz"),
        Path(stem + ".index.npy"),
        cache_index_path(tfrecord),
    ]


def remove_indexes(tfrecord: str | os.PathLike) -> None:
    """Delete every index of a TFRecord that was just written anew: they describe the file it
    replaced (their offsets may even fit by chance, and then their locations would be wrong)."""
    for candidate in candidate_index_paths(tfrecord):
        try:
            candidate.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: find_index still checks what is left before trusting it


def read_index_file(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays from one index file in any of the three forms; ValueError if it is unreadable.

    A zero-byte index means "no records" (as in Slideflow); a missing or empty `locations` array,
    or one not shaped (n, 2) like the offsets, means "no locations".
    """
    path = Path(path)
    if path.stat().st_size == 0:
        return np.zeros((0, 2), dtype=np.int64), None
    locations = None
    try:
        if path.name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                if "arr_0" not in archive.files:
                    raise ValueError("no arr_0 array")
                offsets = archive["arr_0"]
                if "locations" in archive.files:
                    loc = archive["locations"]
                    locations = loc if loc.size else None
        elif path.name.endswith(".npy"):
            offsets = np.load(path, allow_pickle=False)
        else:
            offsets = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"unreadable index {path.name} ({exc})") from None
    offsets = np.asarray(offsets)
    if offsets.size == 0:
        offsets = offsets.reshape(0, 2)
    if offsets.ndim != 2 or offsets.shape[1] != 2 or offsets.dtype.kind not in "iu":
        raise ValueError(f"index {path.name} has shape {offsets.shape} dtype {offsets.dtype}")
    if locations is not None:
        locations = np.asarray(locations)
        if locations.dtype.kind not in "iuf":
            raise ValueError(f"index {path.name} locations dtype {locations.dtype}")
        # locations that do not pair up with the records (e.g. (n, 1) when records hold only
        # loc_x) are no locations; the offsets stay good, so the file is not rewritten
        locations = locations.astype(np.int64) if locations.shape == (len(offsets), 2) else None
    return offsets.astype(np.int64), locations


def index_problem(offsets: np.ndarray, locations: np.ndarray | None, data_size: int) -> str | None:
    """Why this index cannot describe a TFRecord of `data_size` bytes, or None when it fits."""
    n = len(offsets)
    if n == 0:
        return None if data_size == 0 else f"index lists no records but the file has {data_size} bytes"
    starts, lengths = offsets[:, 0], offsets[:, 1]
    if starts[0] != 0:
        return "first record does not start at byte 0"
    if np.any(lengths < FRAMING_SIZE):
        return "a record length is shorter than its framing"
    if n > 1 and not np.array_equal(starts[1:], starts[:-1] + lengths[:-1]):
        return "record offsets are not contiguous"
    end = int(starts[-1] + lengths[-1])
    if end != data_size:
        return f"index covers {end} bytes but the file has {data_size} (stale index)"
    if locations is not None and locations.shape != (n, 2):
        return f"locations have shape {locations.shape}, expected ({n}, 2)"
    return None


def _data_size(tfrecord: str | os.PathLike) -> int:
    if is_gzip(tfrecord):
        with open_source(tfrecord) as f:
            return source_size(f)
    return os.stat(tfrecord).st_size


def find_index(tfrecord: str | os.PathLike) -> IndexInfo | None:
    """The first index that exists and matches the TFRecord, or None (stale ones are skipped)."""
    data_size: int | None = None
    for candidate in candidate_index_paths(tfrecord):
        if not candidate.is_file():
            continue
        try:
            offsets, locations = read_index_file(candidate)
        except (OSError, ValueError):
            continue
        if data_size is None:
            data_size = _data_size(tfrecord)
        if index_problem(offsets, locations, data_size) is None and _ends_match(tfrecord, offsets):
            return IndexInfo(offsets, locations, candidate)
    return None


SAMPLED_HEADERS = 9  # record headers an index is checked against before it is trusted


def _ends_match(tfrecord: str | os.PathLike, offsets: np.ndarray) -> bool:
    """Whether record headers agree with the index: the first, the last and some between, each
    a length field with a valid CRC that matches the index's length. Catches an index left from
    another file of the same size (and count); a few 12-byte reads. Gzip files are not checked."""
    if not len(offsets):
        return True
    picks = np.unique(np.linspace(0, len(offsets) - 1, min(SAMPLED_HEADERS, len(offsets))).astype(np.int64))
    try:
        with open(tfrecord, "rb") as f:
            if f.read(2) == GZIP_MAGIC:
                return True
            for start, length in offsets[picks]:
                f.seek(int(start))
                header = f.read(HEADER_SIZE)
                if len(header) < HEADER_SIZE:
                    return False
                field, field_crc = HEADER.unpack(header)
                if field != int(length) - FRAMING_SIZE or masked_crc32c(header[:8]) != field_crc:
                    return False
    except OSError:
        return False
    return True


def load_index(tfrecord: str | os.PathLike) -> np.ndarray | None:
    """The `arr_0` array of a valid index for this TFRecord, or None when there is none."""
    info = find_index(tfrecord)
    return None if info is None else info.offsets


def load_locations(tfrecord: str | os.PathLike) -> np.ndarray | None:
    """The `locations` array of a valid index, or None (no index, or no locations in it)."""
    info = find_index(tfrecord)
    return None if info is None else info.locations


def record_location(payload: bytes, path: str, index: int) -> tuple[int, int] | None:
    """(loc_x, loc_y) of one record, None when it lacks either field."""
    feature = _parse(payload, path, index).features.feature
    if "loc_x" not in feature or "loc_y" not in feature:
        return None
    xs, ys = feature["loc_x"].int64_list.value, feature["loc_y"].int64_list.value
    if not xs or not ys:
        return None
    return xs[0], ys[0]


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
    offsets: list[tuple[int, int]] = []
    locations: list[tuple[int, int]] | None = []
    error: TFRecordError | None = None
    bad_payloads: list[TFRecordError] | None = [] if tolerate_errors else None
    with open_source(path) as f:
        size = source_size(f)
        yield Progress(0, size, path)
        try:
            for i, (offset, length, payload) in enumerate(
                iter_frames(f, path, verify_crc=verify_crc, file_size=size, views=True, bad_payloads=bad_payloads)
            ):
                offsets.append((offset, length))
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
                            locations.append(loc)
                if bad_payloads and bad_payloads[-1].index == i:
                    error = error or bad_payloads[-1]
                if i % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    yield Progress(offset + length, size, path)
        except TFRecordError as exc:
            if not tolerate_errors:
                raise
            error = error or exc.located(path, len(offsets))
        yield Progress(size, size, path)
    arr = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    loc_arr = None
    if locations:
        loc_arr = np.asarray(locations, dtype=np.int64).reshape(-1, 2)
    return IndexInfo(arr, loc_arr, None, error)


def index_bytes(offsets: np.ndarray, locations: np.ndarray | None) -> bytes:
    """The `.index.npz` file content as Slideflow writes it (np.savez, int64): `locations` is
    always there, empty when the records have none (Slideflow's `TFRecord` needs the key)."""
    buf = io.BytesIO()
    if locations is None:
        locations = np.zeros(0, dtype=np.int64)
    np.savez(buf, offsets.astype(np.int64), locations=locations.astype(np.int64))
    return buf.getvalue()


def save_index(info: IndexInfo, tfrecord: str | os.PathLike, index_file: str | os.PathLike | None = None) -> IndexInfo:
    """Write the index atomically beside the file, else in the cache; in memory if both fail."""
    data = index_bytes(info.offsets, info.locations)
    targets = [Path(index_file)] if index_file is not None else [index_path(tfrecord), cache_index_path(tfrecord)]
    for target in targets:
        if _holds(target, info):  # a valid index is never rewritten (its file stays untouched)
            return IndexInfo(info.offsets, info.locations, target, info.error)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
        except OSError:
            continue
        return IndexInfo(info.offsets, info.locations, target, info.error)
    if index_file is not None:
        raise OSError(f"cannot write index {index_file}")
    return info


def _holds(target: Path, info: IndexInfo) -> bool:
    """True when `target` already stores exactly these arrays."""
    if not target.is_file():
        return False
    try:
        offsets, locations = read_index_file(target)
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

    Raises `TFRecordError` for a damaged file: no index is written for it. Gzip files get an
    in-memory index only (their offsets refer to the decompressed stream, which Slideflow cannot use).
    """
    info = yield from iter_scan(tfrecord, cancel)
    if is_gzip(tfrecord) and index_file is None:
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
    """Plain, picklable outcome of indexing one file (for a process pool)."""

    path: str
    state: str  # 'indexed' | 'damaged' | 'error'
    offsets: np.ndarray | None = None
    locations: np.ndarray | None = None
    index_path: str | None = None
    error: str | None = None
    size: int = 0
    mtime_ns: int = 0

    def info(self) -> IndexInfo | None:
        if self.offsets is None:
            return None
        return IndexInfo(self.offsets, self.locations, Path(self.index_path) if self.index_path else None)


def index_file(path: str | os.PathLike) -> IndexResult:
    """Index one file and never raise: a damaged file keeps the records before the damage.

    Runs in a worker process of the GUI (so indexing does not compete with the window for the GIL).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        return IndexResult(path, "error", error=f"{path}: {exc.strerror or exc}")
    result = IndexResult(path, "indexed", size=st.st_size, mtime_ns=st.st_mtime_ns)
    if st.st_size == 0:
        result.state, result.error = "error", f"{path}: empty file: holds no records"
        return result
    try:
        info = create_index(path)
    except TFRecordError as exc:
        result.state, result.error = "damaged", str(exc)
        try:
            info = run_job(iter_scan(path, tolerate_errors=True))
        except (TFRecordError, OSError):
            return result
    except OSError as exc:
        result.state, result.error = "error", f"{path}: {exc.strerror or exc}"
        return result
    result.offsets, result.locations = info.offsets, info.locations
    result.index_path = str(info.path) if info.path else None
    return result
