"""Start-up builds the slide view after the first screen of thumbnails.

The map needs pyqtgraph, whose import materialises every Qt enum (about a quarter of a second of
Python work). Done before the first screen, it would delay the thumbnails the user waits for; done
on the GUI thread afterwards, it would freeze the window once. So the window waits until its
first screen is painted (or nothing is open, or `GIVE_UP_MS` passed), imports the map's modules in
a thread (the GUI thread keeps running between the import's bytecodes), then builds the panel on
the GUI thread, which is quick.
"""

from __future__ import annotations

import importlib
from typing import Callable

from PySide6.QtCore import QObject, QThread, QTimer

MAP_MODULES = ("pyqtgraph", "tfr_viewer.gui.map_panel")
POLL_MS = 50
GIVE_UP_MS = 3000  # the map comes by then even if thumbnails are still arriving


class _ImportThread(QThread):
    """Imports the map's modules; an import error is left for the GUI thread's import to raise."""

    def run(self) -> None:
        for name in MAP_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001  (the build on the GUI thread reports it)
                return


def visible_thumbnails_ready(window) -> bool:
    """Whether every tile the window's grid shows has its thumbnail (a broken tile is final too)."""
    model = window.browser.tile_model
    first, last = window.grid.visible_rows()
    if last < first:  # nothing laid out yet: wait, unless there is nothing to lay out
        return model.rowCount() == 0
    return all(model.thumbnail_settled(row) for row in range(first, last + 1))


class MapLater(QObject):
    """Calls `build()` once the window's first screen is shown, with the map's modules imported."""

    def __init__(self, window, build: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._build = window, build
        self._thread: _ImportThread | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check)
        self._poll.start()
        self._waited_ms = 0
        self._loaded = False  # the dataset opened at start-up has its files listed
        window.loaded.connect(self._on_loaded)

    def _on_loaded(self) -> None:
        self._loaded = True

    def _first_screen_shown(self) -> bool:
        window = self._window
        if window.stack.currentWidget() is not window.splitter:  # the welcome or empty-folder page
            return True
        return self._loaded and visible_thumbnails_ready(window)

    def _check(self) -> None:
        self._waited_ms += POLL_MS
        if not (self._first_screen_shown() or self._waited_ms >= GIVE_UP_MS):
            return
        self._poll.stop()
        self._thread = _ImportThread(self)
        self._thread.finished.connect(self._imported)
        self._thread.start(QThread.Priority.LowPriority)

    def _imported(self) -> None:
        self._thread.wait()
        self._thread = None
        self._build()

    def stop(self) -> None:
        """The window closes: no build; an import under way finishes on its own (it cannot be
        interrupted), waited for here so that no running thread is destroyed."""
        self._poll.stop()
        if self._thread is not None:
            self._thread.finished.disconnect(self._imported)
            self._thread.wait()
            self._thread = None
