"""The grid while the window is resized, on a generated dataset of 100,000 tiles (offscreen).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/resize_bench.py [--files 50] [--tiles 2000]
Prints, for a sweep of window widths from 1024 to 1440 px with every tile in the grid: the time
from resize to the grid laid out and painted (median and worst), and whether the columns fill
the width at each step (the widest gutter left at the right, in px).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--tiles", type=int, default=2000)
    args = parser.parse_args()
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    folder = small_tile_dataset(base / f"tfr-bench-gui-{args.files}x{args.tiles}", args.files, args.tiles, px=64, stride=64)

    from PySide6.QtWidgets import QApplication

    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1024, 700)
    window.appearance.reset_layout()
    window.show()

    def wait_until(predicate, timeout: float = 120.0) -> None:
        end = time.perf_counter() + timeout
        while not predicate():
            app.processEvents()
            if time.perf_counter() > end:
                raise SystemExit("timed out")
            time.sleep(0.001)

    window.open_path(str(folder))
    wait_until(lambda: window.browser.tile_model.rowCount() > 0 and not window.jobs.busy())
    window.browser.select_files(list(range(args.files)))
    wait_until(lambda: window.browser.tile_model.rowCount() == args.files * args.tiles and not window.jobs.busy())
    grid = window.grid
    times, gutters = [], []
    for width in range(1024, 1441, 16):
        t0 = time.perf_counter()
        window.resize(width, 700)
        app.processEvents()
        grid.viewport().repaint()
        times.append(time.perf_counter() - t0)
        cell = grid.gridSize().width()
        gutters.append(grid.viewport().width() - (grid.viewport().width() // cell) * cell)
    print(f"dataset: {args.files} files x {args.tiles} tiles = {args.files * args.tiles:,} tiles in the grid")
    print(f"resize -> grid laid out and painted, {len(times)} widths 1024..1440 px: "
          f"median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms")
    print(f"widest empty gutter at the right of the grid: {max(gutters)} px (columns spread over the width)")
    window.close()


if __name__ == "__main__":
    main()
