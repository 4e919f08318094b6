"""Window figures on a generated dataset of 100,000 tiles (offscreen).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/gui_bench.py [--files 50] [--tiles 2000] [--load]
Prints: open_path -> first screen of thumbnails painted (empty thumbnail cache); the same dataset
in a new window -> first screen from the persistent thumbnail cache, counted from the file list;
map fill for one 2,000-tile file and for all tiles; the longest event-loop stall (5 ms QTimer
probe) in each phase: opening, selecting 100,000 tiles, filtering them by a map region and by
slide name, scrolling the grid, indexing 10 files without index; peak RSS.
`--load` keeps one other process busy on a core for the whole run (a second busy program);
`--decoder threads|processes` picks the thumbnail helpers (to compare them in the window);
`--trace` samples where the GUI thread was during stalls over 20 ms, per phase. Beside each
stall figure: the most CPU the GUI thread spent between two probes (its own work: a stall much
longer than that waited for the CPU or the GIL, e.g. on a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import small_tile_dataset  # noqa: E402
from _stalls import StallSampler  # noqa: E402

BUSY_LOOP = "while True: pass"


def start_load() -> subprocess.Popen:
    """One process spinning on a core until killed."""
    return subprocess.Popen([sys.executable, "-c", BUSY_LOOP])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--load", action="store_true", help="keep another core busy with a second process")
    parser.add_argument("--decoder", choices=("threads", "processes"),
                        help="thumbnail helpers on the other cores (default: the window's own choice)")
    parser.add_argument("--trace", action="store_true",
                        help="sample where the GUI thread was during stalls over 20 ms, per phase")
    args = parser.parse_args()
    base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
    indexed = base / f"tfr-bench-gui-{args.files}x{args.tiles}"
    small_tile_dataset(indexed, args.files, args.tiles, px=64, stride=64)
    load = start_load() if args.load else None
    try:
        run(args, base, indexed)
    finally:
        if load is not None:
            load.kill()
            load.wait()


def run(args: argparse.Namespace, base: Path, indexed: Path) -> None:
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.core import thumb_decode
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.map_later import visible_thumbnails_ready
    from tfr_viewer.gui.settings import Settings

    if args.decoder:
        thumb_decode.DEFAULT_MODE = args.decoder

    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    os.environ["TFR_VIEWER_CACHE_DIR"] = tempfile.mkdtemp()  # an empty thumbnail cache for the first open
    app = QApplication.instance() or QApplication([])

    def new_window() -> MainWindow:
        window = MainWindow(Settings(fresh=True), dialogs=False)
        window.resize(1440, 900)
        window.show()
        app.processEvents()
        return window

    def wait_until(predicate, timeout=60.0) -> None:
        end = time.perf_counter() + timeout
        while not predicate():
            app.processEvents()
            if time.perf_counter() > end:
                import traceback

                traceback.print_stack()
                raise SystemExit(f"timed out; jobs busy: {window.jobs.busy()}, "
                                 f"rows: {window.browser.tile_model.rowCount()}")
            time.sleep(0.001)

    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]
    stalls: list[float] = []
    busy: list[float] = []  # the GUI thread's CPU time within each gap (its own work, whatever the load)
    ticked = [time.perf_counter(), time.thread_time()]

    def probe() -> None:
        now, cpu = clock.elapsed(), time.thread_time()
        stalls.append(now - last[0])
        busy.append((cpu - ticked[1]) * 1000)
        ticked[:] = [time.perf_counter(), cpu]
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(probe)
    phases: list[tuple[str, float, int, float]] = []
    tracer = StallSampler(lambda: ticked[0]) if args.trace else None
    if tracer is not None:
        tracer.start()

    def phase(name: str, work) -> None:
        """Run `work` with the probe on; note the longest stall."""
        stalls.clear()
        busy.clear()
        last[0], ticked[:] = clock.elapsed(), [time.perf_counter(), time.thread_time()]
        if tracer is not None:
            tracer.phase = name
        timer.start()
        work()
        timer.stop()
        if tracer is not None:
            tracer.phase = ""  # between phases the probe is off: not a stall
        phases.append((name, max(stalls, default=0), len(stalls), max(busy, default=0)))

    window = new_window()
    total_tiles = args.files * args.tiles
    first: list[float] = []

    def open_first() -> None:
        start = time.perf_counter()
        window.open_path(str(indexed))
        wait_until(lambda: window.browser.tile_model.rowCount() > 0)
        wait_until(lambda: visible_thumbnails_ready(window))
        window.grid.viewport().repaint()
        first.append(time.perf_counter() - start)

    phase("opening 100,000 tiles to the first screen", open_first)
    print(f"dataset: {args.files} files x {args.tiles} tiles = {total_tiles:,} tiles with indexes"
          + (" (another core kept busy)" if args.load else ""))
    print(f"open_path -> first screen of thumbnails painted (empty cache): {first[0] * 1000:.0f} ms (target <= 300 ms)")

    for label, ids in (("one file", [1]), ("all files", list(range(args.files)))):
        filled: list[bool] = []
        window.mapFilled.connect(lambda: filled.append(True))
        elapsed: list[float] = []

        def select(ids=ids, filled=filled, elapsed=elapsed) -> None:
            t0 = time.perf_counter()
            window.browser.select_files(ids)
            wait_until(lambda: filled)
            window.map_panel.map.grab()  # forces a real render of every point
            elapsed.append(time.perf_counter() - t0)

        phase(f"selecting {label}", select)
        print(f"map + grid filled for {label} ({window.map_panel.map.point_count():,} points): "
              f"{elapsed[0] * 1000:.0f} ms (target <= 200 ms)")
    wait_until(lambda: not window.jobs.busy())

    def filter_region() -> None:
        rows = np.arange(0, total_tiles, 3, dtype=np.int64)  # a third of the tiles, as a drawn region would
        window.browser.apply_region(rows)
        spin(app, 0.3)
        window.browser.clear_region()
        spin(app, 0.3)

    phase("filtering 100,000 tiles by a map region and back", filter_region)

    def filter_slides() -> None:
        for text in ("s", "sl", "slide_00", "slide_001", "slide_00", ""):  # typed, then erased
            window.slide_filter.setText(text)
            spin(app, 0.15)

    phase("filtering by slide name (typing)", filter_slides)

    def scroll() -> None:
        bar = window.grid.verticalScrollBar()
        for _ in range(25):
            bar.setValue(bar.value() + max(1, bar.maximum() // 40))
            spin(app, 0.05)
        spin(app, 0.5)

    phase("scrolling the grid", scroll)

    unindexed = base / "tfr-bench-gui-noindex"
    shutil.rmtree(unindexed, ignore_errors=True)
    small_tile_dataset(unindexed, 10, args.tiles, px=64, indexed=0, stride=64)
    index_time: list[float] = []

    def index() -> None:
        t0 = time.perf_counter()
        window.open_path(str(unindexed))
        wait_until(lambda: window.datasets.index_job is not None)
        wait_until(lambda: window.datasets.index_job is None and not window.jobs.busy())
        index_time.append(time.perf_counter() - t0)

    phase(f"indexing 10 x {args.tiles} tiles without index", index)
    print(f"index builder over 10 x {args.tiles} tiles without index: {index_time[0]:.2f} s")
    window.close()

    again = new_window()  # a new window, as after a restart: only the persistent cache is warm
    listed: list[float] = []
    again.loaded.connect(lambda: listed.append(time.perf_counter()))
    t0 = time.perf_counter()
    again.open_path(str(indexed))
    wait_until(lambda: listed and again.browser.tile_model.rowCount() > 0)
    wait_until(lambda: visible_thumbnails_ready(again))
    again.grid.viewport().repaint()
    done = time.perf_counter()
    print(f"reopened in a new window -> first screen from the thumbnail cache: {(done - listed[0]) * 1000:.0f} ms "
          f"after the file list ({(done - t0) * 1000:.0f} ms after open_path) (target <= 100 ms)")
    again.close()

    for name, longest, probes, cpu in phases:
        print(f"longest event-loop stall while {name}: {longest:.0f} ms over {probes} probes "
              f"(the GUI thread's longest work between two probes: {cpu:.0f} ms of CPU)")
    print(f"longest event-loop stall of all phases: {max(p[1] for p in phases):.0f} ms (target <= 50 ms), "
          f"longest GUI-thread work {max(p[3] for p in phases):.0f} ms of CPU; load average {os.getloadavg()[0]:.2f}")
    if tracer is not None:
        tracer.stop()
        print(tracer.report())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB (target < 600 MB)")


def spin(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


if __name__ == "__main__":
    main()
