"""The slide view under load (offscreen): pan and zoom over 100,000 tiles of several slides.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/mosaic_view_bench.py [--files 4] [--tiles 25000]
       [--million]
Prints: map filled and overviews shown (built, then again from the disk cache); frame times
(p50, p95, max) of a scripted pan/zoom from the whole view down to tile thumbnails and back,
each frame a full repaint of the map; the longest event-loop stall (5 ms QTimer probe) during
it, thumbnails arriving meanwhile; RSS. With --million: 10 files x 100,000 tiles, RSS after the
map and every overview are shown and after zooming in.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402

STRIDE = 256


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc where there is one."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--tiles", type=int, default=25_000)
    parser.add_argument("--million", action="store_true", help="10 files x 100,000 tiles, memory only")
    args = parser.parse_args()
    if args.million:
        args.files, args.tiles = 10, 100_000
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    root = base / f"tfr-bench-mosaic-{args.files}x{args.tiles}"
    t0 = time.perf_counter()
    small_tile_dataset(root, args.files, args.tiles, px=64 if not args.million else 16, stride=STRIDE)
    print(f"dataset: {args.files} files x {args.tiles:,} tiles = {args.files * args.tiles:,} tiles "
          f"(ready in {time.perf_counter() - t0:.1f} s)")
    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    cache = tempfile.mkdtemp()
    os.environ["TFR_VIEWER_CACHE_DIR"] = cache

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    app = QApplication.instance() or QApplication([])

    def wait_until(predicate, timeout=1800.0) -> None:
        end = time.perf_counter() + timeout
        while not predicate():
            app.processEvents()
            if time.perf_counter() > end:
                raise SystemExit("timed out")
            time.sleep(0.001)

    def open_all(window) -> tuple[float, float]:
        """Seconds until the map is filled, and until every slide's overview is shown."""
        filled: list[bool] = []
        window.mapFilled.connect(lambda: filled.append(True))
        window.open_path(str(root))
        wait_until(lambda: window.browser.tile_model.rowCount() > 0)
        filled.clear()
        start = time.perf_counter()
        window.browser.select_files(list(range(args.files)))
        wait_until(lambda: filled)
        mapped = time.perf_counter() - start
        view = window.map_panel.map
        wait_until(lambda: all(item.has_overview() for item in view.slide_items()))
        return mapped, time.perf_counter() - start

    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    mapped, shown = open_all(window)
    view = window.map_panel.map
    print(f"map filled ({view.point_count():,} tiles in {len(view.slide_items())} slides): {mapped * 1000:.0f} ms; "
          f"every overview built and shown: {shown:.1f} s")
    print(f"RSS with the map and every overview shown: {rss_mb():.0f} MB")
    window.close()
    window.deleteLater()
    app.processEvents()

    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    mapped, shown = open_all(window)
    view = window.map_panel.map
    print(f"opened again: map filled {mapped * 1000:.0f} ms; overviews from the cache shown after {shown * 1000:.0f} ms")

    box = view.getPlotItem().getViewBox()
    frame = view.slide_items()[min(1, len(view.slide_items()) - 1)].frame
    x0, y0, x1, y1 = frame.placed_bounds
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    steps = []
    for k in range(30):  # zoom in towards a tile of the second slide, panning a little
        steps.append(("zoom", 0.82, (centre[0] + 40 * k, centre[1])))
    for k in range(30):  # pan across tiles at full detail
        steps.append(("pan", 0.0, (STRIDE * 0.7, STRIDE * 0.3)))
    for k in range(30):  # and back out
        steps.append(("zoom", 1 / 0.82, (centre[0], centre[1])))
    frames: list[float] = []
    stalls: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def probe() -> None:
        now = clock.elapsed()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(probe)
    timer.start()
    viewport = view.viewport()
    detail_frames = 0
    for kind, scale, where in steps:
        if kind == "zoom":
            box.scaleBy((scale, scale), center=where)
        else:
            box.translateBy(x=where[0], y=where[1])
        t = time.perf_counter()
        viewport.repaint()
        frames.append((time.perf_counter() - t) * 1000)
        detail_frames += bool(len(view.visible_tiles()[0]))
        end = time.perf_counter() + 0.03  # the event loop runs between frames: thumbnails arrive
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)
    timer.stop()
    ordered = np.sort(frames)
    print(f"pan/zoom over {view.point_count():,} tiles: {len(frames)} frames ({detail_frames} showing tile "
          f"thumbnails, {len(view.tile_images):,} cached): p50 {np.percentile(ordered, 50):.1f} ms, "
          f"p95 {np.percentile(ordered, 95):.1f} ms, max {ordered[-1]:.1f} ms (target p95 <= 33 ms)")
    print(f"longest event-loop stall while panning and zooming: {max(stalls):.0f} ms over {len(stalls)} probes "
          "(target <= 50 ms)")
    print(f"RSS now: {rss_mb():.0f} MB; peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          "(target < 800 MB at 1,000,000 tiles)")
    window.close()


if __name__ == "__main__":
    main()
