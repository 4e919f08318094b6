"""Index files as Slideflow reads and writes them: `<name>.index.npz` (`arr_0`, `locations`),
and the older forms it still reads, `.index.npy` and the text `.index`.

Index files are not trusted: their headers are checked before anything is loaded, so a small
file cannot claim gigabytes, and whatever a hostile file makes numpy or zipfile raise comes out
as one ValueError. Files are opened through their storage.
"""

from __future__ import annotations

import array
import io
import os
import zipfile
from typing import BinaryIO, Callable

import numpy as np
from numpy.lib import format as npf

from .framing import FRAMING_SIZE
from .source import source_size
from .storage import storage_for

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
    path = os.fspath(path)
    name = os.path.basename(path)
    locations = None
    try:
        with storage_for(path).open(path) as f:
            size = source_size(f)
            if size == 0:
                return np.zeros((0, 2), dtype=np.int64), None
            if name.endswith(".npz"):
                offsets, locations = _read_npz(f, max_records)
            elif name.endswith(".npy"):
                offsets = _read_npy(f, size, max_records, "iu", "the array")
            else:
                offsets = _read_text(f, max_records)
    except Exception as exc:  # noqa: BLE001 - zipfile, numpy and the OS raise many kinds here
        reason = str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"unreadable index {name} ({reason})") from None
    if offsets.size == 0:
        offsets = offsets.reshape(0, 2)
    if offsets.ndim != 2 or offsets.shape[1] != 2:
        raise ValueError(f"index {name} has shape {offsets.shape}")
    if locations is not None:
        # locations that do not pair up with the records (e.g. (n, 1) when records hold only
        # loc_x) are no locations; the offsets stay good, so the file is not rewritten
        locations = locations.astype(np.int64) if locations.shape == (len(offsets), 2) else None
    return offsets.astype(np.int64), locations


def _read_npz(f: BinaryIO, max_records: int | None) -> tuple[np.ndarray, np.ndarray | None]:
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


def index_bytes(offsets: np.ndarray, locations: np.ndarray | None) -> bytes:
    """The `.index.npz` file content as Slideflow writes it (np.savez, int64): `locations` is
    always there, empty when the records have none (Slideflow's `TFRecord` needs the key)."""
    buf = io.BytesIO()
    if locations is None:
        locations = np.zeros(0, dtype=np.int64)
    np.savez(buf, offsets.astype(np.int64), locations=locations.astype(np.int64))
    return buf.getvalue()
