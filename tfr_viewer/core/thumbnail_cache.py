"""A per-user, persistent cache of thumbnails: reopening a dataset shows its first screen at once.

Modelled on the freedesktop thumbnail spec: one entry per (file, record, size), keyed by the
file's location and its identity (size, modification time and the storage's version: inode
locally, ETag remotely), so a changed file never shows an old thumbnail; entries of an older
identity of the same file are deleted when the new one is first written.

Why one SQLite database (WAL mode) rather than a file per thumbnail or a pack per TFRecord:
a screen is ~150 thumbnails of ~3 KB, which one indexed query reads; several windows (and
processes) share it safely, because SQLite serialises writers with its own locks and WAL lets
readers go on while one writes, so no file is ever written in place by two processes and no
reader sees half a write. A pack file per TFRecord would have to be rewritten whole (atomic
rename) for each new screen of thumbnails, and two windows would overwrite each other's packs.

Thumbnails are stored as JPEG (quality 90; ~3 KB for 96 px) and read back through
`images.decode_image`, the same checked decoder as tile bytes: whatever is in the file, a row
that does not decode to the expected size is a miss. Bounded: past `max_bytes` (256 MB by
default) the oldest-written rows go. A database that cannot be read (corrupt, not a database,
a newer schema) is removed and made anew; if that fails the cache turns itself off. Nothing
here raises into the caller: the cache is a speed-up, never a reason for a thumbnail to fail.

The cache lives in the per-user cache folder (`paths.user_cache_dir()/thumbnails`), made
through the local storage; SQLite opens its own files there (it is never a user's data).
"""

from __future__ import annotations

import io
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .images import decode_image
from .paths import user_cache_dir
from .storage import LOCAL, storage_for

DEFAULT_MAX_BYTES = 256 * 2**20
SCHEMA_VERSION = 1
JPEG_QUALITY = 90
TRIM_EVERY = 256  # rows written between checks of the total size
BUSY_TIMEOUT_S = 2.0  # a write waits this long for another window's write, then is skipped


def default_cache_path() -> Path:
    return user_cache_dir() / "thumbnails" / "thumbnails.sqlite3"


def file_identity(path: str) -> str | None:
    """What changes whenever the file's content may have: size, mtime and the storage's version
    (None when the file cannot be stat'ed: then nothing is cached for it)."""
    try:
        info = storage_for(path).stat(path)
    except Exception:  # noqa: BLE001  (gone, no permission, a storage that fails: no caching)
        return None
    return f"{info.size}:{info.mtime_ns}:{info.version}"


def encode_thumbnail(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


class ThumbnailCache:
    """`get`/`put` thumbnails of one file's records at one size. Use from one thread at a time
    (the thumbnail worker's); other windows and processes may use the same database."""

    def __init__(self, path: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.max_bytes = max_bytes
        self._db: sqlite3.Connection | None = None
        self._disabled = False
        self._written = 0
        self._cleaned: set[tuple[str, str]] = set()  # (path, identity) whose older identities are gone
        self._lock = threading.Lock()

    # --- public ----------------------------------------------------------------------------------
    def get(self, path: str, identity: str, records: list[int], size: int) -> dict[int, np.ndarray]:
        """The cached thumbnails among `records` (record -> (h, w, 3) uint8); misses are left out."""
        if not records:
            return {}
        rows = self._query(path, identity, records, size)
        found: dict[int, np.ndarray] = {}
        for record, data in rows:
            try:
                pixels = decode_image(data)
            except Exception:  # noqa: BLE001  (a damaged row is a miss; the tile is decoded again)
                continue
            if max(pixels.shape[:2]) < 2 * size and isinstance(record, int):  # as `decode_draft` makes them
                found[record] = pixels
        return found

    def put(self, path: str, identity: str, items: list[tuple[int, np.ndarray]], size: int) -> None:
        """Store thumbnails (record, pixels; less than twice `size` a side) of the file at this
        identity; best effort."""
        if not items:
            return
        try:
            rows = [(path, identity, int(record), size, encode_thumbnail(pixels)) for record, pixels in items]
        except Exception:  # noqa: BLE001  (pixels Pillow cannot encode: not cached)
            return
        with self._lock:
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                if (path, identity) not in self._cleaned:
                    db.execute("DELETE FROM thumbs WHERE path = ? AND identity <> ?", (path, identity))
                db.executemany(
                    "INSERT OR REPLACE INTO thumbs (path, identity, record, size, data) VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
                self._cleaned.add((path, identity))
            except sqlite3.OperationalError:  # another window holds the lock too long: skip this write
                self._rollback(db)
                return
            except sqlite3.DatabaseError:
                self._rollback(db)
                self._reset()
                return
            self._written += len(rows)
            if self._written >= TRIM_EVERY:
                self._written = 0
                self._trim(db)

    def total_bytes(self) -> int:
        """Bytes of thumbnail data stored (0 when the cache is off)."""
        with self._lock:
            db = self._connect()
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT total(length(data)) FROM thumbs").fetchone()[0])
            except sqlite3.DatabaseError:
                return 0

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    # --- database --------------------------------------------------------------------------------
    def _query(self, path: str, identity: str, records: list[int], size: int) -> list[tuple[int, bytes]]:
        with self._lock:
            db = self._connect()
            if db is None:
                return []
            out: list[tuple[int, bytes]] = []
            try:
                for start in range(0, len(records), 500):  # SQLite's limit on bound parameters
                    chunk = [int(r) for r in records[start:start + 500]]
                    marks = ",".join("?" * len(chunk))
                    out += db.execute(
                        f"SELECT record, data FROM thumbs WHERE path = ? AND identity = ? AND size = ? "
                        f"AND record IN ({marks})", (path, identity, size, *chunk)).fetchall()
            except sqlite3.OperationalError:  # locked beyond the timeout: a miss this time
                return out
            except sqlite3.DatabaseError:
                self._reset()
                return []
            return out

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._disabled:
            return self._db
        for attempt in range(2):
            try:
                self._db = self._open()
                return self._db
            except sqlite3.DatabaseError:  # corrupt, not a database, a newer schema: start anew
                self._drop_connection()
                if attempt == 0:
                    self._remove_files()
            except OSError:
                break
        self._disabled = True  # no usable cache here (read-only home, full disk): thumbnails still show
        return None

    def _open(self) -> sqlite3.Connection:
        LOCAL.make_dirs(str(self.path.parent))
        db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"thumbnail cache schema {version}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS thumbs (path TEXT NOT NULL, identity TEXT NOT NULL, "
                "record INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL, "
                "UNIQUE (path, identity, size, record))")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM thumbs WHERE rowid < 0").fetchone()  # a damaged file fails here
        except BaseException:
            db.close()
            raise
        return db

    def _drop_connection(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def _reset(self) -> None:
        """The database failed under us: drop it and start anew on the next call."""
        self._drop_connection()
        self._remove_files()

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                LOCAL.remove(str(self.path) + suffix)
            except OSError:
                pass

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _trim(self, db: sqlite3.Connection) -> None:
        """Delete the oldest-written rows until the data is under 90% of `max_bytes`."""
        try:
            total = db.execute("SELECT total(length(data)) FROM thumbs").fetchone()[0]
            if total <= self.max_bytes:
                return
            rows, = db.execute("SELECT count(*) FROM thumbs").fetchone()
            excess = int(rows * (1 - 0.9 * self.max_bytes / total)) + 1
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM thumbs WHERE rowid IN (SELECT rowid FROM thumbs ORDER BY rowid LIMIT ?)", (excess,))
            db.execute("COMMIT")
        except sqlite3.Error:
            self._rollback(db)
