"""Thumbnails decoded on every core: the calling thread decodes a share of each batch while
helpers (threads by default, or processes) decode the rest.

Why the caller works too: with the whole batch handed away, the caller waited while the
helpers worked and the helpers waited while the caller read the next batch; on two cores two
pool processes so decoded slower than one thread (0.79x, `benchmarks/read_bench.py`). A
process pool's hand-over threads (feeder, result manager) also each wait for the GIL while the
caller decodes; a helper process here has its own pipe, written and read by the caller.

Why threads by default: Pillow lets go of the GIL inside libjpeg (about three quarters of a
256 px tile's time), and threads need no start-up, so the window's first screen is decoded on
every core already; a helper process must first start an interpreter with numpy and Pillow
(~0.25 s of a core while the window shows its first screen) and then costs the caller the
hand-over of bytes and pixels (a 256 px thumbnail is 192 KB of pixels). Threads share one
batch tile by tile (whoever is free takes the next), so a helper slowed by other work on the
machine never holds the batch up. `read_bench.py --thumbnails-only` measures both.

Helper processes start with the first batch worth sending (enough tiles and bytes: small
tiles decode faster here than they travel); they run at a lower priority (the window keeps
its CPU) and end with the process that started them, even a killed one. Until they are up,
or if one breaks, the caller decodes the whole batch: slower, never missing.

Each item is (tile bytes, largest side); each answer is the (h, w, 3) uint8 pixels at the
cheapest scale with at least that side and less than twice it (`images.decode_draft`; the
window fits them with Qt), or the reason the bytes do not decode (a `TFRecordError` message).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Literal

import numpy as np

from .errors import TFRecordError
from .images import decode_draft, load_decoders
from .messages import user_message
from .processes import exit_with_parent

DECODER_NICENESS = 5  # below the window, above the indexing process
MIN_ITEMS_PER_SHARE = 4  # fewer than this per helper: decoding here beats the hand-over
MAX_HELPER_SHARE = 0.8  # of a batch, to helper processes (and at least 1 - this to the caller)
MIN_BYTES_FOR_PROCESSES = 128 * 1024  # a batch of small tiles (16 x 64 px) decodes here faster than it travels
DEFAULT_MODE: "Mode" = "threads"  # no start-up, no hand-over; faster here (read_bench.py --thumbnails-only)

Mode = Literal["processes", "threads"]
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


def lower_thread_priority(niceness: int) -> None:
    """Lower this thread's CPU priority where the system has one per thread (Linux); elsewhere
    nothing changes."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def _start_helper_thread() -> None:
    """Helper threads yield the CPU to the window's thread: with the other core busy (another
    program), the window and the decoders share one core."""
    lower_thread_priority(DECODER_NICENESS)
    load_decoders()


def default_workers() -> int:
    """One decoder per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_SHARED: "ThumbnailDecoder | None" = None
_SHARED_LOCK = threading.Lock()


def shared_decoder() -> "ThumbnailDecoder":
    """The process's decoder, made once: every window (and test) shares its helpers."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ThumbnailDecoder()
        return _SHARED


