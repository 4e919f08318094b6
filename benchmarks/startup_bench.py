"""Start-up: process start -> first paint of the main window, ours against the Qt floor.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/startup_bench.py [--runs 7] [--files 50] [--tiles 2000] [DIR]

- floor: a script that imports PySide6, creates the QApplication and shows an empty
  QMainWindow, until that window's first paint;
- ours: `python -m tfr_viewer DIR` until the main window's first paint (the app's
  `TFR_VIEWER_STARTUP_PROBE` hook prints a line at it, builds the rest of the window, prints
  `assembled`, opens DIR and prints `first-screen` once the visible thumbnails are painted,
  with an empty thumbnail cache, then `map-ready` once the slide view is built after that:
  those figures are printed too).

Runs alternate (floor, ours, floor, ...) so both see the same machine; medians are printed,
the ratio ours / floor last (target <= 1.3). Each run is a fresh process; the time is taken by
this script from launching the process to reading the child's line, so both sides pay the same
interpreter start. Without DIR, gui_bench's 100,000 indexed tiles are generated in the temp folder.
The package is byte-compiled first, as an installed wheel is (a source tree under
PYTHONDONTWRITEBYTECODE would otherwise compile every module on each start).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAINTED = "first-paint"

FLOOR_SCRIPT = f"""
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, done)
        return False

def done():
    print("{PAINTED}", flush=True)
    app.quit()

app = QApplication(sys.argv)
window = QMainWindow()
probe = FirstPaint()
window.installEventFilter(probe)
window.resize(1440, 900)
window.show()
app.exec()
"""


def time_to_lines(command: list[str], env: dict[str, str], timeout: float = 60.0) -> dict[str, float]:
    """Seconds from launching `command` to each line it prints (PAINTED, and ours `assembled`)."""
    start = time.perf_counter()
    seen: dict[str, float] = {}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.setdefault(line.strip(), time.perf_counter() - start)
        if PAINTED not in seen:
            raise SystemExit(f"no first paint reported by: {' '.join(command)} (exit {proc.wait()})")
        return seen
    finally:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", help="folder to open (default: a generated one)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--tiles", type=int, default=2000)
    args = parser.parse_args()
    if args.dir:
        folder = Path(args.dir)
    else:
        from _data import small_tile_dataset

        base = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir()))
        folder = small_tile_dataset(base / f"tfr-bench-gui-{args.files}x{args.tiles}", args.files, args.tiles,
                                    px=64, stride=64)  # gui_bench's dataset: 100,000 indexed tiles
    from _data import compile_package

    compile_package()  # as an installed wheel has it (importing _data did it already: a quick check)

    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["TFR_VIEWER_STARTUP_PROBE"] = "1"
    env["TFR_VIEWER_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tfr-startup-config-")
    floor_cmd = [sys.executable, "-c", FLOOR_SCRIPT]
    ours_cmd = [sys.executable, "-m", "tfr_viewer", str(folder)]
    time_to_lines(floor_cmd, env)  # warm the OS file cache for both before timing
    time_to_lines(ours_cmd, env)
    floors, ours, assembled, screens, maps = [], [], [], [], []
    for _ in range(args.runs):
        floors.append(time_to_lines(floor_cmd, env)[PAINTED])
        env["TFR_VIEWER_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfr-startup-cache-")  # a new user: no thumbnails cached
        lines = time_to_lines(ours_cmd, env)
        ours.append(lines[PAINTED])
        if "assembled" in lines:  # the window's parts built after the first paint (numpy, core, pyqtgraph)
            assembled.append(lines["assembled"])
        if "first-screen" in lines:
            screens.append(lines["first-screen"] - lines[PAINTED])
        if "map-ready" in lines:
            maps.append(lines["map-ready"] - lines[PAINTED])
    floor_ms, ours_ms = 1000 * statistics.median(floors), 1000 * statistics.median(ours)
    print(f"opening: {folder}; load average {os.getloadavg()[0]:.2f}")
    print(f"floor (PySide6 + QApplication + empty QMainWindow painted), median of {args.runs}: {floor_ms:.0f} ms "
          f"(runs: {', '.join(f'{1000 * t:.0f}' for t in floors)})")
    print(f"ours  (python -m tfr_viewer DIR -> main window painted),   median of {args.runs}: {ours_ms:.0f} ms "
          f"(runs: {', '.join(f'{1000 * t:.0f}' for t in ours)})")
    if assembled:
        print(f"ours, the window assembled after that paint (browser, workers; not the map), median: "
              f"{1000 * statistics.median(assembled):.0f} ms")
    if screens:
        print(f"ours, first screen of thumbnails painted (empty thumbnail cache), median: "
              f"{1000 * statistics.median(screens):.0f} ms after the first paint (target <= 500 ms)")
    if maps:
        print(f"ours, slide view (pyqtgraph) built after the first screen, median: "
              f"{1000 * statistics.median(maps):.0f} ms after the first paint")
    print(f"ratio ours / floor: {ours_ms / floor_ms:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
