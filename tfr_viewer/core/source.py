"""The one way in for bytes: every reader opens data through `open_source`.

Keeping this seam small means a remote store (fsspec, range reads) is one new source later,
and gzip-compressed TFRecords are handled once for every reader.
"""

from __future__ import annotations

import io
import os
import zlib
from typing import BinaryIO

from .errors import TFRecordError

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    """TensorFlow writes GZIP TFRecords under the same `.tfrecords` name: sniff the bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


GZIP_CHUNK = 1 << 20
GZIP_RETRY_STEP = 512  # input bytes per step when a piece fails: keeps what came before the damage
# JPEG/PNG tiles inflate ~1x, and even identical tiles stay near 100x (deflate repeats cost a few
# bytes per 258); runs of one byte, what decompression bombs are made of, reach ~1000x
MAX_GZIP_RATIO = 256
MIN_GZIP_ALLOWANCE = 64 << 20


def _memory_budget() -> int:
    """Half the machine's memory: a gzip stream that inflates beyond it is refused."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return 8 << 30


class GzipSource(io.BytesIO):
    """The decompressed bytes of a gzip TFRecord. `damage` (None when the stream was whole)
    says why decompression stopped early; readers report it where the good bytes end."""

    def __init__(self, data: bytes, damage: str | None) -> None:
        super().__init__(data)
        self.damage = damage


def source_damage(f: BinaryIO) -> str | None:
    """Why the bytes of `f` end early (a truncated or corrupt gzip stream), else None."""
    return getattr(f, "damage", None)


def open_source(path: str | os.PathLike) -> BinaryIO:
    """A seekable binary file object for a TFRecord, gzip already decompressed in memory.

    A gzip stream is inflated piece by piece: one that would grow past `MAX_GZIP_RATIO` times
    its size (and `MIN_GZIP_ALLOWANCE`) raises `TFRecordError` before taking that memory, and a
    truncated or corrupt one keeps the bytes before the damage (see `GzipSource`), as
    TensorFlow's reader yields the records before it. Raises `TFRecordError` when not a byte
    could be inflated, and `OSError` for files that cannot be opened.
    """
    f = open(path, "rb")
    try:
        magic = f.read(2)
        f.seek(0)
        if magic != GZIP_MAGIC:
            return f
        with f:
            return _inflate(f, path)
    except BaseException:
        f.close()
        raise


def _inflate(f: BinaryIO, path: str | os.PathLike) -> GzipSource:
    compressed = os.fstat(f.fileno()).st_size
    limit = max(MIN_GZIP_ALLOWANCE, min(MAX_GZIP_RATIO * compressed, _memory_budget()))
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    damage = None
    while damage is None:
        if not pending:
            pending = f.read(GZIP_CHUNK)
            if not pending:
                held = b"" if inflater.eof else inflater.decompress(b"", GZIP_CHUNK)  # output zlib still holds
                if held:
                    out += held
                    continue
                if not inflater.eof:
                    damage = "gzip stream is truncated (the file ends inside it)"
                break
        if inflater.eof:  # another gzip member follows (what `cat a.gz b.gz` makes), or padding
            if not pending.strip(b"\x00"):
                pending = b""
                continue
            if not pending.startswith(GZIP_MAGIC[:1]):
                damage = "unexpected bytes after the end of the gzip stream"
                break
            inflater = zlib.decompressobj(wbits=31)
        before = inflater.copy()
        try:
            out += inflater.decompress(pending, GZIP_CHUNK)
        except zlib.error as exc:
            damage = f"corrupt gzip stream ({exc})"
            out += _inflate_until_error(before, pending)  # the failed piece's good start
            break
        pending = inflater.unconsumed_tail or inflater.unused_data
        if len(out) > limit:
            raise TFRecordError(
                f"gzip stream inflates to more than {limit:,} bytes: refused (more than {MAX_GZIP_RATIO}x "
                "its size, or half this machine's memory: it looks like a decompression bomb)",
                path,
            )
    if damage is not None and not out:
        raise TFRecordError(damage, path)
    return GzipSource(bytes(out), damage)


def _inflate_until_error(inflater, data: bytes) -> bytes:
    """What `inflater` gives for `data` up to the byte where it fails: fed in small steps, and
    the step that fails once more byte by byte (zlib drops the output of a call that fails)."""
    good = bytearray()
    for start in range(0, len(data), GZIP_RETRY_STEP):
        step = data[start : start + GZIP_RETRY_STEP]
        before = inflater.copy()
        try:
            good += inflater.decompress(step)
        except zlib.error:
            for i in range(len(step)):
                try:
                    good += before.decompress(step[i : i + 1])
                except zlib.error:
                    break
            break
        if inflater.eof:
            break
    return bytes(good)


def source_size(f: BinaryIO) -> int:
    """Size of an open source in bytes (works for real files and in-memory buffers)."""
    if isinstance(f, io.BytesIO):
        return len(f.getbuffer())
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pos = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(pos)
        return end
