"""`verify --images` over 40 files without Dask, on `--dask local:1` and `local:2`, and on a
scheduler with 1 and 2 `dask worker` processes started beforehand (`--dask tcp://...`, as users
run it); then `convert --multi --reencode-jpeg 90` of slide folders without Dask and on
`--dask local:2`.

Usage: python benchmarks/cluster_bench.py [--files 40] [--tiles 200] [--rounds 3] [--slides 8]
Needs the cluster extra (dask distributed). The commands run in alternation, `--rounds` times,
and the medians are printed with the load average (other work on the machine slows every row).
Per row: the command's wall time (`total`, a local cluster's start included), the two parts the
command reports on stderr (`ready`: starting or reaching the cluster and importing the job on its
workers; `job`: the tasks), and the CPU seconds of the command and its worker processes (`local:N`
only: the workers are its children), which a busy machine does not inflate as it does wall times.
The speed-up from one to two workers is the median of each round's ratio (on 2 free cores expect
about 1.8x on the job); beside it, what two cores give without Dask at that moment: two processes
at once, each on half the files, against one on all (two workers are bound by the same cores). The remote rows' workers run with the Dask config the README recommends
(glibc's malloc defaults, no stack sampler), as `local:N`'s do, plus one row with Dask's defaults
(the nanny's `MALLOC_TRIM_THRESHOLD_=65536`) to show what they cost; see "Running on a cluster". Every JSON report is checked to equal
the run without Dask's, and the converted files byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import tfrecord_dataset, tile_jpegs  # noqa: E402

CONVERT_TILES = 100  # per slide folder
TIMING = re.compile(r"on \S+: (\d+) worker\(s\) ready in ([\d.]+) s; \d+ task\(s\) in ([\d.]+) s")
# the README's Dask config for workers: glibc's own malloc settings, no stack sampler
RECOMMENDED_CONFIG = """distributed:
  nanny:
    pre-spawn-environ:
      MALLOC_TRIM_THRESHOLD_: null
  worker:
    profile:
      enabled: false
"""


@dataclass
class Run:
    total: float
    ready: float | None  # None: no cluster
    job: float | None
    cpu: float | None  # the command and its waited-for children (local:N's workers); None for tcp rows
    report: dict


def run_halves_at_once(folder: Path) -> float:
    """Wall time of two `verify --images` processes at once, each on half of the files."""
    files = sorted(str(p) for p in folder.glob("*.tfrecords"))
    halves = [files[: len(files) // 2], files[len(files) // 2 :]]
    start = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "tfr_viewer", "verify", "--images", "--json", *half],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for half in halves]
    if any(process.wait() not in (0, 1) for process in processes):
        raise SystemExit("verify failed on a half of the files")
    return time.perf_counter() - start


def run_command(argv: list[str], cpu_counts: bool) -> tuple[Run, str]:
    """One command, its wall time, the ready/job times it reported and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tfr_viewer", *argv], capture_output=True, text=True)
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    found = TIMING.search(done.stderr)
    ready, job = (float(found.group(2)), float(found.group(3))) if found else (None, None)
    return Run(total, ready, job, cpu if cpu_counts else None, json.loads(done.stdout or "{}")), done.stderr


class RemoteCluster:
    """`dask scheduler` and `workers` `dask worker` processes (nanny, one thread each), started
    before the timed commands as a user's cluster is; `recommended`: with the config above."""

    def __init__(self, workers: int, recommended: bool, config_dir: Path) -> None:
        dask = str(Path(sys.executable).with_name("dask"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        env = {**os.environ, "DASK_CONFIG": str(config_dir)} if recommended else dict(os.environ)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        self.processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-dashboard"], **quiet)]
        self.processes += [subprocess.Popen([dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
                                             "--no-dashboard", "--host", "127.0.0.1"], **quiet)
                           for _ in range(workers)]
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait()


def median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):7.2f}" if known else "      -"


