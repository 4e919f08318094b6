"""`--dask` on a real cluster (a scheduler and two worker processes): the same answers as the
local run, a worker killed mid-run changes nothing in the result, an unreachable scheduler is
one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfr_viewer import cli
from tfr_viewer.core.index import create_index

from ..helpers import tile_record, write_tfrecord_py
from ..remote.s3_server import free_port
from .dask_cluster import DaskCluster


def make_dataset(folder: Path, files: int = 6) -> Path:
    """`files` TFRecords, the first with an index beside it, the last with one flipped byte."""
    folder.mkdir(parents=True)
    for f in range(files):
        write_tfrecord_py(folder / f"s{f}.tfrecords", [tile_record(i, slide=f"s{f}") for i in range(10 + f)])
    create_index(folder / "s0.tfrecords")
    damaged = folder / f"s{files - 1}.tfrecords"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    return folder


def _json(argv: list[str], capsys) -> tuple[int, object]:
    code = cli.main(argv + ["--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv", [["verify"], ["verify", "--images"], ["index"], ["summary"]])
def test_a_cluster_run_answers_as_the_local_one(cluster: DaskCluster, tmp_path: Path, capsys, argv) -> None:
    local = make_dataset(tmp_path / "local")
    remote = make_dataset(tmp_path / "cluster")
    local_code, local_answer = _json(argv + [str(local)], capsys)
    cluster_code, cluster_answer = _json(argv + [str(remote), "--dask", cluster.address], capsys)
    assert cluster_code == local_code == 1  # the damaged file: its problem, the others still done
    assert json.dumps(cluster_answer).replace(str(remote), "X") == json.dumps(local_answer).replace(str(local), "X")
    if argv == ["index"]:  # the indexes were written by the workers, beside the files
        assert sorted(p.name for p in remote.glob("*.index.npz")) == sorted(p.name for p in local.glob("*.index.npz"))
    if argv == ["summary"]:  # the counts of the workers went into the manifest, as local counts do
        local_manifest = json.loads((local / "manifest.json").read_text())
        cluster_manifest = json.loads((remote / "manifest.json").read_text())
        assert {k: v["total"] for k, v in cluster_manifest.items()} == {k: v["total"] for k, v in local_manifest.items()}


def test_local_n_starts_its_own_workers(tmp_path: Path, capsys) -> None:
    local = make_dataset(tmp_path / "data", files=3)
    local_code, local_answer = _json(["verify", str(local)], capsys)
    cluster_code, cluster_answer = _json(["verify", str(local), "--dask", "local:2"], capsys)
    assert (cluster_code, cluster_answer) == (local_code, local_answer)


def test_a_worker_killed_mid_run_and_the_result_is_complete(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", files=8)
    expected = subprocess.run([sys.executable, "-m", "tfr_viewer", "verify", str(data), "--json"],
                              capture_output=True, text=True, timeout=120)
    own = DaskCluster(workers=2)  # its own: one of its workers dies
    try:
        env = {**os.environ, "TFR_VIEWER_TEST_TASK_DELAY_S": "0.5"}  # tasks last long enough to be caught
        run = subprocess.Popen([sys.executable, "-m", "tfr_viewer", "verify", str(data), "--json", "--dask", own.address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        _wait_for_running_tasks(own.address)
        own.kill_worker(0)
        out, err = run.communicate(timeout=120)
    finally:
        own.stop()
    assert run.returncode == expected.returncode == 1, err
    assert json.loads(out) == json.loads(expected.stdout)  # every file, once, as locally


def test_ctrl_c_cancels_the_futures(cluster: DaskCluster, tmp_path: Path) -> None:
    from distributed import Client

    data = make_dataset(tmp_path / "data", files=8)
    env = {**os.environ, "TFR_VIEWER_TEST_TASK_DELAY_S": "2"}
    run = subprocess.Popen([sys.executable, "-m", "tfr_viewer", "verify", str(data), "--dask", cluster.address],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_running_tasks(cluster.address)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.strip().splitlines()[-1] == "tfr-viewer: error: interrupted", err
    with Client(cluster.address, timeout=30) as client:  # nothing of that run is left queued
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
            assert time.monotonic() < deadline, "tasks left on the scheduler"
            time.sleep(0.1)


def _wait_for_running_tasks(address: str) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 60
        while not all(client.processing().values()) or len(client.processing()) < 2:
            if time.monotonic() > deadline:
                raise AssertionError("no task started on both workers")
            time.sleep(0.05)


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", files=2)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tfr_viewer", "verify", str(data), "--dask", f"tcp://127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("tfr-viewer: error: cannot reach the Dask scheduler at tcp://127.0.0.1:")
