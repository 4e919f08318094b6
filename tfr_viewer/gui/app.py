"""QApplication setup and the `tfr-viewer` GUI entry (`run_gui`)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


def app_icon():
    """The application icon (a QIcon) from the package resources (SVG plus PNG sizes)."""
    from importlib import resources

    from PySide6.QtGui import QIcon  # a few ms of enums: after the first paint

    from ..resources import icon_path

    icon = QIcon()
    for size in (32, 64, 256):
        with resources.as_file(icon_path(size)) as path:
            if path.is_file():
                icon.addFile(str(path))
    return icon


def make_app(argv: list[str] | None = None, icon: bool = True) -> QApplication:
    """The application; `icon=False` leaves the icon (files to read) for after the first paint."""
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName("tfr-viewer")
    app.setOrganizationName("tfr-viewer")
    if icon:
        app.setWindowIcon(app_icon())
    return app


def run_gui(
    paths: list[str],
    demo: bool = False,
    fresh_settings: bool = False,
    screenshot: str | None = None,
    quit_after_load: bool = False,
    read_only: bool = False,
    annotations: str | None = None,
) -> int:
    """Open the window (on `paths`, or the demo dataset, with an annotations CSV) and run the
    event loop. `fresh_settings`: defaults for this run, the saved ones kept; `read_only`: nothing
    written beside the user's files.

    The window paints first as a shell (Qt only); the parts that need numpy, the core and
    pyqtgraph are imported and built right after that first paint, then the dataset is opened."""
    app = make_app(icon=False)
    from .main_window import MainWindow
    from .settings import Settings

    if read_only:
        from ..core.read_only import set_read_only  # a small module: no numpy, no core

        set_read_only(True)
    window = MainWindow(Settings.for_this_run() if fresh_settings else Settings(), assemble=bool(screenshot))
    if screenshot:  # a reproducible picture: default size and layout, whatever was saved
        window.resize(1440, 900)
        window.appearance.reset_layout()
    probe = bool(os.environ.get("TFR_VIEWER_STARTUP_PROBE"))

    def start() -> None:
        if probe:  # benchmarks/startup_bench.py: the time of the first paint, then of the assembled window
            print("first-paint", flush=True)
        app.setWindowIcon(app_icon())
        window.assemble(map_later=True)  # the slide view after the first screen of thumbnails
        window.errors.install_excepthook()
        if probe:
            print("assembled", flush=True)
            if not paths:
                QApplication.instance().quit()
                return
            _quit_at_first_screen(window)
        if screenshot or quit_after_load:
            _finish_after_load(window, screenshot, quit_after_load)
        open_at_start(window, paths, demo, annotations)
        if not (demo or paths) and (screenshot or quit_after_load):
            QTimer.singleShot(500, window.loaded.emit)

    _after_first_paint(window, start)
    window.show()
    _close_on_terminal_signals(window)
    status = app.exec()
    window.shutdown()  # closed by the window manager or quit(): stop the workers all the same
    from .workers import wait_for_orphans

    if not wait_for_orphans(2000):
        # a worker is stuck in a read the OS does not interrupt (a FIFO, a hung network disk):
        # Python's teardown would destroy its running thread, which aborts the process
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def open_at_start(window, paths: list[str], demo: bool = False, annotations: str | None = None) -> None:
    """What the command line asked the window to open: the demo or the paths, and annotations."""
    if demo:
        window.tools.open_demo()
    elif paths:
        window.open_paths(paths)
    if annotations:
        window.fields.load_annotations(annotations)


PROBE_GIVE_UP_MS = 30_000
PROBE_POLL_MS = 10
FIRST_PAINT_WAIT_MS = 300  # a window that is never painted (minimised, hidden) is assembled anyway


class _FirstPaint(QObject):
    """Calls `callback` once, from the event loop, after the window's first paint event."""

    def __init__(self, window: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._callback, self._done = window, callback, False
        window.installEventFilter(self)
        QTimer.singleShot(FIRST_PAINT_WAIT_MS, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._run)  # once this paint is done
        return False

    def _run(self) -> None:
        if not self._done:
            self._done = True
            self._window.removeEventFilter(self)
            self._callback()


def _after_first_paint(window: QWidget, callback: Callable[[], None]) -> None:
    window._first_paint = _FirstPaint(window, callback)


def _quit_at_first_screen(window) -> None:
    """Prints `first-screen` once the visible thumbnails are painted, then `map-ready` once the
    slide view is built after it, and quits (the probe; it gives up after PROBE_GIVE_UP_MS)."""
    from .map_later import visible_thumbnails_ready

    state = {"screen": False, "map": window.map_panel is not None}

    def maybe_quit() -> None:
        if state["screen"] and state["map"]:
            print("map-ready", flush=True)
            QApplication.instance().quit()

    def check(_count: int = 0) -> None:
        if not state["screen"] and visible_thumbnails_ready(window):
            state["screen"] = True
            window.grid.viewport().repaint()
            print("first-screen", flush=True)
            maybe_quit()

    def map_ready() -> None:
        state["map"] = True
        maybe_quit()

    window.mapPanelReady.connect(map_ready)
    window.browser.tile_model.thumbnailsArrived.connect(check)
    # The last thumbnails may arrive before the grid has laid its items out (a relayout after
    # its columns were fitted to the width): look again now and then, not only on arrivals.
    poll = QTimer(window)
    poll.timeout.connect(check)
    poll.start(PROBE_POLL_MS)
    QTimer.singleShot(PROBE_GIVE_UP_MS, QApplication.instance().quit)


def _close_on_terminal_signals(window) -> None:
    """Ctrl+C in the terminal (SIGINT) or SIGTERM closes the window like its close button: the
    workers and the indexing processes are stopped, and settings are saved. Python runs signal
    handlers only between bytecodes, so a timer wakes it now and then inside Qt's event loop."""
    def close(*_args) -> None:
        window.ask_before_quit = False  # a signal to stop is the answer already
        window.close()
        QApplication.instance().quit()

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    waker = QTimer(window)
    waker.timeout.connect(lambda: None)
    waker.start(250)


def _finish_after_load(window, screenshot: str | None, quit_after: bool) -> None:
    """Once loaded and the first thumbnails are painted (or after 20 s), grab and/or quit."""
    from .map_later import visible_thumbnails_ready

    state = {"done": False}

    def finish(gave_up: bool = False) -> None:
        if state["done"]:
            return
        state["done"] = True
        if gave_up:
            print("the first thumbnails did not settle within 20 s; taking the window as it is", file=sys.stderr)
        if screenshot:
            window.grab().save(screenshot)
            print(f"screenshot saved: {screenshot}", flush=True)  # for scripts waiting on it
        if quit_after:
            window.close()
            QApplication.instance().quit()

    def poll() -> None:
        if state["done"]:
            return
        if window.jobs.busy() or not visible_thumbnails_ready(window):
            state["confirmed"] = False
            QTimer.singleShot(100, poll)
        elif not state.get("confirmed"):
            # paint once off-screen: rows the layout only now shows get requested, then look again
            window.grab()
            state["confirmed"] = True
            QTimer.singleShot(150, poll)
        else:
            finish()

    def on_loaded() -> None:
        QTimer.singleShot(100, poll)

    window.loaded.connect(on_loaded)
    QTimer.singleShot(20_000, lambda: finish(gave_up=True))
