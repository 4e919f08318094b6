"""Tiles prepared for the writer, inline or by a pool of processes, always in input order.

Reading, checking and framing images is the heavy part of a conversion; with `workers > 1` a
process pool does it while the writer only appends. Each pool task frames a chunk of images
into a scratch file beside its destination (`.NAME.chunk-PID-HEX8-N`) and sends back only the
record lengths: the writer appends the file with an in-kernel copy. The worker functions are
top-level so a fork server can pickle them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO

from .naming import location_parser
from .processes import exit_with_parent
from .local_storage import append_scratch_file, write_scratch_file
from .storage import LOCAL
from .tile_encoding import prepare_image, tile_record
from .write_compress import CompressedOutput
from .write_report import SkipImage

CHUNK = 32  # images per process-pool task
POOL_MIN_IMAGES = 256  # below this a pool costs more to start than it saves
_INT64 = (-(2**63), 2**63 - 1)

# One prepared tile: (framed record, or None when it went to a chunk file or was skipped;
# record length; skip reason or None; location from the name or None; chunk file to append
# after this tile, with its size, or None).
Prepared = tuple[bytes | None, int, str | None, tuple[int, int] | None, tuple[str, int] | None]
Task = tuple[list[str], str, int | None, str | None]
Group = tuple[Path, str, list[Path]]  # destination, slide, images


def prepare_chunk(task: Task) -> list[tuple[bytes | None, str | None, tuple[int, int] | None]]:
    """Read, check and frame a few images: (framed record or None, skip reason, location)."""
    paths, slide, reencode, pattern = task
    locate = location_parser(pattern)
    slide_bytes = slide.encode("utf-8")
    out = []
    for path in paths:
        try:
            data = prepare_image(path, reencode)
        except SkipImage as exc:
            out.append((None, str(exc), None))
            continue
        loc = locate(os.path.basename(path))
        if loc is not None and not all(_INT64[0] <= v <= _INT64[1] for v in loc):
            loc = None  # a number too large for int64 is not a location
        x, y = loc or (0, 0)
        out.append((tile_record(data, slide_bytes, x, y), None, loc))
    return out


def prepare_chunk_file(task: Task, chunk_path: str) -> list[tuple[int, str | None, tuple[int, int] | None]]:
    """The process-pool task: frames a few images into `chunk_path`, returns only their
    lengths, skip reasons and locations. Sending the records back through a pipe measured
    slower than preparing them inline; the writer appends the file with an in-kernel copy."""
    items = prepare_chunk(task)
    write_scratch_file(chunk_path, (framed for framed, _, _ in items if framed is not None))
    return [(len(framed) if framed is not None else 0, reason, loc) for framed, reason, loc in items]


def pool_context() -> multiprocessing.context.BaseContext:
    """Never plain fork: forking a process that runs Qt or other threads can deadlock.

    A fork server (one clean process, started once, with this module preloaded) starts a pool
    in ~15 ms instead of ~250 ms for spawned interpreters; spawn where there is none (Windows)
    or in a frozen app.
    """
    if "forkserver" in multiprocessing.get_all_start_methods() and not getattr(sys, "frozen", False):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def prepared_tiles(groups: list[Group], reencode: int | None, pattern: str | None, workers: int) -> Iterator[Prepared]:
    """Prepared tiles of every (destination, slide, images) group, in input order.

    Inline for one worker. With a pool, each task frames a chunk of images into a hidden file
    beside its destination; at most `4 * workers` tasks are in flight (bounded memory and disk),
    the window runs across file boundaries, and closing the generator cancels what has not
    started and removes every chunk file.
    """
    tasks = [
        (dest, ([str(p) for p in images[i : i + CHUNK]], slide, reencode, pattern))
        for dest, slide, images in groups
        for i in range(0, len(images), CHUNK)
    ]
    total = sum(len(images) for _, _, images in groups)
    if workers <= 1 or total < POOL_MIN_IMAGES:
        for _, task in tasks:
            for framed, reason, loc in prepare_chunk(task):
                yield framed, len(framed) if framed is not None else 0, reason, loc, None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(),
                               initializer=exit_with_parent, initargs=(os.getpid(),))
    stamp = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    chunk_files = [str(dest.with_name(f".{dest.name}.chunk-{stamp}-{n}")) for n, (dest, _) in enumerate(tasks)]
    pending: deque[tuple[Future, str]] = deque()
    submitted = 0
    try:
        while submitted < len(tasks) or pending:
            while submitted < len(tasks) and len(pending) < 4 * workers:
                chunk = chunk_files[submitted]
                pending.append((pool.submit(prepare_chunk_file, tasks[submitted][1], chunk), chunk))
                submitted += 1
            future, chunk = pending.popleft()
            items = future.result()
            size = sum(length for length, _, _ in items)
            for n, (length, reason, loc) in enumerate(items):
                yield None, length, reason, loc, (chunk, size) if n == len(items) - 1 else None
    finally:
        for future, _ in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for chunk in chunk_files[:submitted]:
            with contextlib.suppress(FileNotFoundError):
                LOCAL.remove(chunk)


def append_chunk(out: BinaryIO | CompressedOutput, chunk: str, size: int) -> None:
    """Append a worker's chunk file to `out` (in-kernel copy where the OS has one; deflated
    through a `CompressedOutput`), then remove it."""
    if isinstance(out, CompressedOutput):
        out.append_file(chunk, size)
    else:
        append_scratch_file(out, chunk, size)
    LOCAL.remove(chunk)