class _HelperProcess:
    """One decoding process on its own pipe; the caller writes a share and reads the answers."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_end, os.getpid()), daemon=True,
                                       name="thumbnail-decoder")
        self.process.start()
        child_end.close()
        self._up = False

    def up(self) -> bool:
        """True once the process has loaded its decoders (it says so on the pipe)."""
        try:
            if not self._up and self.conn.poll():
                self._up = self.conn.recv() == "ready"
        except (EOFError, OSError):  # it died starting: never up (the caller decodes alone)
            return False
        return self._up

    def wait_up(self, timeout: float) -> bool:
        try:
            return self.up() or (self.conn.poll(timeout) and self.up())
        except (EOFError, OSError):
            return False

    def send(self, items: list[tuple[bytes, int]]) -> None:
        self.conn.send(items)

    def receive(self) -> list[Answer]:
        """The answers: reasons and pixel shapes first, then all pixels in one message, read
        into one buffer (pickled arrays cost the caller three times the CPU: each is copied
        into the pickle, then out of it)."""
        layout = self.conn.recv()
        pixels = bytearray(sum(_pixel_count(item) for item in layout))
        if pixels:
            self.conn.recv_bytes_into(pixels)
        answers: list[Answer] = []
        offset = 0
        for item in layout:
            if isinstance(item, str):
                answers.append(item)
            else:
                answers.append(np.frombuffer(pixels, np.uint8, _pixel_count(item), offset).reshape(item))
                offset += _pixel_count(item)
        return answers

    def close(self) -> None:
        self.conn.close()  # the process ends when its pipe does
        self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)


def _serve(conn, parent_pid: int) -> None:
    """A helper process: decode each share it is sent until the pipe closes."""
    exit_with_parent(parent_pid)
    lower_thread_priority(DECODER_NICENESS)  # as set, not added to what the starting thread had
    load_decoders()
    conn.send("ready")
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            return
        answers = decode_items(items)
        conn.send([a if isinstance(a, str) else a.shape for a in answers])
        arrays = [a.reshape(-1) for a in answers if not isinstance(a, str)]
        if arrays and sum(a.size for a in arrays):
            conn.send_bytes(np.concatenate(arrays))


def _pixel_count(item: tuple[int, ...] | str) -> int:
    return 0 if isinstance(item, str) else int(np.prod(item))


def _decode_shared(items: list[tuple[bytes, int]], out: list, positions) -> None:
    """Decode the items at the positions taken from `positions`, an iterator shared by the
    threads that decode one batch (whoever is free takes the next tile; next() on it is atomic
    under the GIL)."""
    for i in positions:
        out[i] = decode_items([items[i]])[0]


class ThumbnailDecoder:
    """`decode(items)` on `workers` cores: the calling thread and `workers - 1` helpers
    (processes, or threads with `mode="threads"`); 1 worker: the calling thread alone.
    One batch at a time uses the helpers; a second caller meanwhile decodes alone."""

    def __init__(self, workers: int | None = None, mode: Mode | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self.mode: Mode = mode or DEFAULT_MODE
        self._processes: list[_HelperProcess] = []
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # held by the caller that uses the helpers
        self._helper_share = 1 - 1 / self.workers  # of a batch, for helper processes (adapts)

    @property
    def helpers(self) -> int:
        return self.workers - 1

    def warm(self) -> None:
        """Start the helpers now, before there is anything to decode."""
        with self._lock:
            self._start()

    def ready(self) -> bool:
        """Whether the helpers are up (until then `decode` works in the calling thread alone)."""
        with self._lock:
            return self._up()

    def wait_ready(self, timeout: float) -> bool:
        """Start the helpers and wait up to `timeout` s for them (benchmarks, tests)."""
        with self._lock:
            self._start()
            return all(p.wait_up(timeout) for p in self._processes) and self._up()

    def decode(self, items: list[tuple[bytes, int]]) -> list[Answer]:
        shares = min(self.workers, len(items) // MIN_ITEMS_PER_SHARE)
        if shares < 2 or (self.mode == "processes" and sum(len(data) for data, _ in items) < MIN_BYTES_FOR_PROCESSES):
            return decode_items(items)
        if not self._lock.acquire(blocking=False):  # another caller has the helpers
            return decode_items(items)
        try:
            self._start()
            if not self._up():
                return decode_items(items)
            if self.mode == "threads":
                return self._decode_on_threads(items, shares)
            return self._decode_on_processes(items, shares)
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _decode_on_threads(self, items: list[tuple[bytes, int]], shares: int) -> list[Answer]:
        assert self._threads is not None
        out: list[Answer] = [""] * len(items)
        positions = iter(range(len(items)))
        helped = [self._threads.submit(_decode_shared, items, out, positions) for _ in range(shares - 1)]
        _decode_shared(items, out, positions)
        wait(helped)
        return out

    def _decode_on_processes(self, items: list[tuple[bytes, int]], shares: int) -> list[Answer]:
        """The helpers take `_helper_share` of the batch, the caller the rest. The share follows
        who finished first: a helper that had its answer ready when the caller was done gets a
        tile more next time, one the caller waited for a tile less (the caller also reads the
        records and unpacks the answers; a helper may be slowed by other work on the machine)."""
        helpers = self._processes[:shares - 1]
        mine = max(1, min(len(items) - len(helpers), round(len(items) * (1 - self._helper_share))))
        parts = [items[:mine]] + [items[mine + i::len(helpers)] for i in range(len(helpers))]
        try:
            for helper, part in zip(helpers, parts[1:]):
                helper.send(part)
            own = decode_items(parts[0])
            helpers_first = all(helper.conn.poll() for helper in helpers)
            results = [own] + [helper.receive() for helper in helpers]
        except (EOFError, OSError, ValueError):  # a process died (killed, out of memory): decode here
            self._stop()
            return decode_items(items)
        step = 1 / len(items)
        self._helper_share = min(MAX_HELPER_SHARE, max(1 - MAX_HELPER_SHARE,
                                                       self._helper_share + (step if helpers_first else -step)))
        out: list[Answer] = list(results[0])
        theirs: list[Answer] = [""] * (len(items) - mine)
        for i, result in enumerate(results[1:]):
            theirs[i::len(helpers)] = result
        return out + theirs

    def _start(self) -> None:
        if not self.helpers or self._processes or self._threads is not None:
            return
        if self.mode == "threads":
            self._threads = ThreadPoolExecutor(self.helpers, thread_name_prefix="thumbnails",
                                               initializer=_start_helper_thread)
            return
        try:
            self._processes = [_HelperProcess() for _ in range(self.helpers)]
        except (OSError, RuntimeError):  # no processes to be had: decode here
            self._stop()
            self.workers = 1

    def _up(self) -> bool:
        if self.mode == "threads":
            return self._threads is not None
        return bool(self._processes) and all(p.up() for p in self._processes)

    def _stop(self) -> None:
        for helper in self._processes:
            helper.close()
        self._processes = []
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
