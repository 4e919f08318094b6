"""What makes `--dask local:N` fast and fair: N single-threaded worker processes with glibc's
own malloc settings, each with the job's modules imported before the first task, the biggest
files submitted first, and a line that tells the cluster's start from the job's time."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tfr_viewer import cli
from tfr_viewer.core.catalog import verify_file
from tfr_viewer.core.cluster import dask_client, map_files, warm_up

from . import worker_probe
from .dask_cluster import DaskCluster
from .test_dask import make_dataset

TIMING = r"on {address}: {workers} worker\(s\) ready in \d+\.\d\d s; {tasks} task\(s\) in \d+\.\d\d s"


def test_local_n_is_n_single_threaded_processes_with_glibc_malloc_defaults() -> None:
    with dask_client("local:2") as client:
        workers = client.scheduler_info()["workers"]
        assert [w["nthreads"] for w in workers.values()] == [1, 1]
        processes = client.run(worker_probe.process_and_threads)
        assert len({pid for pid, _ in processes.values()} | {os.getpid()}) == 3  # two processes, not this one
        assert {threads for _, threads in processes.values()} == {1}
        # Dask's nanny default (65536) maps and unmaps every decoded tile's buffers
        assert set(client.run(worker_probe.environment, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
        assert set(client.run(worker_probe.environment, "OMP_NUM_THREADS").values()) == {"1"}  # the rest kept


def test_warm_up_imports_the_job_module_on_every_worker() -> None:
    with dask_client("local:2") as client:
        assert set(client.run(worker_probe.loaded, "tfr_viewer.core.catalog").values()) == {False}
        assert warm_up(client, verify_file) == 2
        assert set(client.run(worker_probe.loaded, "tfr_viewer.core.catalog").values()) == {True}


def test_the_biggest_items_start_first_and_results_keep_the_items_order() -> None:
    items = ["small", "huge", "middle", "tiny", "big"]
    weights = [20, 500, 100, 1, 300]
    with dask_client("local:1") as client:
        results = map_files(client, worker_probe.started_at, items, weights=weights)
    assert [item for item, _, _ in results] == items
    assert [item for item, _, _ in sorted(results, key=lambda r: r[1])] == ["huge", "big", "middle", "small", "tiny"]


def test_a_local_cluster_run_tells_its_start_from_its_job_time(tmp_path: Path, capsys) -> None:
    data = make_dataset(tmp_path / "data", files=3)
    assert cli.main(["verify", str(data), "--json", "--dask", "local:1"]) == 1  # the damaged file
    out = capsys.readouterr()
    assert len(json.loads(out.out)["files"]) == 3
    assert re.fullmatch(TIMING.format(address="local:1", workers=1, tasks=3), out.err.strip()), out.err


def test_a_scheduler_run_counts_the_workers_it_found(cluster: DaskCluster, tmp_path: Path, capsys) -> None:
    data = make_dataset(tmp_path / "data", files=4)
    cli.main(["summary", str(data), "--json", "--dask", cluster.address])
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(TIMING.format(address=re.escape(cluster.address), workers=2, tasks=4), err), err
