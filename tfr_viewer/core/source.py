"""The one way in for bytes: every reader opens data through `open_source`.

Keeping this seam small means a remote store (fsspec, range reads) is one new source later,
and gzip-compressed TFRecords are handled once for every reader.
"""

from __future__ import annotations

import gzip
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


def open_source(path: str | os.PathLike) -> BinaryIO:
    """A seekable binary file object for a TFRecord, gzip already decompressed in memory.

    Raises `TFRecordError` for a gzip stream that is corrupt or truncated, and `OSError`
    for files that cannot be opened.
    """
    f = open(path, "rb")
    try:
        magic = f.read(2)
        f.seek(0)
        if magic != GZIP_MAGIC:
            return f
        try:
            data = gzip.decompress(f.read())
        except (OSError, EOFError, zlib.error) as exc:
            raise TFRecordError(f"corrupt gzip stream ({exc})", path) from None
        f.close()
        return io.BytesIO(data)
    except BaseException:
        f.close()
        raise


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
