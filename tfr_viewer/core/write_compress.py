"""GZIP and ZLIB output, TensorFlow's two TFRecord compressions (`TFRecordOptions`).

TensorFlow's writer deflates the framed records as one stream: `gzip` with a gzip header
(zlib window bits 31), `zlib` with a zlib header (window bits 15). Readers here inflate either
(`source.open_source`); offsets into the inflated stream are of no use on disk, so no index is
written beside a compressed file.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

from .source import WBITS
from .storage import LOCAL

COMPRESSIONS = tuple(WBITS)  # ('gzip', 'zlib')
COPY_BLOCK = 1 << 20


class CompressedOutput:
    """Writes deflated bytes to `out`; `finish()` ends the stream (before `out` is closed).

    Has the `write` of a file, so a writer appends records to it as to `out` itself.
    """

    def __init__(self, out: BinaryIO, compression: str, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        if compression not in WBITS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {compression!r}")
        self._out = out
        self._deflater = zlib.compressobj(level, zlib.DEFLATED, WBITS[compression])
        self.bytes_written = 0  # compressed bytes given to `out`

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._put(self._deflater.compress(data))
        return len(data)

    def append_file(self, path: str, size: int) -> None:
        """Deflate the first `size` bytes of a local scratch file (a worker's framed records)."""
        with LOCAL.open(path) as f:
            left = size
            while left > 0:
                block = f.read(min(COPY_BLOCK, left))
                if not block:
                    raise OSError(f"chunk file {path} ended early")
                self.write(block)
                left -= len(block)

    def finish(self) -> None:
        self._put(self._deflater.flush())

    def _put(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self.bytes_written += len(data)
