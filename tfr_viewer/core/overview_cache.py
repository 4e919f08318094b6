"""Overviews kept on disk in the per-user cache, so a slide opened again shows at once.

One entry per TFRecord (`cache_path_for(path, "overviews", ...)`), written atomically through
the local storage, replaced when anything it was built from changes: the file's version from
`storage.stat` (size, mtime, inode locally; the ETag remotely), the locations, the step asked
for, the size cap and this format's version. The entry is a small binary layout read with
checks, never a pickle: magic, a JSON header of bounded length, the RGBA pixels, the broken
record indexes. An entry that fails any check is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from typing import Callable

import numpy as np

from .index import IndexInfo
from .overview import MAX_OVERVIEW_SIDE, Overview, iter_build_overview
from .paths import cache_path_for
from .progress import CancelToken, Job, Progress, run_job
from .storage import LOCAL, storage_for

MAGIC = b"TFRVOVW\x01"
FORMAT_VERSION = 1
MAX_HEADER = 1024 * 1024  # JSON: a few numbers and up to MAX_PROBLEMS lines
_LENGTH = struct.Struct("<I")
CACHE_NAME = "overview.bin"
MAX_BROKEN = 2**27  # record indexes an entry may list
MAX_ENTRY_BYTES = len(MAGIC) + _LENGTH.size + MAX_HEADER + MAX_OVERVIEW_SIDE**2 * 4 + 8 * MAX_BROKEN


def overview_key(path: str, locations: np.ndarray, step: float | None, max_side: int) -> str:
    """What an entry must have been built from to be used: a digest of the file's version, the
    locations, the step asked for, the size cap and the format."""
    info = storage_for(path).stat(path)
    xy = np.ascontiguousarray(np.asarray(locations, dtype=np.float64))
    digest = hashlib.sha1()
    digest.update(json.dumps([FORMAT_VERSION, info.size, info.mtime_ns, info.version, step, max_side, xy.shape]).encode())
    digest.update(xy.tobytes())
    return digest.hexdigest()


def cache_location(path: str) -> str:
    """Where the overview entry of `path` lives in the per-user cache."""
    return str(cache_path_for(path, "overviews", CACHE_NAME))


def encode_overview(overview: Overview, key: str) -> list[bytes]:
    """The entry's bytes, in parts (the pixels are not copied)."""
    header = {
        "key": key,
        "width": overview.width,
        "height": overview.height,
        "x0": overview.x0,
        "y0": overview.y0,
        "scale": overview.scale,
        "step": overview.step,
        "tile_count": overview.tile_count,
        "outlier_count": overview.outlier_count,
        "broken": int(len(overview.broken)),
        "problems": overview.problems,
    }
    text = json.dumps(header).encode()
    pixels = np.ascontiguousarray(overview.pixels, dtype=np.uint8)
    broken = np.ascontiguousarray(overview.broken, dtype="<i8")
    return [MAGIC, _LENGTH.pack(len(text)), text, memoryview(pixels).cast("B"), broken.tobytes()]


def decode_overview(data: bytearray, key: str) -> Overview | None:
    """The overview held in an entry's bytes if every check passes and it was built from `key`,
    else None (wrong magic, damaged header, sizes that disagree, values out of range)."""
    head = len(MAGIC) + _LENGTH.size
    if len(data) < head or bytes(data[: len(MAGIC)]) != MAGIC:
        return None
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if length > MAX_HEADER or head + length > len(data):
        return None
    try:
        header = json.loads(bytes(data[head : head + length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("key") != key:
        return None
    ints = [header.get(name) for name in ("width", "height", "tile_count", "outlier_count", "broken")]
    floats = [header.get(name) for name in ("x0", "y0", "scale", "step")]
    if not all(type(v) is int and v >= 0 for v in ints) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in floats
    ):
        return None
    width, height, tile_count, outlier_count, broken_count = ints
    x0, y0, scale, step = (float(v) for v in floats)
    problems = header.get("problems")
    if not (1 <= width <= MAX_OVERVIEW_SIDE and 1 <= height <= MAX_OVERVIEW_SIDE) or scale <= 0 or step <= 0:
        return None
    if broken_count > min(tile_count, MAX_BROKEN) or not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        return None
    start = head + length
    size = width * height * 4
    if len(data) != start + size + 8 * broken_count:
        return None
    pixels = np.frombuffer(data, np.uint8, size, start).reshape(height, width, 4)
    broken = np.frombuffer(data, "<i8", broken_count, start + size).astype(np.int64)
    if broken_count and (broken.min() < 0 or broken.max() >= tile_count):
        return None
    return Overview(pixels, x0, y0, scale, step, broken, tile_count, outlier_count, problems)


def read_cached_overview(path: str, key: str) -> Overview | None:
    """The cached overview of `path` built from `key`, or None (none, stale or damaged)."""
    where = cache_location(path)
    try:
        size = LOCAL.stat(where).size
        with LOCAL.open(where, max_size=MAX_ENTRY_BYTES) as f:
            data = bytearray(size)
            if f.readinto(data) != size or f.read(1):  # changed while being read
                return None
    except (OSError, ValueError):
        return None
    return decode_overview(data, key)


def write_cached_overview(path: str, key: str, overview: Overview) -> None:
    """Keep `overview` for the next opening; a cache that cannot be written is only slower."""
    where = cache_location(path)
    try:
        LOCAL.make_dirs(os.path.dirname(where))
        with LOCAL.atomic_output(where) as out:
            for part in encode_overview(overview, key):
                out.write(part)
    except OSError:
        pass


def iter_load_or_build_overview(
    path: str | os.PathLike,
    locations: np.ndarray,
    step: float | None = None,
    max_side: int = 4096,
    cancel: CancelToken | None = None,
    index: IndexInfo | None = None,
    threads: int | None = None,
) -> Job[Overview]:
    """Job: the cached overview of `path` when it was built from this very file and these
    arguments, else one built now (and cached) on `threads` decoding threads."""
    path = os.fspath(path)
    key = overview_key(path, locations, step, max_side)
    cached = read_cached_overview(path, key)
    if cached is not None:
        return cached
    overview = yield from iter_build_overview(path, locations, step, max_side, cancel, index, threads=threads)
    if overview_key(path, locations, step, max_side) == key:  # not changed while being read
        write_cached_overview(path, key, overview)
    return overview


def load_or_build_overview(
    path: str | os.PathLike,
    locations: np.ndarray,
    step: float | None = None,
    max_side: int = 4096,
    cancel: CancelToken | None = None,
    progress: Callable[[Progress], None] | None = None,
    index: IndexInfo | None = None,
    threads: int | None = None,
) -> Overview:
    """`iter_load_or_build_overview` run to its end; `progress` gets each `Progress`."""
    return run_job(iter_load_or_build_overview(path, locations, step, max_side, cancel, index, threads), progress)
