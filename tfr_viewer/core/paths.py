"""Where tfr-viewer may write when the user's folder is not ours to write into."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path


def user_cache_dir() -> Path:
    """The per-user cache folder (`TFR_VIEWER_CACHE_DIR` overrides, for tests and shared machines)."""
    override = os.environ.get("TFR_VIEWER_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tfr-viewer"


def cache_path_for(path: str | os.PathLike, kind: str, filename: str) -> Path:
    """A cache location unique to the absolute path of `path` (folder names stay readable)."""
    absolute = os.path.abspath(os.fspath(path))
    digest = hashlib.sha1(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return user_cache_dir() / kind / digest / filename


def is_writable_dir(folder: str | os.PathLike) -> bool:
    """True when a file can really be created in `folder` (os.access lies on some mounts)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".tfr-viewer-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `dest` through a temporary file in the same folder and a rename.

    Readers never see a half-written file, and two writers racing leave one whole file.
    """
    dest = os.fspath(dest)
    folder = os.path.dirname(dest) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
