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
BLOCK_SIZE = 1 << 20
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
    length = _check_header(header, 0, offset, size, path, index, verify_crc)
    payload = f.read(length)
    footer = f.read(4)
    if len(payload) < length or len(footer) < 4:
        raise TFRecordError("truncated record payload", path, index, offset)
    if verify_crc and masked_crc32c(payload) != FOOTER.unpack(footer)[0]:
        raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
    return payload


def _check_header(
    header: bytes | bytearray,
    pos: int,
    offset: int,
    size: int,
    path: str | os.PathLike | None,
    index: int | None,
    verify_crc: bool,
) -> int:
    """The payload length of the header at `header[pos:pos+12]`, checked before any allocation."""
    length, length_crc = HEADER.unpack_from(header, pos)
    if verify_crc and masked_crc32c(header[pos : pos + 8]) != length_crc:
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
    return length


def iter_frames(
    f: BinaryIO,
    path: str | os.PathLike | None = None,
    start: int = 0,
    verify_crc: bool = True,
    file_size: int | None = None,
    first_index: int = 0,
    end: int | None = None,
) -> Iterator[tuple[int, int, bytes]]:
    """Yield `(offset, record_length_with_framing, payload)` for each record from `start` on.

    Stops at `end` (default: end of file). Raises `TFRecordError` at the first bad record;
    records before it were already yielded. Reads 1 MiB blocks and slices records out of them
    (measured ~1.7x faster than three reads per record); plain reads, not mmap, so a file
    truncated under us gives short reads and a clear error rather than SIGBUS.
    """
    size = source_size(f) if file_size is None else file_size
    stop = size if end is None else min(end, size)
    offset = start
    index = first_index
    f.seek(offset)
    read = f.read
    crc = _crc32c
    unpack_footer = FOOTER.unpack_from
    buf = b""
    pos = 0
    while offset < stop:
        if len(buf) - pos < HEADER_SIZE:
            buf = buf[pos:] + read(min(BLOCK_SIZE, max(stop - offset, HEADER_SIZE)))
            pos = 0
            if len(buf) < HEADER_SIZE:
                raise TFRecordError(
                    f"truncated record header ({len(buf)} of {HEADER_SIZE} bytes)", path, index, offset
                )
        length = _check_header(buf, pos, offset, size, path, index, verify_crc)
        record_end = pos + HEADER_SIZE + length + 4
        if record_end <= len(buf):
            payload = buf[pos + HEADER_SIZE : record_end - 4]
            footer_at, footer_buf = record_end - 4, buf
            pos = record_end
        else:  # the record runs past this block: fetch exactly its remainder
            record = buf[pos:] + read(record_end - len(buf))
            if len(record) < HEADER_SIZE + length + 4:
                raise TFRecordError("truncated record payload", path, index, offset)
            payload = record[HEADER_SIZE:-4]
            footer_at, footer_buf = len(record) - 4, record
            buf, pos = b"", 0
        if verify_crc:
            value = crc(payload)
            if (((value >> 15) | (value << 17)) + _MASK_DELTA) & 0xFFFFFFFF != unpack_footer(
                footer_buf, footer_at
            )[0]:
                raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
        record_length = length + FRAMING_SIZE
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
    """The payload of the record at `offset`; `length` (from an index) is cross-checked.

    With a length from the index the whole record is fetched in one read.
    """
    size = source_size(f) if file_size is None else file_size
    if offset < 0 or offset >= size:
        raise TFRecordError(f"offset beyond the end of the file ({size} bytes)", path, index, offset)
    f.seek(offset)
    if length is None or length < FRAMING_SIZE or length > size - offset:
        payload = _read_one(f, offset, size, path, index, verify_crc)
        if length is not None:
            _raise_stale(length, len(payload) + FRAMING_SIZE, path, index, offset)
        return payload
    record = f.read(length)
    if len(record) < HEADER_SIZE:
        raise TFRecordError("truncated record header", path, index, offset)
    payload_length = _check_header(record, 0, offset, size, path, index, verify_crc)
    if payload_length + FRAMING_SIZE != length:
        _raise_stale(length, payload_length + FRAMING_SIZE, path, index, offset)
    if len(record) < length:
        raise TFRecordError("truncated record payload", path, index, offset)
    payload = record[HEADER_SIZE:-4]
    if verify_crc and masked_crc32c(payload) != FOOTER.unpack_from(record, length - 4)[0]:
        raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
    return payload


def _raise_stale(
    expected: int, actual: int, path: str | os.PathLike | None, index: int | None, offset: int
) -> None:
    if expected != actual:
        raise TFRecordError(
            f"index says {expected} bytes but the record holds {actual} (stale index)",
            path,
            index,
            offset,
        )
