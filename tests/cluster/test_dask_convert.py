"""`convert --multi --dask` on a real cluster (a scheduler and two worker processes): one slide
folder per task through the local run's writer, so the same bytes, the same report and the same
refusals as a local convert."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tfr_viewer import cli

from ..helpers import make_jpeg, make_png
from .dask_cluster import DaskCluster

SLIDES = ("alpha", "beta", "gamma", "delta")


def make_tiles(src: Path) -> Path:
    """Four slide folders of tiles named with their locations, one damaged image in `beta`,
    and a loose image beside the folders (not a slide's: reported once)."""
    for s, slide in enumerate(SLIDES):
        folder = src / slide
        folder.mkdir(parents=True)
        for i in range(5 + s):
            data = make_png(seed=10 * s + i) if i % 3 == 0 else make_jpeg(seed=10 * s + i)
            (folder / f"{slide}_{i * 256}-{s * 256}.{'png' if i % 3 == 0 else 'jpg'}").write_bytes(data)
    (src / "beta" / "beta_9999-0.jpg").write_bytes(b"\xff\xd8 not a jpeg at all")
    (src / "loose_0-0.jpg").write_bytes(make_jpeg(seed=99))
    return src


def _convert(argv: list[str], capsys) -> tuple[int, dict, str]:
    code = cli.main(["convert", *argv, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


def _without_timing(report: dict, dest: Path) -> str:
    return json.dumps({**report, "elapsed": None}).replace(str(dest), "DEST")


def test_a_cluster_convert_writes_the_bytes_of_a_local_one(cluster: DaskCluster, tmp_path: Path, capsys) -> None:
    src = make_tiles(tmp_path / "tiles")
    local_dest, cluster_dest = tmp_path / "local", tmp_path / "cluster"
    local_code, local_report, _ = _convert([str(src), str(local_dest), "--multi"], capsys)
    code, report, err = _convert([str(src), str(cluster_dest), "--multi", "--dask", cluster.address], capsys)
    assert code == local_code == 0, err
    assert _without_timing(report, cluster_dest) == _without_timing(local_report, local_dest)
    assert [w["slide"] for w in report["written"]] == sorted(SLIDES)
    skipped = [(Path(s["path"]).name, s["reason"]) for s in report["skipped"]]
    assert [name for name, _ in skipped].count("loose_0-0.jpg") == 1  # loose images: reported once
    assert "beta_9999-0.jpg" in [name for name, _ in skipped]  # the damaged image skipped, as locally
    files = sorted(p.name for p in local_dest.iterdir())
    assert sorted(p.name for p in cluster_dest.iterdir()) == files
    assert len([f for f in files if f.endswith(".tfrecords")]) == len(SLIDES)
    for name in files:
        if name.endswith(".tfrecords"):
            assert (cluster_dest / name).read_bytes() == (local_dest / name).read_bytes(), name
        else:
            with np.load(local_dest / name) as want, np.load(cluster_dest / name) as got:
                assert sorted(got.files) == sorted(want.files)
                for key in want.files:
                    np.testing.assert_array_equal(got[key], want[key])


def test_an_existing_destination_stops_the_cluster_run_before_anything_is_written(
    cluster: DaskCluster, tmp_path: Path, capsys
) -> None:
    src = make_tiles(tmp_path / "tiles")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "gamma.tfrecords").write_bytes(b"the user's file")
    code, _, err = _convert([str(src), str(dest), "--multi", "--dask", cluster.address], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"tfr-viewer: error: {dest / 'gamma.tfrecords'} already exists: use --overwrite to replace it "
        "or --skip-existing to leave them"
    ]
    assert sorted(p.name for p in dest.iterdir()) == ["gamma.tfrecords"]  # nothing else written
    assert (dest / "gamma.tfrecords").read_bytes() == b"the user's file"


def test_skip_existing_on_the_cluster_leaves_it_and_writes_the_others(cluster: DaskCluster, tmp_path: Path,
                                                                      capsys) -> None:
    src = make_tiles(tmp_path / "tiles")
    local_dest, cluster_dest = tmp_path / "local", tmp_path / "cluster"
    for dest in (local_dest, cluster_dest):
        dest.mkdir()
        (dest / "alpha.tfrecords").write_bytes(b"kept")
    local_code, local_report, _ = _convert([str(src), str(local_dest), "--multi", "--skip-existing"], capsys)
    code, report, err = _convert([str(src), str(cluster_dest), "--multi", "--skip-existing",
                                  "--dask", cluster.address], capsys)
    assert code == local_code == 0, err
    assert _without_timing(report, cluster_dest) == _without_timing(local_report, local_dest)
    assert (cluster_dest / "alpha.tfrecords").read_bytes() == b"kept"
    assert (cluster_dest / "beta.tfrecords").read_bytes() == (local_dest / "beta.tfrecords").read_bytes()


def test_a_slide_that_cannot_be_written_is_that_slides_problem(cluster: DaskCluster, tmp_path: Path, capsys) -> None:
    src = make_tiles(tmp_path / "tiles")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "delta.tfrecords").mkdir()  # a folder where delta's file goes: overwriting it fails
    code, report, err = _convert([str(src), str(dest), "--multi", "--overwrite", "--dask", cluster.address], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == "tfr-viewer: error: some slides were not written (see the skipped files above)"
    assert [w["slide"] for w in report["written"]] == ["alpha", "beta", "gamma"]
    failed = [s for s in report["skipped"] if s["reason"].startswith("not written: ")]
    assert [s["path"] for s in failed] == [str(dest / "delta.tfrecords")]
    assert (dest / "delta.tfrecords").is_dir()
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_dask_without_slide_folders_says_to_use_multi(tmp_path: Path, capsys) -> None:
    src = tmp_path / "flat"
    src.mkdir()
    (src / "t_0-0.jpg").write_bytes(make_jpeg())
    code = cli.main(["convert", str(src), str(tmp_path / "out"), "--dask", "local:1"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "tfr-viewer: error: --dask converts one slide folder per task: use it with --multi")
    assert not (tmp_path / "out").exists()


def test_ctrl_c_cancels_the_queued_slides_and_leaves_no_partial_file(cluster: DaskCluster, tmp_path: Path,
                                                                     capsys) -> None:
    from distributed import Client

    from .test_dask import _wait_for_running_tasks

    src = make_tiles(tmp_path / "tiles")
    local_dest, dest = tmp_path / "local", tmp_path / "out"
    assert _convert([str(src), str(local_dest), "--multi"], capsys)[0] == 0
    env = {**os.environ, "TFR_VIEWER_TEST_TASK_DELAY_S": "2"}  # two slides running, two queued when it comes
    run = subprocess.Popen([sys.executable, "-m", "tfr_viewer", "convert", str(src), str(dest), "--multi",
                            "--dask", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_running_tasks(cluster.address)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.strip().splitlines()[-1] == "tfr-viewer: error: interrupted", err
    with Client(cluster.address, timeout=30) as client:  # the running slides end, the queued ones never start
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
            assert time.monotonic() < deadline, "tasks left on the scheduler"
            time.sleep(0.1)
        while any(client.run(lambda dask_worker: len(dask_worker.state.tasks)).values()):
            assert time.monotonic() < deadline, "tasks left on the workers"  # a cancelled task still running
            time.sleep(0.1)
    written = sorted(p.name for p in dest.iterdir()) if dest.exists() else []
    tfrecords = [name for name in written if name.endswith(".tfrecords")]
    assert len(tfrecords) < len(SLIDES)  # the queued slides were cancelled
    assert not [name for name in written if name.startswith(".")]  # no temporary file left behind
    for name in tfrecords:  # a slide being written when Ctrl+C came is finished whole
        assert (dest / name).read_bytes() == (local_dest / name).read_bytes()
