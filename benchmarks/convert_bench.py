"""Images/s converting 20,000 JPEG tiles of ~20 KB into TFRecords with 1 and 2 worker processes.

Usage: python benchmarks/convert_bench.py [--images 20000] [--slides 20] [--reencode 2000]
Keep-bytes mode (the default conversion) on every image, then JPEG re-encoding (quality 85) on
the first `--reencode` images, where the per-image work is heavy enough for a pool to pay off.
The source folders are generated once (cached in the temp folder); the page cache is warm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import tile_jpegs  # noqa: E402
from tfr_viewer.core.writer import write_tfrecords_multi  # noqa: E402


def generate(root: Path, images: int, slides: int) -> None:
    marker = root / ".complete"
    if marker.exists():
        return
    tiles = tile_jpegs(64)
    per_slide = images // slides
    for s in range(slides):
        folder = root / f"slide_{s:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(per_slide):
            (folder / f"tile_{256 * (t % 50)}-{256 * (t // 50)}.jpg").write_bytes(tiles[(s + t) % len(tiles)])
    marker.touch()


def run(src: Path, base: Path, label: str, **options) -> None:
    for workers in (1, 2):
        dest = base / f"tfr-bench-convert-out-{workers}"
        shutil.rmtree(dest, ignore_errors=True)
        start = time.perf_counter()
        report = write_tfrecords_multi(src, dest, workers=workers, **options)
        elapsed = time.perf_counter() - start
        print(f"{label:<28} workers={workers}: {report.tiles:>6} tiles in {elapsed:6.2f} s = "
              f"{report.tiles / elapsed:>8,.0f} images/s")
        shutil.rmtree(dest, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--slides", type=int, default=20)
    parser.add_argument("--reencode", type=int, default=2_000, help="images for the re-encode run (0: skip)")
    args = parser.parse_args()
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    src = base / f"tfr-bench-convert-src-{args.images}x{args.slides}"
    generate(src, args.images, args.slides)
    size_mb = sum(p.stat().st_size for p in src.rglob("*.jpg")) / 1e6
    print(f"source: {args.images} JPEG tiles in {args.slides} folders, {size_mb:.0f} MB "
          f"({size_mb * 1e3 / args.images:.1f} KB each), {os.cpu_count()} CPU(s)")
    for p in src.rglob("*.jpg"):  # warm the page cache
        p.read_bytes()
    run(src, base, "keep bytes (JPEG as stored)")
    if args.reencode:
        per_slide = args.images // args.slides
        slides = [f"slide_{s:03d}" for s in range(max(1, args.reencode // per_slide))]
        run(src, base, "re-encode JPEG quality 85", reencode=85, slides=slides)


if __name__ == "__main__":
    main()
