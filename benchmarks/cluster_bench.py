"""`verify --images` over 40 files: without Dask, on `--dask local:1` and on `--dask local:2`.

Usage: python benchmarks/cluster_bench.py [--files 40] [--tiles 200]
Needs the cluster extra (dask distributed). Prints the wall time of each command (the local
cluster's start included) and the speed-up from one to two workers (on 2 free cores expect about
1.8x); the three JSON reports are checked to be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import tfrecord_dataset  # noqa: E402


def timed_verify(folder: Path, extra: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tfr_viewer", "verify", "--images", "--json", str(folder), *extra],
                          capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--tiles", type=int, default=200)
    args = parser.parse_args()
    folder = tfrecord_dataset(args.files, args.tiles, name="cluster")
    size_mb = sum(p.stat().st_size for p in folder.glob("*.tfrecords")) / 1e6
    print(f"dataset: {args.files} files x {args.tiles} tiles of ~20 KB JPEG ({size_mb:.0f} MB); "
          f"{os.cpu_count()} CPUs on this machine, load average {os.getloadavg()[0]:.1f}")
    runs = {}
    for label, extra in (("no Dask", []), ("--dask local:1", ["--dask", "local:1"]), ("--dask local:2", ["--dask", "local:2"])):
        runs[label] = timed_verify(folder, extra)
        print(f"verify --images, {label:<15} {runs[label][0]:6.1f} s")
    reports = [report for _, report in runs.values()]
    assert all(report == reports[0] for report in reports), "the reports differ"
    one, two = runs["--dask local:1"][0], runs["--dask local:2"][0]
    print(f"speed-up local:1 -> local:2: {one / two:.2f}x; no Dask -> local:2: {runs['no Dask'][0] / two:.2f}x "
          "(reports equal)")


if __name__ == "__main__":
    main()
