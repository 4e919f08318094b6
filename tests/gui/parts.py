"""The window's parts built one by one on a bare QMainWindow, to test each without the others."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QLineEdit, QMainWindow, QPushButton

from tfr_viewer.gui.browser import Browser
from tfr_viewer.gui.datasets import DatasetController
from tfr_viewer.gui.errors import ErrorBridge
from tfr_viewer.gui.jobs import JobRunner
from tfr_viewer.gui.map_panel import MapPanel
from tfr_viewer.gui.plain import plain_label
from tfr_viewer.gui.settings import Settings
from tfr_viewer.gui.widgets.dataset_tree import DatasetTreeView
from tfr_viewer.gui.widgets.metadata_panel import MetadataPanel
from tfr_viewer.gui.widgets.problems import ProblemsPanel
from tfr_viewer.gui.widgets.tile_grid import TileGridView
from tfr_viewer.gui.widgets.tile_viewer import TileViewer
from tfr_viewer.gui.workers import active_threads


class Parts:
    """A host window with a status bar, the job runner and the dataset controller; the
    browser and the map panel on request."""

    def __init__(self, qtbot) -> None:
        self.host = QMainWindow()
        qtbot.addWidget(self.host)
        self.settings = Settings(fresh=True)
        self.status_bar = self.host.statusBar()
        self.errors = ErrorBridge(self.status_bar, self.host, dialogs=False)
        self.jobs = JobRunner(self.status_bar, self.errors, self.host)
        self.problems = ProblemsPanel()
        self.datasets = DatasetController(self.settings, self.jobs, self.problems, self.status_bar, self.host)
        self.browser: Browser | None = None
        self.map_panel: MapPanel | None = None
        self._request_workers: list = []

    def add_browser(self) -> Browser:
        self.grid = TileGridView()
        self.viewer = TileViewer()
        self.metadata = MetadataPanel()
        self.grid_label = plain_label("")
        self.clear_map_filter = QPushButton("Show all tiles")
        self.tree = DatasetTreeView()
        self.browser = Browser(self.datasets, self.tree, QLineEdit(), self.grid, self.grid_label,
                               self.clear_map_filter, self.viewer, self.metadata, self.host)
        self.host.setCentralWidget(self.grid)
        self.host.resize(800, 600)
        self.host.show()
        self._request_workers += [self.browser.thumbs, self.browser.reader]
        return self.browser

    def add_map_panel(self) -> MapPanel:
        browser = self.browser or self.add_browser()
        self.map_panel = MapPanel(browser, self.datasets, self.jobs)
        self._request_workers += list(self.map_panel.request_workers())
        return self.map_panel

    def open(self, qtbot, path) -> None:
        if self.browser is not None:
            self.datasets.opened.connect(self._select_first)
        with qtbot.waitSignal(self.datasets.loaded, timeout=10_000):
            self.datasets.open_paths([str(path)])

    def _select_first(self, _note: str) -> None:
        first = self.datasets.first_file_to_show()
        if first is not None:
            self.browser.select_files([first])

    def shut_down(self) -> None:
        self.jobs.cancel_for_shutdown()
        for worker in self._request_workers:
            worker.request_stop()
        self.jobs.wait(time.monotonic() + 10)
        for worker in self._request_workers:
            worker.stop(10_000)


@pytest.fixture
def parts(qtbot):
    built = Parts(qtbot)
    yield built
    built.shut_down()
    qtbot.waitUntil(lambda: not active_threads(), timeout=10_000)
