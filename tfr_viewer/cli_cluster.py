"""`--dask`: the command line's per-file work on a Dask cluster, with progress on stderr as
files finish (the per-file functions are the local loop's; see `core.cluster`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from .core.cluster import dask_client, map_files
from .core.console import ProgressBar
from .core.messages import one_line


def on_cluster(address: str, func: Callable, files: Sequence[str], *args: Any, on_error: Callable) -> list:
    """`func(file, *args)` for every file on the Dask cluster at `address` (or `local:N`),
    results in the order of `files`. Raises `ClusterError` (one line) when there is no cluster."""
    with dask_client(address) as client:
        bar = ProgressBar(f"on {address}")
        try:
            return map_files(client, func, files, *args, on_error=on_error,
                             progress=lambda done, total, path: bar.update(done, total, Path(path).name))
        finally:
            bar.close()


def index_lost(path: str, exc: BaseException) -> dict[str, Any]:
    """The `index` line of a file whose task the cluster gave up on (its workers kept dying)."""
    return {"path": path, "status": "error", "error": f"{path}: {type(exc).__name__}: {one_line(exc)}"}


def count_here_instead(path: str, exc: BaseException) -> dict[str, Any]:
    """A file whose count the cluster gave up on: no entry, so `summary` counts it here."""
    return {}
