"""Window figures on a generated dataset of 100,000 tiles (offscreen).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/gui_bench.py [--files 50] [--tiles 2000]
Prints: open_path -> first screen of thumbnails painted; map fill for one 2,000-tile file and for
all tiles; longest event-loop stall (5 ms QTimer probe) while the index builder runs; peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--tiles", type=int, default=2000)
    args = parser.parse_args()
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    indexed = base / f"tfr-bench-gui-{args.files}x{args.tiles}"
    small_tile_dataset(indexed, args.files, args.tiles, px=64, stride=64)

    from PySide6.QtCore import QElapsedTimer, QPoint, QTimer
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    app.processEvents()

    def wait_until(predicate, timeout=60.0) -> None:
        end = time.perf_counter() + timeout
        while not predicate():
            app.processEvents()
            if time.perf_counter() > end:
                raise SystemExit("timed out")
            time.sleep(0.001)

    def first_screen_ready() -> bool:
        grid, seen = window.grid, 0
        for y in range(5, grid.viewport().height(), grid.gridSize().height()):
            for x in range(5, grid.viewport().width(), grid.gridSize().width()):
                index = grid.indexAt(QPoint(x, y))
                if index.isValid():
                    seen += 1
                    if not window.browser.tile_model.has_thumbnail(index.row()):
                        return False
        return seen > 0

    total_tiles = args.files * args.tiles
    start = time.perf_counter()
    window.open_path(str(indexed))
    wait_until(lambda: window.browser.tile_model.rowCount() > 0)
    wait_until(first_screen_ready)
    window.grid.viewport().repaint()
    first = time.perf_counter() - start
    print(f"dataset: {args.files} files x {args.tiles} tiles = {total_tiles:,} tiles with indexes")
    print(f"open_path -> first screen of thumbnails painted: {first * 1000:.0f} ms (target <= 300 ms)")

    for label, ids in (("one file", [1]), ("all files", list(range(args.files)))):
        filled: list[bool] = []
        window.mapFilled.connect(lambda: filled.append(True))
        t0 = time.perf_counter()
        window.browser.select_files(ids)
        wait_until(lambda: filled)
        window.map_panel.map.grab()  # forces a real render of every point
        elapsed = time.perf_counter() - t0
        print(f"map + grid filled for {label} ({window.map_panel.map.point_count():,} points): {elapsed * 1000:.0f} ms "
              "(target <= 200 ms)")
    wait_until(lambda: not window.jobs.busy())

    unindexed = base / "tfr-bench-gui-noindex"
    shutil.rmtree(unindexed, ignore_errors=True)
    small_tile_dataset(unindexed, 10, args.tiles, px=64, indexed=0, stride=64)
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
    t0 = time.perf_counter()
    window.open_path(str(unindexed))
    wait_until(lambda: window.datasets.index_job is not None)
    wait_until(lambda: window.datasets.index_job is None and not window.jobs.busy())
    timer.stop()
    print(f"index builder over 10 x {args.tiles} tiles without index: {time.perf_counter() - t0:.2f} s; "
          f"longest event-loop stall {max(stalls):.0f} ms over {len(stalls)} probes (target < 50 ms)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB (target < 600 MB)")
    window.close()


if __name__ == "__main__":
    main()
