"""Time from File -> Export selected tiles to the dialog on screen, with 100,000 tiles selected.

    QT_QPA_PLATFORM=offscreen python benchmarks/export_dialog_bench.py [--tiles 100000]

Prints the dialog's opening time (selection ranges -> keys array -> estimate from the indexes)
beside the per-tile listing the window used before (`Browser.selected_keys`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402

FILES = 10


def dataset(tiles: int) -> Path:
    """FILES indexed TFRecords of small tiles (the dialog reads no tile: their size does not matter)."""
    root = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir())) / f"tfr-bench-export-{tiles}"
    return small_tile_dataset(root, FILES, tiles // FILES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiles", type=int, default=100_000)
    args = parser.parse_args()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    root = dataset(args.tiles)
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1280, 800)
    window.show()
    loop = QEventLoop()
    window.indexingFinished.connect(loop.quit)
    window.open_path(str(root))
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    window.browser.select_files(list(range(len(window.datasets.entries))))
    settle = QEventLoop()  # the map's points and the first thumbnails: measured apart from them
    window.mapFilled.connect(settle.quit)
    QTimer.singleShot(60_000, settle.quit)
    settle.exec()
    window.grid.selectAll()
    for _ in range(50):
        app.processEvents()
        time.sleep(0.02)
    selected = window.browser._selected_count()

    from tfr_viewer.core.export_selection import estimate_export
    from tfr_viewer.gui.export_dialog import selected_keys_array

    print(f"{selected:,} tiles selected in {len(window.datasets.entries)} files, "
          f"{len(window.grid.selectionModel().selection())} selection range(s)")
    started = time.perf_counter()
    window.grid.selectionModel().selection()
    print(f"  selection() {1000 * (time.perf_counter() - started):,.1f} ms")
    started = time.perf_counter()
    keys = selected_keys_array(window.grid.selectionModel(), window.browser.tile_model)
    listed = time.perf_counter()
    estimate_export(window.datasets.entries, keys)
    print(f"  keys array {1000 * (listed - started):,.1f} ms, estimate {1000 * (time.perf_counter() - listed):,.1f} ms")
    started = time.perf_counter()
    dialog = window.tools.export_selected()
    opened = time.perf_counter() - started
    app.processEvents()
    print(f"export dialog open (keys array + estimate): {opened * 1000:,.1f} ms; says: {dialog.summary.text()}")
    dialog.reject()
    started = time.perf_counter()
    keys = window.browser.selected_keys()
    print(f"per-tile listing as before (Browser.selected_keys, {len(keys):,} keys): "
          f"{(time.perf_counter() - started) * 1000:,.1f} ms")
    window.close()


if __name__ == "__main__":
    main()
