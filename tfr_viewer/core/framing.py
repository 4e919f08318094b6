"""TFRecord framing: u64 length, masked CRC32C of the length, payload, masked CRC32C of the payload.

Nothing here knows about Examples. Every length read from a file is checked against the bytes
that are really there before anything is allocated, so a corrupt length cannot make a reader
ask for gigabytes.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

import crc32c

from .errors import TFRecordError
from .source import source_size

HEADER = struct.Struct("<QI")
FOOTER = struct.Struct("<I")
HEADER_SIZE = HEADER.size  # 12
FRAMING_SIZE = HEADER_SIZE + FOOTER.size  # 16: what an index's record length adds to the payload
_MASK_DELTA = 0xA282EAD8
BLOCK_SIZE = 1 << 20
_crc32c = crc32c.crc32c


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """TensorFlow's masked CRC32C, as stored in TFRecord framing."""
    crc = _crc32c(data)
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
    views: bool = False,
) -> Iterator[tuple[int, int, bytes]]:
    """Yield `(offset, record_length_with_framing, payload)` for each record from `start` on.

    Stops at `end` (default: end of file). Raises `TFRecordError` at the first bad record;
    records before it were already yielded. Reads 1 MiB blocks into one reused buffer and
    checks records where they lie (measured ~1.7x faster than three reads per record); plain
    reads, not mmap, so a file truncated under us gives short reads and a clear error rather
    than SIGBUS. With `views=True` each payload is a memoryview into that buffer, valid only
    until the next record is requested (saves copying every payload, for parse-at-once callers).
    """
    size = source_size(f) if file_size is None else file_size
    stop = size if end is None else min(end, size)
    offset = start
    index = first_index
    f.seek(offset)
    crc = _crc32c
    unpack_header, unpack_footer = HEADER.unpack_from, FOOTER.unpack_from
    buf = bytearray(max(HEADER_SIZE, min(BLOCK_SIZE, stop - offset)))  # grows for a larger record
    view = memoryview(buf)
    have = pos = 0  # buf[pos:have] holds the file's bytes from `offset` on
    while offset < stop:
        if have - pos < HEADER_SIZE:
            buf, view, have = _refill(f, buf, view, pos, have, HEADER_SIZE, stop - offset)
            pos = 0
            if have < HEADER_SIZE:
                raise TFRecordError(
                    f"truncated record header ({have} of {HEADER_SIZE} bytes)", path, index, offset
                )
        length, length_crc = unpack_header(buf, pos)  # _check_header inlined: once per record
        if verify_crc:
            value = crc(view[pos : pos + 8])
            masked = (((value >> 15) | (value << 17)) + _MASK_DELTA) & 0xFFFFFFFF
        if (verify_crc and masked != length_crc) or length > size - offset - FRAMING_SIZE:
            _check_header(buf, pos, offset, size, path, index, verify_crc)  # raises the error
        record_length = length + FRAMING_SIZE
        if have - pos < record_length:
            buf, view, have = _refill(f, buf, view, pos, have, record_length, stop - offset)
            pos = 0
            if have < record_length:
                raise TFRecordError("truncated record payload", path, index, offset)
        payload = view[pos + HEADER_SIZE : pos + HEADER_SIZE + length]
        if verify_crc:
            value = crc(payload)
            if (((value >> 15) | (value << 17)) + _MASK_DELTA) & 0xFFFFFFFF != unpack_footer(
                buf, pos + HEADER_SIZE + length
            )[0]:
                raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
        pos += record_length
        yield offset, record_length, payload if views else payload.tobytes()
        offset += record_length
        index += 1


def _refill(
    f: BinaryIO, buf: bytearray, view: memoryview, pos: int, have: int, need: int, left: int
) -> tuple[bytearray, memoryview, int]:
    """Move the unread `buf[pos:have]` to the front and read after it until `need` bytes are
    there (or the file ends). `left`: bytes from here to where reading stops. A record larger
    than the buffer gets a new buffer of its size (its length was checked against the file)."""
    kept = have - pos
    if need > len(buf):
        bigger = bytearray(max(need, BLOCK_SIZE))
        bigger[:kept] = view[pos:have]
        buf, view = bigger, memoryview(bigger)
    elif kept:
        buf[:kept] = view[pos:have].tobytes()  # the ranges may overlap: copy out first
    want = min(len(buf), max(left, need))
    have = kept
    while have < want:
        n = f.readinto(view[have:want])
        if not n:
            break
        have += n
    return buf, view, have


def read_frame(
    f: BinaryIO,
    offset: int,
    length: int | None = None,
    path: str | os.PathLike | None = None,
    index: int | None = None,
    verify_crc: bool = True,
    file_size: int | None = None,
    view: bool = False,
) -> bytes:
    """The payload of the record at `offset`; `length` (from an index) is cross-checked.

    With a length from the index the whole record is fetched in one read: one `os.pread` for a
    real file (no seek, and the file position is left alone). `view=True` returns a memoryview
    of the payload instead of a copy.
    """
    size = source_size(f) if file_size is None else file_size
    if offset < 0 or offset >= size:
        raise TFRecordError(f"offset beyond the end of the file ({size} bytes)", path, index, offset)
    if length is None or length < FRAMING_SIZE or length > size - offset:
        f.seek(offset)
        payload = _read_one(f, offset, size, path, index, verify_crc)
        if length is not None:
            _raise_stale(length, len(payload) + FRAMING_SIZE, path, index, offset)
        return payload
    fd = _fileno(f)
    if fd is None:
        f.seek(offset)
        record = f.read(length)
    else:
        record = os.pread(fd, length, offset)
    if len(record) < HEADER_SIZE:
        raise TFRecordError("truncated record header", path, index, offset)
    payload_length = _check_header(record, 0, offset, size, path, index, verify_crc)
    if payload_length + FRAMING_SIZE != length:
        _raise_stale(length, payload_length + FRAMING_SIZE, path, index, offset)
    if len(record) < length:
        raise TFRecordError("truncated record payload", path, index, offset)
    payload = memoryview(record)[HEADER_SIZE:-4]
    if verify_crc and masked_crc32c(payload) != FOOTER.unpack_from(record, length - 4)[0]:
        raise TFRecordError("data CRC mismatch (corrupt payload)", path, index, offset)
    return payload if view else payload.tobytes()


def _fileno(f: BinaryIO) -> int | None:
    """The descriptor of a real file (pread works on it), None for in-memory sources."""
    if not hasattr(os, "pread"):
        return None
    try:
        return f.fileno()
    except (AttributeError, OSError, ValueError):
        return None


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
