"""Index the files of the catalog that wait for one, in a background process.

The per-file work is `core.index.index_file` (a path in, a plain `IndexResult` out): the plain run
of the job `tfr-viewer index` runs, here in a process pool, later on a cluster. The window hands it
the files it found wanting (no valid index, offsets only, changed on disk) or that the user asked
to rebuild, so each is read through (`rebuild=True`), as it always was, rather than its index
trusted again. The pool process is started once and reused, ends with the process that started it
(even a killed one) and runs at a lower priority, so indexing never competes with the window for
the GIL or the CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from .catalog import FileEntry
from .index import IndexResult, index_file
from .messages import file_message
from .processes import exit_with_parent
from .progress import CancelToken, Job, Progress
from .read_only import read_only

POOL_NICENESS = 10  # the indexing process yields the CPU to the window
IN_FLIGHT = 2  # files handed to the process ahead of the one awaited
POLL_SECONDS = 0.05  # how often a wait for a file checks the cancel token

_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def index_pool() -> ProcessPoolExecutor:
    """The process that indexes files, started once and reused (starting one costs the GIL
    tens of milliseconds, which the window would feel if it happened on every open)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(), POOL_NICENESS),
            )
        return _POOL


def warm_index_pool() -> None:
    """Start the indexing process now (at window start), before there is anything to index."""
    index_pool().submit(os.getpid)


def _reset_index_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _submit(path: str) -> Future:
    try:
        return index_pool().submit(index_file, path, rebuild=True, read_only_mode=read_only())
    except BrokenProcessPool:  # the indexing process died: start a new one
        _reset_index_pool()
        return index_pool().submit(index_file, path, rebuild=True, read_only_mode=read_only())


def iter_index_files(
    entries: list[FileEntry], on_file: Callable[[FileEntry, IndexResult], None], cancel: CancelToken
) -> Job[int]:
    """Job: index each file in the indexing process; returns how many were done.

    `on_file(entry, result)` is called for each finished file, in the job's thread; the entry
    itself is left as it was (the window applies the result on its own thread). Cancel takes
    effect between files; a file already being indexed finishes (atomically).
    """
    pending = list(entries)
    in_flight: deque[tuple[FileEntry, Future]] = deque()
    done = 0
    try:
        yield Progress(0, len(entries), "")
        while pending or in_flight:
            while pending and len(in_flight) < IN_FLIGHT:
                entry = pending.pop(0)
                in_flight.append((entry, _submit(entry.path)))
            entry, future = in_flight.popleft()
            result = _wait_for(entry, future, cancel)
            on_file(entry, result)
            done += 1
            yield Progress(done, len(entries), entry.path)
    finally:
        for _, future in in_flight:
            future.cancel()
    return done


def _wait_for(entry: FileEntry, future: Future, cancel: CancelToken) -> IndexResult:
    """The file's result; a process that died or an error nobody foresaw is this file's error."""
    while True:
        cancel.raise_if_cancelled()
        try:
            return future.result(timeout=POLL_SECONDS)
        except FutureTimeout:
            continue
        except BrokenProcessPool:
            _reset_index_pool()
            return IndexResult(entry.path, "error", error=f"{entry.path}: the indexing process stopped")
        except Exception as exc:  # noqa: BLE001  (this file's problem: the others go on)
            return IndexResult(entry.path, "error", error=file_message(entry.path, exc))


def index_files_job(
    entries: list[FileEntry], on_file: Callable[[FileEntry, IndexResult], None]
) -> Callable[[CancelToken], Job[int]]:
    """`iter_index_files` as a job factory for a worker."""
    return lambda token: iter_index_files(entries, on_file, token)
