"""Is an index of this TFRecord? Its numbers must describe the file (`index_problem`), and a few
records are read and compared with what the index says (`records_match`).

An index found beside a file may be left from another file of the same size: the headers of
some records (a length with a valid CRC that matches the index's length) and the locations of a
few are checked before it is trusted. Which records: on a local disk, the first, the last and
evenly spaced between; on a storage where every read is a request (`Storage.check_window`),
the records lying in the file's first and last window, fetched in the same batch as the index
file (see `index.find_index`): the check then costs no round trip of its own.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from .errors import TFRecordError
from .framing import FRAMING_SIZE, HEADER, HEADER_SIZE, masked_crc32c, read_frame
from .index_files import max_index_records
from .records import _parse
from .source import sniff_compression, source_size
from .storage import Storage

SAMPLED_HEADERS = 9  # record headers an index is checked against before it is trusted
SAMPLED_LOCATIONS = 5  # records whose loc_x/loc_y are compared with the index's locations


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


def records_match(
    tfrecord: str | os.PathLike, offsets: np.ndarray, locations: np.ndarray | None, storage: Storage
) -> bool:
    """Whether records agree with the index: the headers of the sampled records and the
    locations of the first, the last and a few between picked at random (seeded by the count,
    so the answer does not change between runs). Gzip files are not checked."""
    n = len(offsets)
    if not n:
        return True
    if storage.check_window:
        headers = window_picks(offsets, storage.check_window)
    else:
        headers = header_picks(n)
    picks = location_picks(headers)
    path = os.fspath(tfrecord)
    try:
        with storage.open(path) as f:
            if sniff_compression(storage.read_at(f, 0, HEADER_SIZE)) is not None:
                return True
            checked = [(int(start), HEADER_SIZE) for start, _ in offsets[headers]]
            if locations is not None:
                checked += [tuple(int(v) for v in offsets[i]) for i in picks]
            storage.prefetch(f, checked)  # a remote file: one round trip for all of them (none when cached)
            for start, length in offsets[headers]:
                header = storage.read_at(f, int(start), HEADER_SIZE)
                if len(header) < HEADER_SIZE:
                    return False
                field, field_crc = HEADER.unpack(header)
                if field != int(length) - FRAMING_SIZE or masked_crc32c(header[:8]) != field_crc:
                    return False
            if locations is not None:
                return _locations_match(f, path, offsets, locations, picks, storage)
    except (OSError, ValueError):  # gone, or no regular file any more
        return False
    return True


def header_picks(n: int) -> np.ndarray:
    """The records whose headers are checked: the first, the last and evenly spaced between."""
    return np.unique(np.linspace(0, n - 1, min(SAMPLED_HEADERS, n)).astype(np.int64))


def window_picks(offsets: np.ndarray, window: int) -> np.ndarray:
    """The records lying wholly in the first or the last `window` bytes of the file, and the
    first and the last record whatever their size (on a remote file: the bytes fetched with
    the index)."""
    n = len(offsets)
    starts, ends = offsets[:, 0], offsets[:, 0] + offsets[:, 1]
    size = int(ends[-1])
    inside = (ends <= window) | (starts >= size - window)
    return np.unique(np.concatenate([np.flatnonzero(inside), [0, n - 1]]).astype(np.int64))


def location_picks(headers: np.ndarray) -> list[int]:
    """The records whose locations are checked: the first and the last of the header picks and
    a few between, picked at random (seeded by the count: the same answer every run). Records
    whose headers are read anyway: on a remote file each is one request, not two."""
    picks = headers.tolist()
    inner = picks[1:-1]
    rng = np.random.default_rng(picks[-1] + 1)
    extra = rng.choice(inner, size=min(len(inner), SAMPLED_LOCATIONS - 2), replace=False).tolist() if inner else []
    return sorted({picks[0], picks[-1], *extra})


def _locations_match(
    f: BinaryIO, path: str, offsets: np.ndarray, locations: np.ndarray, picks: list[int], storage: Storage
) -> bool:
    size = source_size(f)
    for i in picks:
        start, length = offsets[i].tolist()
        try:
            payload = read_frame(f, start, length, path, i, True, size, storage=storage)
            found = record_location(payload, path, i)
        except TFRecordError:  # a damaged record: reading it reports that; it says nothing here
            continue
        if found is None or found != tuple(locations[i].tolist()):
            return False
    return True


def record_location(payload: bytes, path: str, index: int) -> tuple[int, int] | None:
    """(loc_x, loc_y) of one record, None when it lacks either field."""
    feature = _parse(payload, path, index).features.feature
    if "loc_x" not in feature or "loc_y" not in feature:
        return None
    xs, ys = feature["loc_x"].int64_list.value, feature["loc_y"].int64_list.value
    if not xs or not ys:
        return None
    return xs[0], ys[0]
