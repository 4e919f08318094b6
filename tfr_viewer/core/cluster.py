"""Per-file jobs on a Dask cluster: the same per-file functions the local loop runs, submitted as
futures to an existing scheduler (`tcp://host:8786`) or to a local cluster of N worker processes
(`local:N`).

Why it looks as it does: users already run Dask on their clusters (SLURM/PBS through
dask-jobqueue, Kubernetes), so we hand it plain functions of one path and let it schedule,
retry on a lost worker (it reschedules the task) and move results. Results come back in the
order of the files whatever order they finish in, so `--json` equals the local run's. A
per-file function turns its file's errors into its result; a task that kept killing workers
(`KilledWorker`) becomes that file's error through `on_error`. Workers see files by the same
path (a shared file system) or URL.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any, Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CONNECT_TIMEOUT_S = 10  # an address nobody listens on: one line well within 30 s
CLUSTER_EXTRA = "tfr-viewer[cluster]"
# the variables a worker takes from the submitting process: where URLs' options and the cache are
FORWARDED_ENV = ("TFR_VIEWER_STORAGE_OPTIONS", "TFR_VIEWER_CACHE_DIR")
TEST_DELAY_ENV = "TFR_VIEWER_TEST_TASK_DELAY_S"  # tests only: each task sleeps this long first


class ClusterError(Exception):
    """The cluster cannot be used (not installed, not reachable, a bad address): one line."""


@contextlib.contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A connected `distributed.Client`: to the scheduler at `address`, or to a new local
    cluster of N single-threaded worker processes for `local:N` (closed on exit)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(f"--dask needs Dask distributed: install '{CLUSTER_EXTRA}'") from None
    cluster = None
    try:
        if address.startswith("local:"):
            workers = address.partition(":")[2]
            if not workers.isdigit() or int(workers) < 1:
                raise ClusterError(f"--dask {address}: write local:N with N worker processes (N >= 1)")
            import dask

            # the worker's stack sampler costs a per-file job about a third of its time here
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                       dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except ClusterError:
        raise
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({reason})") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_files(
    client: Any,
    func: Callable[..., R],
    items: Sequence[T],
    *args: Any,
    progress: Callable[[int, int, T], None] | None = None,
    on_error: Callable[[T, BaseException], R] | None = None,
) -> list[R]:
    """`func(item, *args)` for every item on the cluster, results in the order of `items`;
    `progress(done, total, item)` as each finishes. A task Dask gave up on (its workers kept
    dying) is `on_error(item, exc)`'s result when given. Ctrl+C (or any error) cancels the
    futures still pending."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    env = {key: os.environ[key] for key in FORWARDED_ENV + (TEST_DELAY_ENV,) if key in os.environ}
    run = uuid.uuid4().hex[:8]
    futures = [
        client.submit(run_on_worker, env, func, item, *args, key=f"{func.__name__}-{run}-{i}", pure=False)
        for i, item in enumerate(items)
    ]
    position = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    try:
        for done, future in enumerate(as_completed(futures), 1):
            i = position[future.key]
            try:
                results[i] = future.result()
            except (KilledWorker, FutureCancelledError) as exc:
                if on_error is None:
                    raise
                results[i] = on_error(items[i], exc)
            if progress is not None:
                progress(done, len(items), items[i])
    except BaseException:
        client.cancel(futures)
        raise
    return results


def run_on_worker(env: dict[str, str], func: Callable[..., R], *args: Any) -> R:
    """On a worker: the submitter's storage options and cache folder, then `func(*args)`."""
    os.environ.update(env)
    if env.get("TFR_VIEWER_STORAGE_OPTIONS") is not None:
        from . import remote_storage

        remote_storage._STORAGES.clear()  # file systems are made anew with these options
    delay = float(env.get(TEST_DELAY_ENV, 0) or 0)
    if delay:
        time.sleep(delay)
    return func(*args)
