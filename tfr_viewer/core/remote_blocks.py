"""Bytes of remote files already fetched, shared by every reader of this process.

A window reads one remote file through several readers at once (the index check, the grid's
thumbnails, the record viewer, the slide overview): each would ask the server for the same
ranges. They ask this cache first. Blocks are kept per file version (an object replaced under
the same URL has a new ETag, so a new key) and the least recently used files are dropped past
`max_bytes`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

BlockKey = tuple[str, str]  # (url, version)


class BlockCache:
    """Fetched ranges of remote files: `get` answers a range lying inside one kept block."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._files: OrderedDict[BlockKey, dict[int, bytes]] = OrderedDict()  # key -> {start: bytes}
        self._bytes = 0

    def get(self, key: BlockKey, offset: int, size: int) -> bytes | None:
        """Bytes `offset`..`offset + size` of the file when one kept block holds them all."""
        with self._lock:
            blocks = self._files.get(key)
            if not blocks:
                return None
            for start, data in blocks.items():
                if start <= offset and offset + size <= start + len(data):
                    self._files.move_to_end(key)
                    return data[offset - start : offset - start + size]
        return None

    def put(self, key: BlockKey, start: int, data: bytes) -> None:
        """Keep `data`, the file's bytes from `start` on; the least recently read files go when
        the cache is over its size (never the block just put)."""
        if not data or len(data) > self.max_bytes:
            return
        with self._lock:
            blocks = self._files.setdefault(key, {})
            self._files.move_to_end(key)
            old = blocks.get(start)
            if old is not None and len(old) >= len(data):
                return
            self._bytes += len(data) - (len(old) if old is not None else 0)
            blocks[start] = data
            while self._bytes > self.max_bytes:
                oldest_key, oldest = next(iter(self._files.items()))
                if oldest_key == key:  # only this file is left: drop its other blocks
                    for other in [s for s in oldest if s != start]:
                        self._bytes -= len(oldest.pop(other))
                    break
                self._bytes -= sum(len(b) for b in oldest.values())
                del self._files[oldest_key]

    def forget(self, url: str) -> None:
        """Drop every block of `url` (all its versions): it is to be read afresh."""
        with self._lock:
            for key in [k for k in self._files if k[0] == url]:
                self._bytes -= sum(len(b) for b in self._files.pop(key).values())

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes
