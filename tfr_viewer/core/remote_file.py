"""One remote file opened for reading (see `remote_storage`): sequential reads with a read-ahead
that grows, random reads through the storage's shared block cache."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from .storage import FileInfo

if TYPE_CHECKING:
    from .remote_storage import FsspecStorage

BLOCK_SIZE = 8 << 20  # the largest read-ahead of a sequential pass
FIRST_BLOCK = 256 << 10  # the read-ahead of a file's first read: one record or one index file
READ_AT_BLOCK = 2 << 20  # the largest block one `read_at` fetches while reads keep going forward


class RemoteFile(io.RawIOBase):
    """`read`/`readinto` go forward with a read-ahead that grows while reading stays sequential
    (kept in this file: a pass over the file would only flush the shared cache); `read_at` asks
    the storage's block cache, and on a miss fetches the range and what follows: `FIRST_BLOCK`,
    doubling up to `READ_AT_BLOCK` while reads continue where the last fetch was (the next
    screen of thumbnails), never the whole file."""

    def __init__(self, storage: "FsspecStorage", info: FileInfo) -> None:
        super().__init__()
        self.storage, self.info, self.name = storage, info, info.path
        self._pos = 0
        self._buffer, self._buffer_start = b"", 0
        self._block = FIRST_BLOCK
        self._random_span = (0, 0)  # the last range `read_at` fetched
        self._random_block = FIRST_BLOCK

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.info.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _buffered(self, offset: int, size: int) -> bytes | None:
        start = offset - self._buffer_start
        if 0 <= start and offset + size <= self._buffer_start + len(self._buffer):
            return self._buffer[start : start + size]
        return None

    def readinto(self, b) -> int:
        view = memoryview(b).cast("B")
        size = min(len(view), max(0, self.info.size - self._pos))
        if size == 0:
            return 0
        data = self._buffered(self._pos, size)
        if data is None:
            kept = self.storage.cached(self.info, self._pos, size)
            data = kept if kept is not None else self._read_ahead(size)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _read_ahead(self, size: int) -> bytes:
        """Bytes from the position on, fetching a block (bigger each time reading continues
        where the last block ended)."""
        continues = self._buffer and self._pos == self._buffer_start + len(self._buffer)
        self._block = min(2 * self._block, BLOCK_SIZE) if continues else FIRST_BLOCK
        block = max(size, self._block)
        self._buffer = self.storage.fetch(self.info, self._pos, self._pos + block)
        self._buffer_start = self._pos
        return self._buffer[:size]

    def read_at(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` (fewer at the end), the position left alone."""
        size = min(size, max(0, self.info.size - offset))
        if size <= 0:
            return b""
        data = self._buffered(offset, size)
        if data is None:
            data = self.storage.cached(self.info, offset, size)
        if data is None:  # a request costs its latency more than its bytes: fetch what follows too
            start, end = self._random_span
            continues = start <= offset <= end and end > start
            self._random_block = min(2 * self._random_block, READ_AT_BLOCK) if continues else FIRST_BLOCK
            end = min(self.info.size, offset + max(size, self._random_block))
            data = self.storage.fetch_block(self.info, offset, size, end)
            self._random_span = (offset, end)
        return data
