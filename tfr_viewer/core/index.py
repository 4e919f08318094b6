"""TFRecord index files: `<name>.index.npz` with `arr_0` (offset, length) and `locations`.

An index is only ever used after it was checked against its TFRecord (offsets contiguous from 0,
lengths that add up to the file size, locations of the same count, a few records' headers and
locations sampled), so a stale or damaged index is rebuilt instead of trusted. Index files are
not trusted either: their headers are checked before anything is loaded, so a small file cannot
claim gigabytes. Indexes are written atomically beside the file, or in the per-user cache folder
when the user's folder is read-only.
"""

from __future__ import annotations

import array
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from numpy.lib import format as npf

from .errors import TFRecordError
from .framing import FRAMING_SIZE, HEADER, HEADER_SIZE, iter_frames, masked_crc32c, read_frame
from .progress import CancelToken, Job, Progress, run_job
from .records import _parse
from .paths import atomic_write_bytes, cache_path_for, make_dirs, open_regular_file
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
    write_error: str | None = None  # why no index file could be written (a full disk, say)

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


MAX_INDEX_HEADER = 10_000  # bytes of a .npy header (numpy's own default limit)
MAX_INDEX_RATIO = 100  # inflated/deflated size of a big npz member: real indexes stay near 10x
RATIO_CHECKED_FROM = 16 << 20  # members smaller than this cannot take much memory whatever they claim
TEXT_LINE_LIMIT = 64  # bytes of one `offset length` line of a text index (two int64 and a space)
READ_CHUNK = 1 << 20


def max_index_records(data_size: int) -> int:
    """The most records a TFRecord of `data_size` bytes can hold (each has 16 framing bytes)."""
    return max(0, data_size) // FRAMING_SIZE


