"""Cold-process `tfr-viewer summary` on 300 files x 1,000 tiles with indexes (target < 2 s).

Usage: python benchmarks/summary_bench.py [--files 300] [--tiles 1000]
Prints the wall time of a fresh `python -m tfr_viewer summary DIR` without and with manifest.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402


def timed_summary(root: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tfr_viewer", "summary", str(root)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--tiles", type=int, default=1000)
    args = parser.parse_args()
    root = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir())) / f"tfr-bench-summary-{args.files}x{args.tiles}"
    started = time.perf_counter()
    small_tile_dataset(root, args.files, args.tiles, px=16, stride=256)
    print(f"dataset: {args.files} files x {args.tiles} tiles in {root} (ready in {time.perf_counter() - started:.1f} s)")
    manifest = root / "manifest.json"
    if manifest.exists():
        manifest.unlink()
    cold, out = timed_summary(root)
    warm, _ = timed_summary(root)
    line = next(l for l in out.splitlines() if l.startswith("Number of tiles"))
    print(f"cold process, no manifest (reads 300 indexes): {cold:.2f} s")
    print(f"cold process, manifest.json present:            {warm:.2f} s   (target < 2 s)")
    print(line)


if __name__ == "__main__":
    main()
