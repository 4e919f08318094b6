"""Mosaic figures: the slide overview against thumbnail decodes, reopening it from the cache,
and the peak memory of building an overview of many tiles.

Usage: python benchmarks/mosaic_bench.py [--tiles 20000] [--px 256] [--rss-tiles 250000]
       [--rss-px 32] [--repeats 2] [--skip-rss] [--only SECTION]
The memory target is stated at a million tiles: `--only peak_rss --rss-tiles 1000000` (about
3 minutes on two cores, the file generated once); the default run stays under about 2 minutes.

Each section is a function of the parsed arguments that prints its lines and returns its
figures; `SECTIONS` lists them in order. A section for the window (pan/zoom frame times over
the mosaic) is added the same way: a function, an entry in `SECTIONS`, its options in `options`.

Data: generated once into the system temp folder (`TFR_BENCH_DIR` overrides), JPEG tiles on a
square grid whose step is the tile size (1:1). The memory run's file uses small real JPEGs
(32 px by default) so that it is generated in seconds; the overview's memory does not depend on
the tiles' size (its pixel size is capped), only on their count.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import tile_jpegs  # noqa: E402
from tfr_viewer.core.framing import frame_record  # noqa: E402
from tfr_viewer.core.images import decode_thumbnail, load_decoders  # noqa: E402
from tfr_viewer.core.index import IndexInfo, save_index  # noqa: E402
from tfr_viewer.core.records import make_example  # noqa: E402
from tfr_viewer.core.tfrecord import TFRecord  # noqa: E402

GRID_THUMB = 96  # the tile grid's default thumbnail size (gui/settings.py view/thumb_size)


def bench_root() -> Path:
    return Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))


def slide_file(tiles: int, px: int) -> Path:
    """One TFRecord of `tiles` distinct-looking JPEG tiles of `px` pixels on a square grid of
    step `px`, with its index; cached (a marker file says it is complete)."""
    folder = bench_root() / f"tfr-bench-mosaic-{tiles}x{px}"
    path = folder / "slide.tfrecords"
    marker = folder / ".complete"
    if marker.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    images = tile_jpegs(count=32, px=px, target_kb=max(1, 20 * px * px // (256 * 256)))
    side = int(np.ceil(np.sqrt(tiles)))
    offsets = np.empty((tiles, 2), np.int64)
    locations = np.empty((tiles, 2), np.int64)
    position = 0
    with open(path, "wb") as out:
        for t in range(tiles):
            x, y = px * (t % side) + px // 2, px * (t // side) + px // 2
            framed = frame_record(make_example({"image_raw": images[t % 32], "slide": "slide", "loc_x": x, "loc_y": y}))
            out.write(framed)
            offsets[t] = position, len(framed)
            locations[t] = x, y
            position += len(framed)
    save_index(IndexInfo(offsets, locations), path)
    marker.touch()
    return path


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux; `ru_maxrss` would carry the peak of
    the process that started this one across exec), else `ru_maxrss`."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def overview_vs_thumbnails(args: argparse.Namespace) -> dict:
    """Overview build (1/8 DCT decodes composed into one image) against decoding the same tiles
    as grid thumbnails, the same file read the same way, one thread each."""
    from tfr_viewer.core.mosaic import build_overview
    from tfr_viewer.core.overview import default_threads, tile_image_bytes

    path = slide_file(args.tiles, args.px)
    warm_page_cache(path)  # both sides read from memory
    load_decoders()
    tfr = TFRecord(path, create_index=False)
    locations = tfr.locations_array

    def thumbnails() -> None:
        for i in range(len(tfr)):
            decode_thumbnail(tile_image_bytes(tfr, i), GRID_THUMB)

    threads = default_threads()
    build = best_time(lambda: build_overview(str(path), locations, threads=threads), args.repeats)
    single = best_time(lambda: build_overview(str(path), locations, threads=1), args.repeats)
    thumbs = best_time(thumbnails, args.repeats)
    overview = build_overview(str(path), locations)
    n = len(tfr)
    print(f"slide: {n:,} tiles of {args.px} px JPEG, {path.stat().st_size / 1e6:.0f} MB; "
          f"overview {overview.width} x {overview.height} px; {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}")
    print(f"  overview build, {threads} thread(s)       {build:7.2f} s  {n / build:>9,.0f} tiles/s")
    print(f"  overview build, 1 thread         {single:7.2f} s  {n / single:>9,.0f} tiles/s")
    print(f"  grid thumbnails ({GRID_THUMB} px), 1 thread {thumbs:7.2f} s  {n / thumbs:>9,.0f} tiles/s")
    print(f"  ratio overview / thumbnails      {thumbs / build:7.1f} x   (target >= 3x; one thread each: "
          f"{thumbs / single:.1f} x)")
    return {"build_tiles_per_s": n / build, "thumb_tiles_per_s": n / thumbs, "ratio": thumbs / build,
            "ratio_one_thread": thumbs / single}


def reopen_from_cache(args: argparse.Namespace) -> dict:
    """The overview found in the per-user cache (key checked, entry read and verified)."""
    from tfr_viewer.core.mosaic import load_or_build_overview

    path = slide_file(args.tiles, args.px)
    locations = TFRecord(path, create_index=False).locations_array
    load_or_build_overview(str(path), locations)  # builds and writes the entry once
    reopen = best_time(lambda: load_or_build_overview(str(path), locations), 5)
    print(f"  reopen from cache                {reopen * 1e3:7.1f} ms  (target <= 200 ms)")
    return {"reopen_ms": reopen * 1e3}


def peak_rss(args: argparse.Namespace) -> dict:
    """Peak resident memory of a fresh process that builds the overview of a million tiles."""
    if args.skip_rss:
        return {}
    path = slide_file(args.rss_tiles, args.rss_px)
    child = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(path)], capture_output=True, text=True, check=True
    )
    before, after, seconds, shape = child.stdout.split()
    print(f"slide: {args.rss_tiles:,} tiles of {args.rss_px} px JPEG; overview {shape} px in {float(seconds):.0f} s")
    print(f"  peak RSS building the overview   {float(after):7.0f} MB  (process at start {float(before):.0f} MB; "
          "target < 800 MB)")
    return {"peak_rss_mb": float(after)}


def _rss_child(path: str) -> None:
    """Run in a fresh process: its peak RSS in MB before and after the build."""
    from tfr_viewer.core.mosaic import build_overview

    before = peak_rss_mb()
    start = time.perf_counter()
    locations = TFRecord(path, create_index=False).locations_array
    overview = build_overview(path, locations)
    seconds = time.perf_counter() - start
    after = peak_rss_mb()
    print(before, after, seconds, f"{overview.width}x{overview.height}")


SECTIONS: list[Callable[[argparse.Namespace], dict]] = [overview_vs_thumbnails, reopen_from_cache, peak_rss]


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=int, default=20000, help="tiles of the slide timed (default 20000)")
    parser.add_argument("--px", type=int, default=256, help="their size in pixels (default 256)")
    parser.add_argument("--rss-tiles", type=int, default=250_000,
                        help="tiles of the memory run (default 250000; the target is stated for 1000000)")
    parser.add_argument("--rss-px", type=int, default=32, help="their size in pixels (default 32)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs, best kept (default 2)")
    parser.add_argument("--skip-rss", action="store_true", help="leave out the million-tile memory run")
    parser.add_argument("--only", choices=[f.__name__ for f in SECTIONS], help="run one section")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = options().parse_args()
    if args.rss_child:
        _rss_child(args.rss_child)
        return
    os.environ.setdefault("TFR_VIEWER_CACHE_DIR", str(bench_root() / "tfr-bench-mosaic-cache"))
    for section in SECTIONS:
        if args.only in (None, section.__name__):
            section(args)


if __name__ == "__main__":
    main()