def verify_runs(folder: Path, rounds: int) -> None:
    config_dir = Path(tempfile.mkdtemp(prefix="tfr-bench-dask-config-"))
    (config_dir / "tfr-viewer.yaml").write_text(RECOMMENDED_CONFIG)
    clusters = {
        "tcp, 1 worker": RemoteCluster(1, True, config_dir),
        "tcp, 2 workers": RemoteCluster(2, True, config_dir),
        "tcp, 2 workers, Dask defaults": RemoteCluster(2, False, config_dir),
    }
    rows: dict[str, list[str]] = {
        "no Dask": [], "--dask local:1": ["--dask", "local:1"], "--dask local:2": ["--dask", "local:2"],
        **{label: ["--dask", cluster.address] for label, cluster in clusters.items()},
    }
    runs: dict[str, list[Run]] = {label: [] for label in rows}
    halves_at_once: list[float] = []
    loads = [os.getloadavg()[0]]
    try:
        for r in range(rounds):
            for label, extra in rows.items():
                run, stderr = run_command(["verify", "--images", "--json", str(folder), *extra],
                                          cpu_counts=not label.startswith("tcp"))
                if extra and run.job is None:
                    raise SystemExit(f"{label}: no ready/job line on stderr:\n{stderr}")
                runs[label].append(run)
                if label == "no Dask":
                    halves_at_once.append(run_halves_at_once(folder))
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}: " + ", ".join(f"{label} {rs[-1].total:.1f} s" for label, rs in runs.items())
                  + f", 2 halves without Dask at once {halves_at_once[-1]:.1f} s (load {loads[-1]:.1f})", flush=True)
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(config_dir)
    reference = runs["no Dask"][0].report
    assert all(run.report == reference for rs in runs.values() for run in rs), "the reports differ"
    print(f"\nverify --images, medians of {rounds} rounds (load average {min(loads):.1f}..{max(loads):.1f}; "
          "reports all equal):")
    print(f"{'':<30} {'total s':>7} {'ready s':>7} {'job s':>7} {'CPU s':>7}")
    for label, rs in runs.items():
        print(f"{label:<30} {median([x.total for x in rs])} {median([x.ready for x in rs])} "
              f"{median([x.job for x in rs])} {median([x.cpu for x in rs])}")

    def speed_up(one: str, two: str, part: str) -> str:
        ratios = [getattr(a, part) / getattr(b, part) for a, b in zip(runs[one], runs[two])]
        return f"{statistics.median(ratios):.2f}x"

    print(f"speed-up 1 -> 2 workers: local:N total {speed_up('--dask local:1', '--dask local:2', 'total')}, "
          f"job {speed_up('--dask local:1', '--dask local:2', 'job')}; "
          f"tcp total {speed_up('tcp, 1 worker', 'tcp, 2 workers', 'total')}, "
          f"job {speed_up('tcp, 1 worker', 'tcp, 2 workers', 'job')}")
    ceiling = statistics.median(a.total / b for a, b in zip(runs["no Dask"], halves_at_once))
    print(f"two cores without Dask (2 processes at once, each on half the files, vs 1 on all): {ceiling:.2f}x "
          f"({statistics.median(halves_at_once):.2f} s): what two cores give on this machine now")
    print(f"no Dask -> local:2 total {speed_up('no Dask', '--dask local:2', 'total')}; "
          f"Dask's defaults vs the recommended config on 2 tcp workers, job "
          f"{speed_up('tcp, 2 workers, Dask defaults', 'tcp, 2 workers', 'job')} slower")


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


def convert_runs(slides: int, rounds: int) -> None:
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    src = slide_folders(base / f"tfr-bench-cluster-convert-{slides}x{CONVERT_TILES}", slides)
    dests = {"no Dask": (Path(tempfile.mkdtemp(prefix="tfr-bench-convert-local-")) / "out", []),
             "--dask local:2": (Path(tempfile.mkdtemp(prefix="tfr-bench-convert-dask-")) / "out", ["--dask", "local:2"])}
    runs: dict[str, list[Run]] = {label: [] for label in dests}
    for _ in range(rounds):
        for label, (dest, extra) in dests.items():
            shutil.rmtree(dest, ignore_errors=True)
            run, _ = run_command(["convert", str(src), str(dest), "--multi", "--reencode-jpeg", "90", "--json", *extra],
                                 cpu_counts=True)
            runs[label].append(run)
    local_dest, cluster_dest = dests["no Dask"][0], dests["--dask local:2"][0]
    names = sorted(p.name for p in local_dest.iterdir())
    assert names == sorted(p.name for p in cluster_dest.iterdir()), "different files written"
    assert all((local_dest / n).read_bytes() == (cluster_dest / n).read_bytes() for n in names), "different bytes"
    ratios = [a.total / b.total for a, b in zip(runs["no Dask"], runs["--dask local:2"])]
    print(f"\nconvert --multi --reencode-jpeg 90, {slides} slides x {CONVERT_TILES} tiles, medians of {rounds} rounds "
          f"(load {os.getloadavg()[0]:.1f}): no Dask {median([r.total for r in runs['no Dask']]).strip()} s, "
          f"--dask local:2 {median([r.total for r in runs['--dask local:2']]).strip()} s "
          f"(ready {median([r.ready for r in runs['--dask local:2']]).strip()} s, "
          f"job {median([r.job for r in runs['--dask local:2']]).strip()} s); "
          f"{statistics.median(ratios):.2f}x; files byte-identical")
    for dest, _ in dests.values():
        shutil.rmtree(dest.parent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--tiles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slides", type=int, default=8)
    args = parser.parse_args()
    folder = tfrecord_dataset(args.files, args.tiles, name="cluster")
    size_mb = sum(p.stat().st_size for p in folder.glob("*.tfrecords")) / 1e6
    print(f"dataset: {args.files} files x {args.tiles} tiles of ~20 KB JPEG ({size_mb:.0f} MB); "
          f"{os.cpu_count()} CPUs on this machine, load average {os.getloadavg()[0]:.1f}")
    verify_runs(folder, args.rounds)
    convert_runs(args.slides, args.rounds)


if __name__ == "__main__":
    main()
