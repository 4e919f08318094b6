"""`--dask`: the command line's per-file work (per-slide for `convert --multi`) on a Dask
cluster, with progress on stderr as tasks finish (the functions are the local loop's; see
`core.cluster`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .core.cluster import dask_client, map_files, warm_up
from .core.console import ProgressBar, printable
from .core.messages import one_line
from .core.storage import storage_for
from .core.urls import is_url
from .core.write_pool import Group
from .core.write_report import SkippedFile, WriteReport
from .core.writer import plan_tfrecords_multi, write_group


def on_cluster(address: str, func: Callable, files: Sequence[Any], *args: Any, on_error: Callable,
               name: Callable[[Any], str] = lambda path: Path(path).name,
               weight: Callable[[Any], int] | None = None) -> list:
    """`func(file, *args)` for every file on the Dask cluster at `address` (or `local:N`),
    results in the order of `files`, the heaviest by `weight(file)` (local files: their size)
    submitted first; the bar names each finished item by `name(item)`. Ends with one line on
    stderr: how long the cluster took to be ready and how long the tasks then took, so that a
    slow start is not mistaken for slow work. Raises `ClusterError` (one line) when there is
    no cluster."""
    started = time.perf_counter()
    weights = [(weight or local_size)(item) for item in files]
    with dask_client(address) as client:
        workers = warm_up(client, func)
        ready = time.perf_counter()
        bar = ProgressBar(f"on {address}")
        try:
            results = map_files(client, func, files, *args, on_error=on_error, weights=weights,
                                progress=lambda done, total, item: bar.update(done, total, name(item)))
        finally:
            bar.close()
        finished = time.perf_counter()
    print(timing_line(address, workers, len(files), ready - started, finished - ready), file=sys.stderr)
    return results


def timing_line(address: str, workers: int, tasks: int, ready_s: float, job_s: float) -> str:
    """`on local:2: 2 worker(s) ready in 1.27 s; 40 task(s) in 4.62 s`: the job time apart from
    the cluster's start (`ready` includes starting a local cluster and importing on workers)."""
    return (f"on {printable(address)}: {workers} worker(s) ready in {ready_s:.2f} s; "
            f"{tasks} task(s) in {job_s:.2f} s")


def local_size(path: Any) -> int:
    """A local file's size (what a per-file task's time grows with); 0 for a URL (a request
    each is not worth an order) or a file that cannot be read (its task says why)."""
    if not isinstance(path, str) or is_url(path):
        return 0
    try:
        return storage_for(path).stat(path).size
    except (OSError, ValueError):
        return 0


def convert_on_cluster(address: str, src: str, dest: str, existing: str, options: dict[str, Any]) -> WriteReport:
    """`convert --multi` with one slide folder per task: planned here as the local run plans it
    (every destination checked before anything is submitted, loose images reported once), each
    group written on a worker by the local run's writer, the reports joined in slide order so
    that `--json` equals the local run's apart from the timing."""
    groups, report = plan_tfrecords_multi(src, dest, existing=existing)
    started = time.perf_counter()
    parts = on_cluster(address, convert_slide, groups, options, on_error=slide_lost,
                       name=lambda group: group[1], weight=lambda group: len(group[2])) if groups else []
    for part in parts:
        report.written.extend(part.written)
        report.skipped.extend(part.skipped)
        report.warnings.extend(part.warnings)
    report.elapsed = time.perf_counter() - started
    return report


def convert_slide(group: Group, options: dict[str, Any]) -> WriteReport:
    """One slide's TFRecord, on a worker; a slide that cannot be written is that slide's
    problem (the writer leaves no partial file), the other slides still run."""
    try:
        return write_group(group, **options)
    except Exception as exc:  # noqa: BLE001  (whatever the destination or data did: this slide's report)
        return slide_lost(group, exc)


def slide_lost(group: Group, exc: BaseException) -> WriteReport:
    """The report of a slide whose TFRecord was not written: its destination, and why."""
    return WriteReport(skipped=[SkippedFile(str(group[0]), f"not written: {one_line(exc)}")])


def index_lost(path: str, exc: BaseException) -> dict[str, Any]:
    """The `index` line of a file whose task the cluster gave up on (its workers kept dying)."""
    return {"path": path, "status": "error", "error": f"{path}: {type(exc).__name__}: {one_line(exc)}"}


def count_here_instead(path: str, exc: BaseException) -> dict[str, Any]:
    """A file whose count the cluster gave up on: no entry, so `summary` counts it here."""
    return {}
