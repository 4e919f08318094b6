"""Whether a path is a URL: a check the command line makes before anything heavy is imported
(the window's start-up imports no storage before its first paint)."""

from __future__ import annotations

import os


def is_url(path: str | os.PathLike) -> bool:
    """Whether `path` names a place through a URL scheme (`s3://...`, `file://...`)."""
    text = os.fspath(path)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1  # 'C://' is a Windows drive
