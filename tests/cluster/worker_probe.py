"""Functions the tests run on Dask workers: this module imports nothing of tfr_viewer, so a
worker that has the core loaded got it from somewhere else."""

from __future__ import annotations

import os
import sys
import threading
import time


def loaded(module: str) -> bool:
    return module in sys.modules


def environment(name: str) -> str | None:
    return os.environ.get(name)


def process_and_threads(dask_worker) -> tuple[int, int]:  # noqa: ANN001  (`client.run` passes the worker)
    """This worker's process id and how many tasks it runs at once (its thread pool)."""
    return os.getpid(), dask_worker.state.nthreads


def started_at(item: str) -> tuple[str, float, str]:
    """When this task started (the machine's monotonic clock) and on which thread."""
    return item, time.monotonic(), threading.current_thread().name