def read_index_file(
    path: str | os.PathLike, max_records: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays from one index file in any of the three forms; ValueError if it is unreadable.

    A zero-byte index means "no records" (as in Slideflow); a missing or empty `locations` array,
    or one not shaped (n, 2) like the offsets, means "no locations". Nothing is loaded before its
    header was checked: an index claiming more than `max_records` records (see
    `max_index_records`), or more data than the file holds, is refused without reading it, so a
    few bytes cannot ask for gigabytes. Whatever a hostile file makes numpy or zipfile raise
    comes out as ValueError: a bad index is one file's problem.
    """
    path = Path(path)
    locations = None
    try:
        with open_regular_file(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return np.zeros((0, 2), dtype=np.int64), None
            if path.name.endswith(".npz"):
                offsets, locations = _read_npz(f, max_records)
            elif path.name.endswith(".npy"):
                offsets = _read_npy(f, size, max_records, "iu", "the array")
            else:
                offsets = _read_text(f, max_records)
    except Exception as exc:  # noqa: BLE001 - zipfile, numpy and the OS raise many kinds here
        reason = str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"unreadable index {path.name} ({reason})") from None
    if offsets.size == 0:
        offsets = offsets.reshape(0, 2)
    if offsets.ndim != 2 or offsets.shape[1] != 2:
        raise ValueError(f"index {path.name} has shape {offsets.shape}")
    if locations is not None:
        # locations that do not pair up with the records (e.g. (n, 1) when records hold only
        # loc_x) are no locations; the offsets stay good, so the file is not rewritten
        locations = locations.astype(np.int64) if locations.shape == (len(offsets), 2) else None
    return offsets.astype(np.int64), locations


def _read_npz(f: io.BufferedReader, max_records: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """`arr_0` and `locations` of an npz, each member's sizes checked before it is inflated."""
    with zipfile.ZipFile(f) as archive:
        members = {info.filename: info for info in archive.infolist()}
        if "arr_0.npy" not in members:
            raise ValueError("no arr_0 array")
        offsets = _read_member(archive, members["arr_0.npy"], max_records, "iu")
        locations = None
        if "locations.npy" in members:
            # a locations array that cannot pair with the offsets is "no locations": not read
            limit = len(offsets) if max_records is None else min(len(offsets), max_records)
            try:
                loc = _read_member(archive, members["locations.npy"], limit, "iuf")
            except _TooMany:
                loc = None
            locations = loc if loc is not None and loc.size else None
    return offsets, locations


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_rows: int | None, kinds: str
) -> np.ndarray:
    """One array of an npz: its header checked, then its compression ratio, then its data."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):  # what numpy writes
        raise ValueError(f"{info.filename} uses compression method {info.compress_type}")

    def check_ratio() -> None:
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > RATIO_CHECKED_FROM
            and info.file_size > MAX_INDEX_RATIO * info.compress_size
        ):
            raise ValueError(
                f"{info.filename} inflates {info.compress_size:,} bytes to {info.file_size:,}: "
                "refused (it looks like a decompression bomb)"
            )

    with archive.open(info) as member:
        return _read_npy(member, info.file_size, max_rows, kinds, info.filename, check_ratio)


class _TooMany(ValueError):
    """An array claims more rows than the TFRecord can hold."""


def _read_npy(
    f: BinaryIO,
    available: int,
    max_rows: int | None,
    kinds: str,
    what: str,
    before_data: Callable[[], None] | None = None,
) -> np.ndarray:
    """One .npy array whose header (shape, dtype) was checked before its data is read: numbers
    only (no objects, no pickles), at most `max_rows` rows of two values, and exactly the
    bytes the header announces (`available`: the file's or zip member's size)."""
    version = npf.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npf.read_array_header_1_0(f, max_header_size=MAX_INDEX_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = npf.read_array_header_2_0(f, max_header_size=MAX_INDEX_HEADER)
    else:
        raise ValueError(f"{what}: .npy format version {version} is not read")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds:
        raise ValueError(f"{what}: dtype {dtype} is not a plain number")
    if dtype.itemsize > 8:
        raise ValueError(f"{what}: dtype {dtype} is wider than 8 bytes")
    count = 1
    for dim in shape:
        count *= int(dim)  # Python ints: no overflow whatever the header claims
    if max_rows is not None and count > 2 * max_rows:
        raise _TooMany(f"{what}: shape {shape} holds more than the {max_rows:,} records the file can hold")
    header_end = f.tell()
    nbytes = count * dtype.itemsize
    if available != header_end + nbytes:
        raise ValueError(f"{what}: shape {shape} needs {nbytes:,} data bytes, the file holds {available - header_end:,}")
    if before_data is not None:
        before_data()
    data = bytearray(nbytes)
    view = memoryview(data)
    pos = 0
    while pos < nbytes:
        chunk = f.read(min(READ_CHUNK, nbytes - pos))
        if not chunk:
            raise ValueError(f"{what}: ends after {pos:,} of {nbytes:,} data bytes")
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_text(f: BinaryIO, max_records: int | None) -> np.ndarray:
    """A text index (`offset length` per line), read a line at a time: refused at a line that is
    not two integers, or past the records the TFRecord can hold, so memory stays bounded."""
    values = array.array("q")  # 16 bytes a record, whatever the count
    line_no = 0
    while True:
        line = f.readline(TEXT_LINE_LIMIT + 1)
        if not line:
            break
        line_no += 1
        if len(line) > TEXT_LINE_LIMIT:
            raise ValueError(f"line {line_no} is longer than {TEXT_LINE_LIMIT} bytes")
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not all(p.lstrip(b"-").isdigit() for p in parts):
            raise ValueError(f"line {line_no} is not two integers")
        if max_records is not None and len(values) // 2 >= max_records:
            raise ValueError(f"lists more than the {max_records:,} records the file can hold")
        values.extend((int(parts[0]), int(parts[1])))  # OverflowError past 64 bits
    return np.frombuffer(values, dtype=np.int64).reshape(-1, 2)


def index_problem(offsets: np.ndarray, locations: np.ndarray | None, data_size: int) -> str | None:
    """Why this index cannot describe a TFRecord of `data_size` bytes, or None when it fits.

    Every value is bounded before anything is added, so no sum can wrap around (an index of
    lengths near 2**64 would otherwise add up to the file size and hide records).
    """
    n = len(offsets)
    if n == 0:
        return None if data_size == 0 else f"index lists no records but the file has {data_size} bytes"
    if n > max_index_records(data_size):
        return f"index lists {n} records, more than a file of {data_size} bytes can hold"
    starts, lengths = offsets[:, 0], offsets[:, 1]
    if starts.min() < 0 or starts.max() >= data_size:
        return "a record offset lies outside the file"
    if lengths.min() < FRAMING_SIZE:
        return "a record length is shorter than its framing"
    if lengths.max() > data_size:
        return "a record length is longer than the file"
    if starts[0] != 0:
        return "first record does not start at byte 0"
    # each term is below 2 * data_size now: exact in int64
    if n > 1 and not np.array_equal(starts[1:], starts[:-1] + lengths[:-1]):
        return "record offsets are not contiguous"
    end = int(starts[-1]) + int(lengths[-1])
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


def find_index(tfrecord: str | os.PathLike, notes: list[str] | None = None) -> IndexInfo | None:
    """The first index that exists and matches the TFRecord, or None (stale ones are skipped).

    An index file that cannot be read (damaged, not numbers, claiming more records than the
    file can hold, ...) is skipped like a stale one; why goes to `notes` when given. Reading
    one never raises: a bad index is only its own file's problem, and the file is read afresh.
    """
    data_size: int | None = None
    for candidate in candidate_index_paths(tfrecord):
        if not candidate.is_file():
            continue
        if data_size is None:
            data_size = _data_size(tfrecord)
        try:
            offsets, locations = read_index_file(candidate, max_index_records(data_size))
        except ValueError as exc:
            if notes is not None:
                notes.append(f"ignored {exc}")
            continue
        except OSError:  # gone or unreadable meanwhile: as if it were not there
            continue
        if index_problem(offsets, locations, data_size) is None and _records_match(tfrecord, offsets, locations):
            return IndexInfo(offsets, locations, candidate)
    return None


SAMPLED_HEADERS = 9  # record headers an index is checked against before it is trusted
SAMPLED_LOCATIONS = 5  # records whose loc_x/loc_y are compared with the index's locations


def _records_match(tfrecord: str | os.PathLike, offsets: np.ndarray, locations: np.ndarray | None) -> bool:
    """Whether records agree with the index: the headers of the first, the last and some records
    between (a length field with a valid CRC that matches the index's length), and the
    locations of the first, the last and a few records picked at random (seeded by the count, so
    the answer does not change between runs). Catches an index left from another file of the
    same size (and count); a few small reads. Gzip files are not checked."""
    n = len(offsets)
    if not n:
        return True
    picks = np.unique(np.linspace(0, n - 1, min(SAMPLED_HEADERS, n)).astype(np.int64))
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
            if locations is not None:
                return _locations_match(f, os.fspath(tfrecord), offsets, locations)
    except OSError:
        return False
    return True


def _locations_match(f: BinaryIO, path: str, offsets: np.ndarray, locations: np.ndarray) -> bool:
    n = len(offsets)
    rng = np.random.default_rng(n)
    extra = rng.integers(0, n, size=max(0, SAMPLED_LOCATIONS - 2)).tolist() if n > 2 else []
    size = os.fstat(f.fileno()).st_size
    for i in sorted({0, n - 1, *extra}):
        start, length = offsets[i].tolist()
        try:
            payload = read_frame(f, start, length, path, i, True, size)
            found = record_location(payload, path, i)
        except TFRecordError:  # a damaged record: reading it reports that; it says nothing here
            continue
        if found is None or found != tuple(locations[i].tolist()):
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
    reason = "no place to write it"
    targets = [Path(index_file)] if index_file is not None else [index_path(tfrecord), cache_index_path(tfrecord)]
    for target in targets:
        if _holds(target, info):  # a valid index is never rewritten (its file stays untouched)
            return IndexInfo(info.offsets, info.locations, target, info.error)
        if os.path.lexists(target) and not (target.is_file() or target.is_symlink()):
            reason = f"{target} is not a regular file"
            continue  # a FIFO or device under the index's name is the user's: left alone
        try:
            make_dirs(target.parent)
            atomic_write_bytes(target, data)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            continue
        return IndexInfo(info.offsets, info.locations, target, info.error)
    if index_file is not None:
        raise OSError(f"cannot write index {index_file}: {reason}")
    return IndexInfo(info.offsets, info.locations, None, info.error, write_error=reason)


def _holds(target: Path, info: IndexInfo) -> bool:
    """True when `target` already stores exactly these arrays."""
    if not target.is_file():
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
