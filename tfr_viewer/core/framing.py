"""TFRecord framing: u64 length, masked CRC32C of the length, payload, masked CRC32C of the payload.

Nothing here knows about Examples. Every length read from a file is checked against the bytes
that are really there before anything is allocated, so a corrupt length cannot make a reader
ask for gigabytes.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

import google_crc32c

from .errors import TFRecordError
from .source import source_size

HEADER = struct.Struct("<QI")
FOOTER = struct.Struct("<I")
HEADER_SIZE = HEADER.size  # 12
FRAMING_SIZE = HEADER_SIZE + FOOTER.size  # 16: what an index's record length adds to the payload
_MASK_DELTA = 0xA282EAD8
_crc32c = google_crc32c.value


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """TensorFlow's masked CRC32C, as stored in TFRecord framing."""
    crc = _crc32c(bytes(data) if isinstance(data, memoryview) else data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(payload: bytes) -> bytes:
    """One framed record, ready to append to a file."""
    length = struct.pack("<Q", len(payload))
    return b"".join(
        (length, FOOTER.pack(masked_crc32c(length)), payload, FOOTER.pack(masked_crc32c(payload)))
    )


def write_record(f: BinaryIO, payload: bytes) -> int:
    """Append one framed record to `f`; returns the bytes written (payload + 16)."""
    framed = frame_record(payload)
    f.write(framed)
    return len(framed)


def _read_one(
    f: BinaryIO,
    offset: int,
    size: int,
    path: str | os.PathLike | None,
    index: int | None,
    verify_crc: bool,
) -> bytes:
    """Read and check the record that starts at `offset` (file position already there)."""
    header = f.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise TFRecordError(
            f"truncated record header ({len(header)} of {HEADER_SIZE} bytes)", path, index, offset
        )
    length, length_crc = HEADER.unpack(header)
    if verify_crc and masked_crc32c(header[:8]) != length_crc:
        raise TFRecordError("length CRC mismatch (corrupt record header)", path, index, offset)
    available = size - offset - FRAMING_SIZE
    if length > available:
        raise TFRecordError(
            f"record length {length} exceeds the {max(available, 0)} bytes left in the file "
            "(truncated or corrupt)",
            path,
            index,
            offset,
        )
    payload = f.read(length)
    footer = f.read(4)
    if len(payload) < length or len(footer) < 4:
        raise TFRecordError("truncated record payload", path, index, offset)
    if verify_crc and masked_crc32c(payload) != FOOTER.unpack(footer)[0]:
        raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
    return payload


def iter_frames(
    f: BinaryIO,
    path: str | os.PathLike | None = None,
    start: int = 0,
    verify_crc: bool = True,
    file_size: int | None = None,
    first_index: int = 0,
) -> Iterator[tuple[int, int, bytes]]:
    """Yield `(offset, record_length_with_framing, payload)` for each record from `start` on.

    Raises `TFRecordError` at the first bad record; records before it were already yielded.
    """
    size = source_size(f) if file_size is None else file_size
    offset = start
    index = first_index
    f.seek(offset)
    while offset < size:
        payload = _read_one(f, offset, size, path, index, verify_crc)
        record_length = len(payload) + FRAMING_SIZE
        yield offset, record_length, payload
        offset += record_length
        index += 1


def read_frame(
    f: BinaryIO,
    offset: int,
    length: int | None = None,
    path: str | os.PathLike | None = None,
    index: int | None = None,
    verify_crc: bool = True,
    file_size: int | None = None,
) -> bytes:
    """The payload of the record at `offset`; `length` (from an index) is cross-checked."""
    size = source_size(f) if file_size is None else file_size
    if offset < 0 or offset >= size:
        raise TFRecordError(f"offset beyond the end of the file ({size} bytes)", path, index, offset)
    f.seek(offset)
    payload = _read_one(f, offset, size, path, index, verify_crc)
    if length is not None and len(payload) + FRAMING_SIZE != length:
        raise TFRecordError(
            f"index says {length} bytes but the record holds {len(payload) + FRAMING_SIZE}"
            " (stale index)",
            path,
            index,
            offset,
        )
    return payload
