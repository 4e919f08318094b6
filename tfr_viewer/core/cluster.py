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

Speed (see benchmarks/cluster_bench.py): `local:N` is N single-threaded worker processes with
glibc's own malloc settings, every worker registered and its job modules imported before the
first task is submitted, the biggest items first.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
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
WORKERS_TIMEOUT_S = 60  # a local worker process that has not started by then will not
LOCAL_WORKER_CONFIG = {
    # the worker's stack sampler: a few per cent of a per-file job's CPU time (3% of verify --images)
    "distributed.worker.profile.enabled": False,
    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which fixes glibc's mmap
    # threshold: every decoded tile's buffers are then mapped and unmapped, and `verify --images`
    # takes half as long again (the extra time in the kernel). Our own workers keep glibc's
    # defaults, as a run without Dask does.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


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
    cluster = client = None
    try:
        if address.startswith("local:"):
            workers = address.partition(":")[2]
            if not workers.isdigit() or int(workers) < 1:
                raise ClusterError(f"--dask {address}: write local:N with N worker processes (N >= 1)")
            import dask

            with dask.config.set(LOCAL_WORKER_CONFIG):
                # a worker's heartbeat that meets the closing scheduler logs an error: noise here;
                # the scheduler's HTTP server (no dashboard) on a free port, not 8787 (taken?)
                cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                       dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                       silence_logs=logging.CRITICAL)
            client = Client(cluster)
            client.wait_for_workers(int(workers), timeout=WORKERS_TIMEOUT_S)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except ClusterError:
        raise
    except (OSError, TimeoutError, ValueError) as exc:
        if client is not None:
            client.close()
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


def warm_up(client: Any, func: Callable) -> int:
    """Import `func`'s module (and so numpy, Pillow and the core) on every worker the scheduler
    has now, before any task: otherwise each worker pays for it in its first task. Returns the
    number of workers. A worker that cannot import it is left alone: its tasks say why."""
    modules = [__name__, func.__module__]
    return len(client.run(import_modules, modules, on_error="ignore"))


def import_modules(names: Sequence[str]) -> None:
    """On a worker: the modules a task will need."""
    for name in names:
        importlib.import_module(name)


def map_files(
    client: Any,
    func: Callable[..., R],
    items: Sequence[T],
    *args: Any,
    progress: Callable[[int, int, T], None] | None = None,
    on_error: Callable[[T, BaseException], R] | None = None,
    weights: Sequence[int] | None = None,
) -> list[R]:
    """`func(item, *args)` for every item on the cluster, results in the order of `items`;
    `progress(done, total, item)` as each finishes. Items with the largest `weights` (their
    sizes) are submitted first, so that no big file starts last and leaves one worker
    running alone at the end. A task Dask gave up on (its workers kept dying) is
    `on_error(item, exc)`'s result when given. Ctrl+C (or any error) cancels the futures
    still pending."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    env = {key: os.environ[key] for key in FORWARDED_ENV + (TEST_DELAY_ENV,) if key in os.environ}
    run = uuid.uuid4().hex[:8]
    order = sorted(range(len(items)), key=lambda i: -weights[i]) if weights is not None else range(len(items))
    futures = [
        client.submit(run_on_worker, env, func, items[i], *args, key=f"{func.__name__}-{run}-{i}", pure=False)
        for i in order
    ]
    position = {future.key: i for future, i in zip(futures, order)}
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
