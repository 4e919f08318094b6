"""Thumbnails decoded on every core: a small pool of processes, one per CPU.

Measured on 256 px JPEG tiles (`benchmarks/read_bench.py`): Pillow lets go of the GIL inside
libjpeg, but opening, draft set-up, resizing and the numpy copy are Python and hold it, so two
threads decode 96 px thumbnails barely faster than one (~1.0-1.3x), while two processes reach
~1.5-1.9x, and leave the window's GIL alone. The processes start once (`warm()`, at window
start), run at a lower priority (the window keeps its CPU) and end with the process that started
them, even a killed one. They start with the first batch worth sending (enough tiles and
bytes: small tiles decode faster here than they travel); until they are up, or if the pool
breaks, thumbnails decode in the calling thread: slower, never missing.

Each item is (tile bytes, largest side); each answer is the (h, w, 3) uint8 pixels at the
cheapest scale with at least that side and less than twice it (`images.decode_draft`; the
window fits them with Qt), or the reason the bytes do not decode (a `TFRecordError` message).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from .errors import TFRecordError
from .images import decode_draft, load_decoders
from .messages import user_message
from .processes import exit_with_parent

DECODER_NICENESS = 5  # below the window, above the indexing process
MIN_ITEMS_PER_PROCESS = 4  # fewer than this per process: decoding here beats the hand-over
MIN_BYTES_FOR_PROCESSES = 128 * 1024  # a batch of small tiles (16 x 64 px) decodes here faster than it travels

Answer = np.ndarray | str


def decode_items(items: list[tuple[bytes, int]]) -> list[Answer]:
    """Decode each item here; a failure is its reason, the others still decode."""
    out: list[Answer] = []
    for data, size in items:
        try:
            out.append(decode_draft(data, size))
        except TFRecordError as exc:
            out.append(exc.reason)
        except Exception as exc:  # noqa: BLE001  (whatever the bytes make Pillow do: this tile's)
            out.append(user_message(exc))
    return out


def _start_worker(parent_pid: int) -> None:
    exit_with_parent(parent_pid, DECODER_NICENESS)
    load_decoders()


def default_workers() -> int:
    """One process per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_SHARED: "ThumbnailDecoder | None" = None
_SHARED_LOCK = threading.Lock()


def shared_decoder() -> "ThumbnailDecoder":
    """The process's decoder, made once: every window (and test) shares its processes."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ThumbnailDecoder()
        return _SHARED


class ThumbnailDecoder:
    """`decode(items)` on `workers` processes (1: in the calling thread, no processes)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Start the processes now, before there is anything to decode."""
        if self.workers > 1:
            self._get_pool()

    def ready(self) -> bool:
        """Whether the processes are up (until then `decode` works in the calling thread)."""
        with self._lock:
            return self._pool is not None and all(f.done() and not f.exception() for f in self._ready)

    def wait_ready(self, timeout: float) -> bool:
        """Start the processes and wait up to `timeout` s for them (benchmarks, tests)."""
        self.warm()
        with self._lock:
            pending = list(self._ready)
        wait(pending, timeout)
        return self.ready()

    def decode(self, items: list[tuple[bytes, int]]) -> list[Answer]:
        if (self.workers == 1 or len(items) < 2 * MIN_ITEMS_PER_PROCESS
                or sum(len(data) for data, _ in items) < MIN_BYTES_FOR_PROCESSES):
            return decode_items(items)
        pool = self._get_pool()
        if pool is None or not self.ready():
            return decode_items(items)
        parts = min(self.workers, len(items) // MIN_ITEMS_PER_PROCESS)
        chunks = [items[i::parts] for i in range(parts)]  # interleaved: each process gets a like share
        try:
            answers = [pool.submit(decode_items, chunk) for chunk in chunks]
            results = [f.result() for f in answers]
        except (BrokenProcessPool, RuntimeError, OSError):  # a process died (killed, out of memory)
            self._reset()
            return decode_items(items)
        out: list[Answer] = [""] * len(items)
        for i, result in enumerate(results):
            out[i::parts] = result
        return out

    def close(self) -> None:
        self._reset()

    def _get_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = ProcessPoolExecutor(
                        max_workers=self.workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_start_worker,
                        initargs=(os.getpid(),),
                    )
                    self._ready = [self._pool.submit(os.getpid) for _ in range(self.workers)]
                except (OSError, RuntimeError):  # no processes to be had: decode here
                    self.workers = 1
                    self._pool = None
            return self._pool

    def _reset(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._ready = None, []
