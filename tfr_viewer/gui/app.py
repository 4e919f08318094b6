"""QApplication setup and the `tfr-viewer` GUI entry (`run_gui`)."""

from __future__ import annotations

import os
import signal
import sys
from importlib import resources

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..resources import icon_path


def app_icon() -> QIcon:
    """The application icon from the package resources (SVG plus PNG sizes)."""
    icon = QIcon()
    for size in (32, 64, 256):
        with resources.as_file(icon_path(size)) as path:
            if path.is_file():
                icon.addFile(str(path))
    return icon


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName("tfr-viewer")
    app.setOrganizationName("tfr-viewer")
    app.setWindowIcon(app_icon())
    return app


def run_gui(
    paths: list[str],
    demo: bool = False,
    fresh_settings: bool = False,
    screenshot: str | None = None,
    quit_after_load: bool = False,
    annotations: str | None = None,
) -> int:
    """Open the window (on `paths`, or the demo dataset, with an annotations CSV) and run the event loop."""
    app = make_app()
    from .main_window import MainWindow
    from .settings import Settings

    window = MainWindow(Settings(fresh=fresh_settings))
    window.errors.install_excepthook()
    if screenshot:  # a reproducible picture: default size and layout, whatever was saved
        window.resize(1440, 900)
        window.appearance.reset_layout()
    window.show()
    if screenshot or quit_after_load:
        _finish_after_load(window, screenshot, quit_after_load)
    open_at_start(window, paths, demo, annotations)
    if not (demo or paths) and (screenshot or quit_after_load):
        QTimer.singleShot(500, window.loaded.emit)
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


def _close_on_terminal_signals(window) -> None:
    """Ctrl+C in the terminal (SIGINT) or SIGTERM closes the window like its close button: the
    workers and the indexing processes are stopped, and settings are saved. Python runs signal
    handlers only between bytecodes, so a timer wakes it now and then inside Qt's event loop."""
    def close(*_args) -> None:
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

    def visible_thumbnails_ready() -> bool:
        grid = window.grid
        seen = 0
        for y in range(5, grid.viewport().height(), max(grid.gridSize().height(), 8)):
            for x in range(5, grid.viewport().width(), max(grid.gridSize().width(), 8)):
                index = grid.indexAt(QPoint(x, y))
                if index.isValid():
                    seen += 1
                    if not window.browser.tile_model.thumbnail_settled(index.row()):  # a broken tile is final too
                        return False
        return seen > 0 or window.browser.tile_model.rowCount() == 0  # not laid out yet: wait

    def poll() -> None:
        if state["done"]:
            return
        if window.jobs.busy() or not visible_thumbnails_ready():
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
