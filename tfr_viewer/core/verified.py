"""What `verify` last said of a file, kept in the per-user cache by the file's size and time.

An index is trusted once it fits its file, but only `verify` reads every record's bytes and
checks both CRCs; until it has, for this very size and modification time, the window says
"not verified". Nothing is written beside the user's files.
"""

from __future__ import annotations

import json
import os

from .paths import cache_path_for
from .storage import FileInfo, storage_for

RECORD_NAME = "verified.json"
MAX_RECORD_BYTES = 4096


def _record_path(path: str) -> str:
    return str(cache_path_for(path, "verified", RECORD_NAME))


def remember_verify(path: str, ok: bool) -> None:
    """Keep `verify`'s word on `path` for its current size and time (best effort: a cache that
    cannot be written only means the file is checked again)."""
    try:
        info = storage_for(path).stat(path)
        record = _record_path(path)
        cache = storage_for(record)
        cache.make_dirs(os.path.dirname(record))
        with cache.atomic_output(record) as out:
            out.write(json.dumps({"size": info.size, "mtime_ns": info.mtime_ns, "ok": bool(ok)}).encode("utf-8"))
    except (OSError, ValueError):
        pass


def verified_ok(path: str, info: FileInfo) -> bool:
    """True when `verify` found the file sound at exactly this size and time."""
    record = _record_path(path)
    try:
        with storage_for(record).open(record, MAX_RECORD_BYTES) as f:
            data = json.loads(f.read(MAX_RECORD_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and data.get("ok") is True
            and data.get("size") == info.size and data.get("mtime_ns") == info.mtime_ns)
