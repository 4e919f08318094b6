"""Slideflow's `tfrecord2idx` names: `create_index`, `load_index`, `find_index`."""

from __future__ import annotations

import os

from .index import create_index as _create_index
from .index import find_index as _find_index
from .index import index_path, load_index, load_locations

__all__ = ["create_index", "load_index", "load_locations", "find_index", "index_path"]


def create_index(tfrecord: str | os.PathLike, index_file: str | os.PathLike | None = None) -> str | None:
    """Build and write `<name>.index.npz` (arr_0 + locations), as Slideflow does; returns the
    path written (None for a gzip file, whose index is kept in memory only)."""
    info = _create_index(tfrecord, index_file)
    return None if info.path is None else str(info.path)


def find_index(tfrecord: str | os.PathLike) -> str | None:
    """Path of a valid index for this TFRecord, or None."""
    info = _find_index(tfrecord)
    return None if info is None or info.path is None else str(info.path)
