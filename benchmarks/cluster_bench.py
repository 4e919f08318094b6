"""`verify --images` over 40 files: without Dask, on `--dask local:1` and on `--dask local:2`;
then `convert --multi --reencode-jpeg 90` of slide folders without Dask and on `--dask local:2`.

Usage: python benchmarks/cluster_bench.py [--files 40] [--tiles 200] [--slides 8]
Needs the cluster extra (dask distributed). Prints the wall time of each command (the local
cluster's start included) and the speed-up from one to two workers (on 2 free cores expect about
1.8x); the three JSON reports are checked to be equal, and the converted files byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import tfrecord_dataset, tile_jpegs  # noqa: E402

CONVERT_TILES = 100  # per slide folder


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
    parser.add_argument("--slides", type=int, default=8)
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
    convert_runs(args.slides)


def slide_folders(root: Path, slides: int) -> Path:
    """`slides` folders of `CONVERT_TILES` ~20 KB JPEG tiles named with their locations."""
    if (root / ".complete").exists():
        return root
    tiles = tile_jpegs(64)
    for s in range(slides):
        folder = root / f"slide_{s:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(CONVERT_TILES):
            (folder / f"tile_{256 * (t % 10)}-{256 * (t // 10)}.jpg").write_bytes(tiles[(s + t) % len(tiles)])
    (root / ".complete").touch()
    return root


def timed_convert(src: Path, dest: Path, extra: list[str]) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tfr_viewer", "convert", str(src), str(dest), "--multi",
                           "--reencode-jpeg", "90", "--json", *extra], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed


def convert_runs(slides: int) -> None:
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    src = slide_folders(base / f"tfr-bench-cluster-convert-{slides}x{CONVERT_TILES}", slides)
    local_dest, cluster_dest = base / "tfr-bench-cluster-convert-local", base / "tfr-bench-cluster-convert-dask"
    local_s = timed_convert(src, local_dest, [])
    cluster_s = timed_convert(src, cluster_dest, ["--dask", "local:2"])
    names = sorted(p.name for p in local_dest.iterdir())
    assert names == sorted(p.name for p in cluster_dest.iterdir()), "different files written"
    assert all((local_dest / n).read_bytes() == (cluster_dest / n).read_bytes() for n in names), "different bytes"
    print(f"convert --multi --reencode-jpeg 90, {slides} slides x {CONVERT_TILES} tiles: no Dask {local_s:.1f} s, "
          f"--dask local:2 {cluster_s:.1f} s ({local_s / cluster_s:.2f}x; files byte-identical)")
    shutil.rmtree(local_dest), shutil.rmtree(cluster_dest)


if __name__ == "__main__":
    main()
