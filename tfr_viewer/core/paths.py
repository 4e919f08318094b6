"""Where tfr-viewer may write when the user's folder is not ours to write into: the per-user
cache folder and the place of each file's entry in it. Locations only: the folders are made
through the local storage."""

from __future__ import annotations

import os
import sys
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
    """A cache location unique to the absolute path of `path`, or, for a file of another
    storage, to its URL, size and version (ETag or time): an object replaced under the same URL
    gets a new entry, never the old one's index.

    The cache folder and its `kind` folder are made private (0700) here, once per process:
    the cache tells which files were looked at, and where, so whatever is written below them
    is out of other users' reach even where it is created with default permissions.
    """
    import hashlib  # not at import: the window's settings path comes before its first paint

    from .storage import LOCAL, is_url  # the storage builds on these locations: imported late

    text = os.fspath(path)
    key = text + _version_key(text) if is_url(text) else os.path.abspath(text)
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    folder = user_cache_dir() / kind
    if folder not in _private_made:
        try:
            LOCAL.make_dirs(folder)
        except OSError:  # no cache to be had (a read-only home): writers fall back or fail there
            pass
        else:
            _private_made.add(folder)
    return folder / digest / filename


_private_made: set[Path] = set()


def _version_key(url: str) -> str:
    """The size and version of the object at `url` as part of a cache key ('' when it cannot be
    stat'ed: the entry is then keyed by the URL alone, and checked against the file when read)."""
    from .storage import storage_for

    try:
        info = storage_for(url).stat(url)
    except (OSError, ValueError):
        return ""
    return f"\n{info.size}\n{info.version}"


def in_user_cache(path: str | os.PathLike) -> bool:
    """Whether `path` is the per-user cache folder or inside it."""
    cache = os.path.abspath(user_cache_dir())
    absolute = os.path.abspath(os.fspath(path))
    return absolute == cache or absolute.startswith(cache.rstrip(os.sep) + os.sep)
