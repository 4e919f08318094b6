"""Remote datasets over a slow network: a real S3 API (moto_server) behind a proxy adding 50 ms to
every request, against the same files on the local disk (offscreen window).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/remote_bench.py [--files 20] [--tiles 200] [--delay-ms 50]
       [--rounds 3] [--log]
Needs the test extras (moto[server], s3fs). Prints, for rounds that alternate local and remote
opens (each round with an empty per-user cache), then their medians: window open -> first screen
of thumbnails, local and remote (target: remote at most 1.5 s more), and remote again as a new
run would open it (the indexes checked on the first open are remembered in the per-user cache);
the requests each took, by kind (`--log` lists those of the last first open, with their times);
sequential read throughput of every file, local and remote; the load average (the machine may
be shared: compare figures of one run). Against older code: `git worktree add /tmp/old <commit>`,
copy this file and `tests/remote/s3_server.py` there, and run both in turn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from _data import tfrecord_dataset  # noqa: E402

from tests.remote.s3_server import MotoServer, SlowProxy, s3_environment, upload_folder  # noqa: E402

BUCKET = "bench"
READ_CHUNK = 1 << 20


def first_screen_seconds(app, path: str) -> float:
    """A new window: open `path`, wait until every tile of the first screen has its thumbnail."""
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.map_later import visible_thumbnails_ready
    from tfr_viewer.gui.settings import Settings

    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    app.processEvents()

    start = time.perf_counter()
    window.open_path(path)
    end = start + 120
    while not (window.browser.tile_model.rowCount() > 0 and visible_thumbnails_ready(window)):
        app.processEvents()
        if time.perf_counter() > end:
            raise SystemExit(f"timed out opening {path}")
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    window.close()
    app.processEvents()
    return elapsed


def sequential_mb_per_s(paths: list[str]) -> float:
    """Every byte of every file read front to back in 1 MB pieces, as the index builder and
    verify read; through each file's storage."""
    from tfr_viewer.core.storage import storage_for

    total, start = 0, time.perf_counter()
    buffer = bytearray(READ_CHUNK)
    for path in paths:
        with storage_for(path).open(path) as f:
            while n := f.readinto(buffer):
                total += n
    return total / (time.perf_counter() - start) / 1e6


def as_a_new_run() -> None:
    """Forget what this process learned of the bucket, as a new run starts: our storages and
    fsspec's shared file systems (with their listings caches)."""
    import s3fs

    from tfr_viewer.core import remote_storage

    remote_storage._STORAGES.clear()
    s3fs.S3FileSystem.clear_instance_cache()


def kinds(requests: list[str]) -> str:
    """The requests of an open by kind: listings, HEADs, index files, ranges of TFRecords."""
    counts = {"listing": 0, "HEAD": 0, "index file": 0, "TFRecord range": 0}
    for request in requests:
        kind = ("listing" if "list-type" in request else "HEAD" if request.startswith("HEAD")
                else "index file" if ".index" in request else "TFRecord range")
        counts[kind] += 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--tiles", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="local and remote opens alternate this many times")
    parser.add_argument("--log", action="store_true", help="list every request of the last first open")
    args = parser.parse_args()
    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()

    from tfr_viewer.core.index import create_index

    local = tfrecord_dataset(args.files, args.tiles, name="remote")
    files = sorted(local.glob("*.tfrecords"))
    for path in files:
        create_index(path)
    size_mb = sum(p.stat().st_size for p in files) / 1e6

    server = MotoServer()
    proxy = SlowProxy(server.url, delay_s=args.delay_ms / 1000)
    try:
        os.environ.update(s3_environment(proxy.url))
        upload_folder(server, local, BUCKET, local.name)
        url = f"s3://{BUCKET}/{local.name}"
        print(f"dataset: {args.files} indexed files x {args.tiles} tiles of ~20 KB ({size_mb:.0f} MB), "
              f"proxy adds {args.delay_ms:.0f} ms per request; {os.cpu_count()} CPUs")

        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([])
        local_runs, first_runs, again_runs = [], [], []
        for round_ in range(args.rounds):
            os.environ["TFR_VIEWER_CACHE_DIR"] = tempfile.mkdtemp()  # no thumbnail or index remembered
            local_runs.append(first_screen_seconds(app, str(local)))
            as_a_new_run()
            before, started = len(proxy.log), time.perf_counter()
            first_runs.append(first_screen_seconds(app, url))
            first = list(zip(proxy.times[before:], proxy.log[before:]))
            as_a_new_run()  # again: only the per-user cache is kept
            before = len(proxy.log)
            again_runs.append(first_screen_seconds(app, url))
            again = proxy.log[before:]
            span = f"sent {(first[0][0] - started) * 1000:.0f} to {(first[-1][0] - started) * 1000:.0f} ms" if first else ""
            print(f"round {round_ + 1}: local {local_runs[-1] * 1000:.0f} ms, remote first open {first_runs[-1] * 1000:.0f} ms "
                  f"({len(first)} requests {span}), opened again {again_runs[-1] * 1000:.0f} ms ({len(again)} requests); "
                  f"load average {os.getloadavg()[0]:.1f}")
        local_s, remote_s, again_s = (statistics.median(runs) for runs in (local_runs, first_runs, again_runs))
        print(f"window open -> first screen of thumbnails (median of {args.rounds}): local {local_s * 1000:.0f} ms, "
              f"remote {remote_s * 1000:.0f} ms (+{(remote_s - local_s) * 1000:.0f} ms, target <= +1500 ms; "
              f"{len(first)} requests: {kinds([r for _, r in first])})")
        print(f"the same, opened again (indexes checked on the first open, remembered in the per-user cache): "
              f"remote {again_s * 1000:.0f} ms (+{(again_s - local_s) * 1000:.0f} ms; {len(again)} requests: {kinds(again)})")
        if args.log:
            for when, request in first:
                print(f"{(when - started) * 1000:6.0f} ms  {request}")

        local_rate = sequential_mb_per_s([str(p) for p in files])
        before = proxy.requests
        remote_rate = sequential_mb_per_s([f"{url}/{p.name}" for p in files])
        print(f"sequential read of every file: local {local_rate:,.0f} MB/s, remote {remote_rate:,.0f} MB/s "
              f"({proxy.requests - before} requests for {size_mb:.0f} MB); load average {os.getloadavg()[0]:.1f}")
    finally:
        proxy.stop()
        server.stop()


if __name__ == "__main__":
    main()
