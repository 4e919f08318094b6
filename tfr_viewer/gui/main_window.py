"""The inspector window: lays out the panels, builds the menus and wires the parts together.

Each concern lives in its own object: `jobs` (background work), `datasets` (opening, watching,
indexing, Problems), `browser` (tree -> grid -> viewer -> record panel), `map_panel`, `tools`
and `appearance`. No file I/O happens here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.index_pool import warm_index_pool
from .actions import build_commands, fill_path_menu
from .appearance import LEFT_SIZES, MAIN_SIZES, RIGHT_SIZES, Appearance
from .browser import Browser
from .datasets import DatasetController
from .errors import ErrorBridge
from .fields import FieldStore
from .filters import FilterController
from .goto import GoTo
from .jobs import JobRunner
from .map_panel import MapPanel
from .plain import plain_label, plain_title
from .settings import THUMB_SIZES, Settings
from .tools import Tools
from .welcome import WelcomePage
from .widgets.dataset_tree import DatasetTreeView
from .widgets.filter_panel import FilterPanel
from .widgets.metadata_panel import MetadataPanel
from .widgets.problems import ProblemsPanel
from .widgets.tile_grid import TileGridView
from .widgets.tile_viewer import TileViewer
from .workers import collect_garbage_in_gui_thread

SWITCH_INTERVAL = 0.0005
SHUTDOWN_WAIT_S = 10.0  # closing waits this long in all for background work to stop
REFRESH_ON_ACTIVATE_S = 2.0  # coming back to the window re-checks the files, at most this often


class MainWindow(QMainWindow):
    """`open_path(path)` opens a file or folder without blocking; `loaded` fires when the tree is filled."""

    loaded = Signal()
    recordShown = Signal()  # the viewer and the record panel show the current tile's answer
    indexingFinished = Signal()
    mapFilled = Signal()

    def __init__(self, settings: Settings | None = None, dialogs: bool = True) -> None:
        super().__init__()
        # Worker threads hold the GIL between Python-level switches; every Qt callback into
        # Python (data(), paint events) waits for one. A shorter interval keeps the GUI fluid.
        sys.setswitchinterval(SWITCH_INTERVAL)
        collect_garbage_in_gui_thread()
        warm_index_pool()
        self.setObjectName("mainWindow")
        self.setWindowTitle("tfr-viewer")
        self.settings = settings or Settings()
        self._shut_down = False  # shutdown() ran: workers cancelled and waited for

        self.errors = ErrorBridge(self.statusBar(), self, dialogs=dialogs)
        self.status_label = plain_label("")
        self.statusBar().addWidget(self.status_label, 1)
        self.jobs = JobRunner(self.statusBar(), self.errors, self)
        self.problems = ProblemsPanel()
        self.datasets = DatasetController(self.settings, self.jobs, self.problems, self.statusBar(), self)
        self._build_browser()
        self.fields = FieldStore(self.browser, self.datasets, self.jobs, self)
        self.filter_panel = FilterPanel()
        self.filters = FilterController(self.fields, self.filter_panel, self.browser, self)
        self.goto = GoTo(self.browser, self.statusBar(), self)
        self.map_panel = MapPanel(self.browser, self.datasets, self.jobs, self.fields)
        self._build_layout()
        self.tools = Tools(self, self.datasets, self.browser, self.map_panel.map, self.jobs)
        self.appearance = Appearance(
            self.settings, self, {"main": self.splitter, "right": self.right_splitter, "left": self.left_splitter},
            self.grid, self.browser.tile_model, self.map_panel.map, self.datasets)
        self._build_menus()
        self._wire()
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self.appearance.restore()
        self.welcome.show_recent(self.settings.get("recent/paths"))
        self.stack.setCurrentWidget(self.welcome)

    # --- layout --------------------------------------------------------------------------------
    def _build_browser(self) -> None:
        self.tree = DatasetTreeView()
        self.slide_filter = QLineEdit()
        self.slide_filter.setObjectName("slideFilter")
        self.slide_filter.setPlaceholderText("Filter slides (Ctrl+F)")
        self.slide_filter.setClearButtonEnabled(True)
        self.grid = TileGridView()
        self.grid_label = plain_label("")
        self.clear_map_filter = QPushButton("Show all tiles")
        self.clear_map_filter.setVisible(False)
        self.viewer = TileViewer()
        self.metadata = MetadataPanel()
        self.browser = Browser(self.datasets, self.tree, self.slide_filter, self.grid, self.grid_label,
                               self.clear_map_filter, self.viewer, self.metadata, self)

    def _build_layout(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.slide_filter)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.addWidget(self.tree)
        self.left_splitter.addWidget(self.problems)
        self.left_splitter.setSizes(LEFT_SIZES)
        left_layout.addWidget(self.left_splitter)

        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.grid_label, 1)
        bar.addWidget(self.clear_map_filter)
        center_layout.addLayout(bar)
        center_layout.addWidget(self.filter_panel)
        center_layout.addWidget(self.grid, 1)

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(self.map_panel)
        self.right_splitter.addWidget(self.viewer)
        self.right_splitter.addWidget(self.metadata)
        self.right_splitter.setSizes(RIGHT_SIZES)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.right_splitter)
        for column, stretch in enumerate((2, 5, 3)):  # a narrow window narrows every column, the grid most
            self.splitter.setStretchFactor(column, stretch)
        self.splitter.setSizes(MAIN_SIZES)

        self.welcome = WelcomePage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

    def _build_menus(self) -> None:
        tools, appearance = self.tools, self.appearance
        handlers = {
            "file.open_file": tools.choose_file,
            "file.open_folder": tools.choose_folder,
            "file.recent": lambda menu: fill_path_menu(menu, self.settings.get("recent/paths"), self.open_path),
            "file.load_annotations": lambda: self.fields.choose_annotations(self),
            "file.export_tiles": tools.export_selected,
            "file.export_map": tools.export_map,
            "file.quit": self.close,
            **{f"view.thumb_size.{size}": (lambda checked=False, s=size: appearance.set_thumb_size(s))
               for size in THUMB_SIZES},
            "view.captions": appearance.set_captions,
            "view.dark_theme": lambda on: appearance.set_theme("dark" if on else "light"),
            "view.filter_slides": self.slide_filter.setFocus,
            "view.refresh": self.datasets.refresh_files,
            "view.select_area": lambda on: self.map_panel.map.set_select_mode(on),
            "view.go_to": self.goto.open,
            "view.broken_only": self.filter_panel.set_broken_only,
            "tools.convert": tools.open_convert_wizard,
            "tools.verify": tools.verify_selected,
            "tools.rebuild_indexes": tools.rebuild_indexes,
            "help.about": tools.show_about,
            "window.escape": self._on_escape,
        }
        self.commands = build_commands(self, handlers)
        for size in THUMB_SIZES:
            self.commands.actions[f"view.thumb_size.{size}"].setChecked(size == self.settings.get("view/thumb_size"))
        self.commands.actions["view.captions"].setChecked(self.settings.get("view/captions"))
        self.commands.actions["view.dark_theme"].setChecked(self.settings.get("view/theme") == "dark")

    def _wire(self) -> None:
        """Connect the parts: each one's signals to the others' slots, and to the window's own."""
        self.datasets.opened.connect(self._on_opened)
        self.datasets.loaded.connect(self.loaded)
        self.datasets.indexingFinished.connect(self.indexingFinished)
        self.browser.recordShown.connect(self.recordShown)
        self.map_panel.mapFilled.connect(self.mapFilled)
        self.map_panel.pointClicked.connect(self.browser.select_all_row)
        self.map_panel.regionSelected.connect(self.browser.apply_region)
        self.map_panel.selectionCleared.connect(self.browser.clear_region)
        self.map_panel.map.exportRequested.connect(self.tools.export_map)
        self.problems.problemActivated.connect(self.browser.show_problem)
        self.filter_panel.broken.toggled.connect(self.commands.actions["view.broken_only"].setChecked)
        self.tools.openRequested.connect(self.open_path)
        self.welcome.openFolderRequested.connect(self.tools.choose_folder)
        self.welcome.openFileRequested.connect(self.tools.choose_file)
        self.welcome.demoRequested.connect(self.tools.open_demo)
        self.welcome.convertRequested.connect(self.tools.open_convert_wizard)
        self.welcome.recentActivated.connect(self.open_path)

    # --- opening -------------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> None:
        self.open_paths([os.fspath(path)])

    def open_paths(self, paths: list[str]) -> None:
        """Start opening in the background; older results are ignored from now on."""
        self.browser.reset()
        self.fields.reset()
        self.map_panel.reset()
        self.datasets.open_paths(paths)
        self.stack.setCurrentWidget(self.splitter)
        self.setWindowTitle(plain_title(f"tfr-viewer — {', '.join(Path(p).name or p for p in paths)}"))

    def _on_opened(self, note: str) -> None:
        self.tree.expandAll()
        if note:
            self.status_label.setText(note)
        first = self.datasets.first_file_to_show()
        if first is not None:
            self.browser.select_files([first])

    def _on_escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and self.viewer.isAncestorOf(focus):  # back from the tile to the grid
            self.grid.setFocus()
        elif self.jobs.busy():
            self.jobs.cancel_all()
        elif self.browser.tile_model.is_filtered():
            self.browser.clear_filters()

    # --- window lifetime -------------------------------------------------------------------------
    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            if time.monotonic() - self.datasets.last_refresh > REFRESH_ON_ACTIVATE_S:
                self.datasets.refresh_files()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):  # a web link cannot be opened
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def shutdown(self, wait_s: float | None = None) -> None:
        """Cancel every worker and wait for them, `wait_s` in all. A thread still busy then
        (a read the OS does not interrupt) is orphaned: it ends on its own, never destroyed
        while it runs (which would abort the process). A second call (the app's, after the
        window's own on close) finds nothing left to wait for."""
        if self._shut_down:
            return
        self._shut_down = True
        self.jobs.cancel_for_shutdown()
        requests = (self.browser.thumbs, self.browser.reader, *self.map_panel.request_workers())
        for worker in requests:
            worker.request_stop()
        deadline = time.monotonic() + (SHUTDOWN_WAIT_S if wait_s is None else wait_s)
        self.jobs.wait(deadline)
        for worker in requests:
            worker.stop(max(0, int(1000 * (deadline - time.monotonic()))))

    def closeEvent(self, event) -> None:  # noqa: N802
        self.appearance.save()
        self.shutdown()
        super().closeEvent(event)
