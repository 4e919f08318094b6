"""Cold-process `tfr-viewer summary` on 300 files x 1,000 tiles with indexes (target < 2 s).

Usage: python benchmarks/summary_bench.py [--files 300] [--tiles 1000]
Prints the wall time of a fresh `python -m tfr_viewer summary DIR` without and with manifest.json.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import IndexInfo, save_index
from tfr_viewer.core.records import make_example


def generate(root: Path, files: int, tiles: int) -> None:
    marker = root / ".complete"
    if marker.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for i in range(16):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buf, format="JPEG")
        images.append(buf.getvalue())
    for f in range(files):
        slide = f"slide_{f:04d}"
        offsets, locations, chunks, pos = [], [], [], 0
        for t in range(tiles):
            x, y = 128 + 256 * (t % 40), 128 + 256 * (t // 40)
            framed = frame_record(make_example({"image_raw": images[t % 16], "slide": slide, "loc_x": x, "loc_y": y}))
            chunks.append(framed)
            offsets.append((pos, len(framed)))
            locations.append((x, y))
            pos += len(framed)
        path = root / f"{slide}.tfrecords"
        path.write_bytes(b"".join(chunks))
        save_index(IndexInfo(np.array(offsets, np.int64), np.array(locations, np.int64)), path)
    marker.touch()


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
    generate(root, args.files, args.tiles)
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
