"""A million tiles: 500 files x 2,000 tiles, indexes only for the first 50 (what gets opened).

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/scale_bench.py [--files 500] [--tiles 2000] [--load]
Prints: open time with a warm manifest cache (target < 2 s), time to show a 100,000-tile selection
in grid and map, the longest event-loop stall (5 ms QTimer probe) over the whole run while the
remaining files are indexed in the background (target < 50 ms), and peak RSS (target < 800 MB).
`--load` keeps one other process busy on a core for the whole run (a second busy program);
`--decoder threads|processes` picks the thumbnail helpers (to compare them in the window);
`--trace` samples where the GUI thread was during stalls over 20 ms, per phase (opening,
selecting, scrolling, idle while indexing); beside the stall figure, the most CPU the GUI thread
spent between two probes (its own work, whatever else the machine runs).
TFR_BENCH_VERBOSE=1 lists when each stall over 40 ms happened.
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stalls import StallSampler  # noqa: E402


def generate(root: Path, files: int, tiles: int, indexed: int) -> None:
    import tfr_viewer as sf
    from _data import small_tile_dataset

    if not (root / ".complete").exists():
        small_tile_dataset(root, files, tiles, px=16, indexed=indexed)
        sf.Dataset(root).manifest()  # the warm manifest cache (counts of files without index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--indexed", type=int, default=50)
    parser.add_argument("--load", action="store_true", help="keep another core busy with a second process")
    parser.add_argument("--decoder", choices=("threads", "processes"),
                        help="thumbnail helpers on the other cores (default: the window's own choice)")
    parser.add_argument("--trace", action="store_true", help="sample where the GUI thread was during stalls over 20 ms")
    args = parser.parse_args()
    root = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir())) / f"tfr-bench-scale-{args.files}x{args.tiles}"
    t0 = time.perf_counter()
    generate(root, args.files, args.tiles, args.indexed)
    for stale in root.glob("*.index.npz"):  # indexes the previous run built in the background
        if int(stale.stem.split("_")[1].split(".")[0]) >= args.indexed:
            stale.unlink()
    print(f"dataset: {args.files} files x {args.tiles} tiles = {args.files * args.tiles:,} tiles; "
          f"{args.indexed} indexed (ready in {time.perf_counter() - t0:.1f} s)")

    load = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.load else None
    try:
        run(args, root)
    finally:
        if load is not None:
            load.kill()
            load.wait()


def run(args: argparse.Namespace, root: Path) -> None:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.core import thumb_decode
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    if args.decoder:
        thumb_decode.DEFAULT_MODE = args.decoder

    os.environ["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    clock = QElapsedTimer()
    clock.start()
    last = [0]
    stalls: list[int] = []

    events: list[tuple[int, str]] = []
    busy: list[float] = []  # the GUI thread's CPU time within each gap
    ticked = [time.perf_counter(), time.thread_time()]
    tracer = StallSampler(lambda: ticked[0]) if args.trace else None

    def probe() -> None:
        now, cpu = clock.elapsed(), time.thread_time()
        busy.append((cpu - ticked[1]) * 1000)
        ticked[:] = [time.perf_counter(), cpu]
        stalls.append(now - last[0])
        if now - last[0] > 40:
            events.append((now, f"stall {now - last[0]} ms"))
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(probe)

    def spin(seconds: float, until=None) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.001)

    loaded = []
    window.loaded.connect(lambda: loaded.append(time.perf_counter()))
    last[0], ticked[:] = clock.elapsed(), [time.perf_counter(), time.thread_time()]
    timer.start()
    if tracer is not None:
        tracer.phase = "opening"
        tracer.start()
    start = time.perf_counter()
    window.open_path(str(root))
    spin(30, lambda: loaded)
    listed = sum(1 for e in window.datasets.entries if e.count or e.listed_count)
    print(f"open with warm manifest: {loaded[0] - start:.2f} s to list {len(window.datasets.entries)} files "
          f"({listed} with tile counts) (target < 2 s)")
    events.append((clock.elapsed(), "opened"))
    if tracer is not None:
        tracer.phase = "selecting 50 files"
    filled: list[float] = []
    window.mapFilled.connect(lambda: filled.append(time.perf_counter()))
    t1 = time.perf_counter()
    QTimer.singleShot(0, lambda: window.browser.select_files(list(range(min(50, args.indexed)))))  # like a click
    spin(10, lambda: filled)
    print(f"select 50 indexed files: {len(window.browser.tile_model.file_of):,} tiles in grid and map in "
          f"{(filled[0] - t1) * 1000:.0f} ms (event loop running)")
    events.append((clock.elapsed(), "selected"))
    spin(1.0)
    events.append((clock.elapsed(), "scrolling"))
    if tracer is not None:
        tracer.phase = "scrolling"
    for _ in range(20):  # scroll through the grid like a user
        bar = window.grid.verticalScrollBar()
        bar.setValue(bar.value() + bar.maximum() // 25)
        spin(0.05)
    events.append((clock.elapsed(), "idle"))
    if tracer is not None:
        tracer.phase = "idle while indexing"
    spin(5.0)
    timer.stop()
    if tracer is not None:
        tracer.stop()
    if os.environ.get("TFR_BENCH_VERBOSE"):
        print(events)
    indexed_now = sum(1 for e in window.datasets.entries if e.state == "indexed")
    print(f"after ~7 s: {indexed_now} of {len(window.datasets.entries)} files indexed in the background")
    print(f"longest event-loop stall{' (another core kept busy)' if args.load else ''}: {max(stalls)} ms over {len(stalls)} probes; "
          f"99th percentile {sorted(stalls)[int(len(stalls) * 0.99)]} ms (target < 50 ms); "
          f"the GUI thread's longest work between two probes: {max(busy):.0f} ms of CPU; "
          f"load average {os.getloadavg()[0]:.2f}")
    if tracer is not None:
        print(tracer.report())
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (target < 800 MB)")
    window.close()


if __name__ == "__main__":
    main()
