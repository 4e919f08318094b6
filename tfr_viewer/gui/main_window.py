"""The inspector window: lays out the panels, builds the menus and wires the parts together.

Each concern lives in its own object: `jobs` (background work), `datasets` (opening, watching,
indexing, Problems), `browser` (tree -> grid -> viewer -> record panel), `fields` and `filters` (label fields and
the filter bar), `goto`, `map_panel`, `tools`, `context_menus` and `appearance`. No file I/O happens here.

Start-up: this module imports only a few Qt classes (each Qt class imported costs its enums, a
few ms; the `Qt` namespace ~25 ms), so the window can paint its frame and menu bar before numpy,
the core, pyqtgraph and most Qt widget classes are imported. `assemble()` imports and builds
the welcome page and the panels (at once by default; `run_gui` calls it after the first paint).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from .settings import THUMB_SIZES, Settings
from .window_geometry import restore_window_geometry

SWITCH_INTERVAL = 0.0005
SHUTDOWN_WAIT_S = 10.0  # closing waits this long in all for background work to stop
REFRESH_ON_ACTIVATE_S = 2.0  # coming back to the window re-checks the files, at most this often


class MainWindow(QMainWindow):
    """`open_path(path)` opens a file or folder without blocking; `loaded` fires when the tree is filled."""

    loaded = Signal()
    recordShown = Signal()  # the viewer and the record panel show the current tile's answer
    indexingFinished = Signal()
    mapFilled = Signal()
    mapPanelReady = Signal()  # the slide view is built (at start-up: after the first screen)

    def __init__(self, settings: Settings | None = None, dialogs: bool = True, assemble: bool = True) -> None:
        """`assemble=False` builds only the shell (menu bar titles, status bar, an empty page):
        cheap enough to paint at once; `assemble()` adds the rest."""
        super().__init__()
        # Worker threads hold the GIL between Python-level switches; every Qt callback into
        # Python (data(), paint events) waits for one. A shorter interval keeps the GUI fluid.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.setObjectName("mainWindow")
        self.setWindowTitle("tfr-viewer")
        self.settings = settings or Settings()
        self._shut_down = False  # shutdown() ran: workers cancelled and waited for
        self.assembled = False
        self.map_panel = None  # the slide view, once built
        self._map_later = None  # start-up: builds the slide view after the first screen
        self.ask_before_quit = dialogs  # quitting during a conversion or indexing asks first
        self._stop_confirmed = False

        self._dialogs = dialogs
        self.statusBar()
        self.stack = QStackedWidget()
        self.stack.addWidget(QWidget())  # an empty page until `assemble()`
        self.setCentralWidget(self.stack)
        self.setAcceptDrops(True)
        # before the first paint: the window does not jump when the parts arrive
        restore_window_geometry(self, self.settings.get("window/geometry"))
        for title in ("&File", "&View", "&Tools", "&Help"):  # the menu bar's height from the start
            self.menuBar().addMenu(title)
        if assemble:
            self.assemble()

    def assemble(self, map_later: bool = False) -> None:
        """Import and build the panels and the parts that need the core (numpy, workers), then
        menus and wiring. Once; `run_gui` calls it right after the first paint, with `map_later`:
        the slide view (pyqtgraph) is then built after the first screen of thumbnails
        (`map_later.MapLater`), else at once."""
        if self.assembled:
            return
        from PySide6.QtCore import Qt

        from ..core.index_pool import warm_index_pool
        from .appearance import Appearance
        from .browser import Browser
        from .context_menus import ContextMenus
        from .datasets import DatasetController
        from .errors import ErrorBridge
        from .fields import FieldStore
        from .filters import FilterController
        from .goto import GoTo
        from .jobs import JobRunner
        from .plain import plain_label
        from .tools import Tools
        from .widgets.filter_panel import FilterPanel
        from .widgets.problems import ProblemsPanel
        from .workers import collect_garbage_in_gui_thread

        collect_garbage_in_gui_thread()
        self.errors = ErrorBridge(self.statusBar(), self, dialogs=self._dialogs)
        self.status_label = plain_label("")
        self.statusBar().addWidget(self.status_label, 1)
        self.problems = ProblemsPanel()
        self._build_views()
        self.jobs = JobRunner(self.statusBar(), self.errors, self)
        self.datasets = DatasetController(self.settings, self.jobs, self.problems, self.statusBar(), self)
        self.browser = Browser(self.datasets, self.tree, self.slide_filter, self.grid, self.grid_label,
                               self.clear_map_filter, self.viewer, self.metadata, self)
        self.fields = FieldStore(self.browser, self.datasets, self.jobs, self)
        self.filter_panel = FilterPanel()
        self.filters = FilterController(self.fields, self.filter_panel, self.browser, self)
        self.goto = GoTo(self.browser, self.statusBar(), self)
        self.map_panel = None  # the slide view: `ensure_map_panel()`
        self.map_placeholder = plain_label("Loading the slide view…")
        self.map_placeholder.setObjectName("mapPlaceholder")
        self.map_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._build_layout()
        self.tools = Tools(self, self.datasets, self.browser, None, self.jobs)
        self.tools.fields = self.fields
        self.fields.valuesReady.connect(self.tools.show_slide_labels)
        self.context_menus = ContextMenus(self, self.datasets, self.browser, self.tools, self.ensure_map_panel,
                                          self.jobs)
        self.appearance = Appearance(
            self.settings, self, {"main": self.splitter, "right": self.right_splitter, "left": self.left_splitter},
            self.grid, self.browser.tile_model, None, self.datasets)
        self.menuBar().clear()
        self._build_menus()
        self._wire()
        self.appearance.restore()
        self.welcome.show_recent(self.settings.get("recent/paths"))
        self.stack.setCurrentWidget(self.welcome)
        self.assembled = True
        if map_later:  # the indexing process would take a core from the first screen too
            from .map_later import MapLater

            self._map_later = MapLater(self, lambda: (self.ensure_map_panel(), warm_index_pool()))
        else:
            warm_index_pool()
            self.ensure_map_panel()

    def ensure_map_panel(self):
        """The slide view (a MapPanel), built now if not yet: in the right column, wired, showing
        what the browser shows already."""
        if self.map_panel is not None:
            return self.map_panel
        from .map_panel import MapPanel

        if self._map_later is not None:
            self._map_later.stop()
        panel = MapPanel(self.browser, self.datasets, self.jobs, self.fields)
        self.right_splitter.replaceWidget(self.right_splitter.indexOf(self.map_placeholder), panel)
        self.map_placeholder.deleteLater()
        self.map_panel = panel
        self.tools.map = panel.map
        self.appearance.attach_map(panel.map)
        panel.mapFilled.connect(self.mapFilled)
        panel.pointClicked.connect(self.browser.select_all_row)
        panel.regionSelected.connect(self.browser.apply_region)
        panel.selectionCleared.connect(self.browser.clear_region)
        panel.map.exportRequested.connect(self.tools.export_map)
        panel.catch_up()
        from .workers import freeze_startup_objects

        freeze_startup_objects()  # every module is imported now: full collections skip them
        self.mapPanelReady.emit()
        return panel

    # --- layout --------------------------------------------------------------------------------
    def _build_views(self) -> None:
        """The browser's widgets; `assemble()` gives them their models through `Browser`."""
        from PySide6.QtWidgets import QLineEdit, QPushButton

        from .plain import plain_label
        from .widgets.dataset_tree import DatasetTreeView
        from .widgets.metadata_panel import MetadataPanel
        from .widgets.tile_grid import TileGridView
        from .widgets.tile_viewer import TileViewer

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

    def _build_layout(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout

        from .appearance import LEFT_SIZES, MAIN_SIZES, RIGHT_SIZES
        from .welcome import EmptyFolderPage, WelcomePage

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
        self.right_splitter.addWidget(self.map_placeholder)
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
        self.empty_folder = EmptyFolderPage()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.empty_folder)
        self.stack.addWidget(self.splitter)

    def _build_menus(self) -> None:
        from .actions import build_commands, fill_path_menu, shortcut_table

        tools, appearance = self.tools, self.appearance
        handlers = {
            "file.open_file": tools.choose_file,
            "file.open_folder": tools.choose_folder,
            "file.open_url": tools.choose_url,
            "file.recent": lambda menu: fill_path_menu(menu, self.settings.get("recent/paths"), self.open_path),
            "file.load_annotations": lambda: self.fields.choose_annotations(self),
            "file.export_tiles": tools.export_selected,
            "file.export_map": lambda: (self.ensure_map_panel(), tools.export_map()),
            "file.close": self.close_dataset,
            "file.quit": self.close,
            "view.thumb_larger": lambda: self._show_thumb_size(appearance.step_thumb_size(1)),
            "view.thumb_larger_plus": lambda: self._show_thumb_size(appearance.step_thumb_size(1)),
            "view.thumb_smaller": lambda: self._show_thumb_size(appearance.step_thumb_size(-1)),
            "view.full_screen": appearance.set_full_screen,
            "view.reset_layout": appearance.reset_layout,
            "view.slides": tools.show_slides,
            "help.shortcuts": lambda: tools.show_shortcuts(shortcut_table()),
            **{f"view.thumb_size.{size}": (lambda checked=False, s=size: appearance.set_thumb_size(s))
               for size in THUMB_SIZES},
            "view.captions": appearance.set_captions,
            "view.dark_theme": lambda on: appearance.set_theme("dark" if on else "light"),
            "view.filter_slides": self.slide_filter.setFocus,
            "view.refresh": self.datasets.refresh_files,
            "view.select_area": lambda on: self.ensure_map_panel().map.set_select_mode(on),
            "view.go_to": self.goto.open,
            "view.broken_only": self.filter_panel.set_broken_only,
            "tools.convert": tools.open_convert_wizard,
            "tools.verify": tools.verify_selected,
            "tools.rebuild_indexes": tools.rebuild_indexes,
            "tools.read_only": tools.set_read_only,
            "tools.copy_image": self.context_menus.copy_image,
            "tools.random_sample": self.context_menus.random_sample,
            "help.about": tools.show_about,
            "window.escape": self._on_escape,
        }
        self.commands = build_commands(self, handlers)
        for size in THUMB_SIZES:
            self.commands.actions[f"view.thumb_size.{size}"].setChecked(size == self.settings.get("view/thumb_size"))
        self.commands.actions["view.captions"].setChecked(self.settings.get("view/captions"))
        self.commands.actions["view.dark_theme"].setChecked(self.settings.get("view/theme") == "dark")
        self.commands.actions["tools.read_only"].setChecked(tools.start_read_only())

    def _show_thumb_size(self, size: int) -> None:
        self.commands.actions[f"view.thumb_size.{size}"].setChecked(True)

    def _wire(self) -> None:
        """Connect the parts: each one's signals to the others' slots, and to the window's own."""
        self.datasets.opened.connect(self._on_opened)
        self.datasets.loaded.connect(self.loaded)
        self.datasets.indexingFinished.connect(self.indexingFinished)
        self.browser.recordShown.connect(self.recordShown)
        self.problems.problemActivated.connect(self.browser.show_problem)
        self.filter_panel.broken.toggled.connect(self.commands.actions["view.broken_only"].setChecked)
        self.tools.openRequested.connect(self.open_path)
        self.welcome.openFolderRequested.connect(self.tools.choose_folder)
        self.welcome.openFileRequested.connect(self.tools.choose_file)
        self.welcome.demoRequested.connect(self.tools.open_demo)
        self.welcome.convertRequested.connect(self.tools.open_convert_wizard)
        self.welcome.recentActivated.connect(self.open_path)
        self.empty_folder.convertRequested.connect(self.tools.open_convert_wizard)
        self.empty_folder.openFolderRequested.connect(self.tools.choose_folder)
        self.datasets.imagesCounted.connect(self.empty_folder.show_scan)

    # --- opening -------------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> None:
        self.open_paths([os.fspath(path)])

    def open_paths(self, paths: list[str]) -> None:
        """Start opening in the background; older results are ignored from now on."""
        self.assemble()
        self.browser.reset()
        self.fields.reset()
        if self.map_panel is not None:
            self.map_panel.reset()
        self.datasets.open_paths(paths)
        self.status_label.setText("")
        self.stack.setCurrentWidget(self.splitter)
        from ..demo import path_title  # imported with the panels (assemble)
        from .plain import plain_title

        self.setWindowTitle(plain_title(f"tfr-viewer — {', '.join(Path(path_title(p)).name or p for p in paths)}"))

    def close_dataset(self) -> None:
        """Back to the welcome page: nothing open, no work on the closed files left running."""
        self.browser.reset()
        if self.map_panel is not None:
            self.map_panel.reset()
        self.datasets.close()
        self.status_label.setText("")
        self.setWindowTitle("tfr-viewer")
        self.welcome.show_recent(self.settings.get("recent/paths"))
        self.stack.setCurrentWidget(self.welcome)

    def _on_opened(self, note: str) -> None:
        from .datasets import NO_TFRECORDS

        self.tree.expandAll()
        self.status_label.setText(note)  # none when files were found: an older note goes
        if note == NO_TFRECORDS and len(self.datasets.opened_paths) == 1:
            self.empty_folder.show_counting(self.datasets.opened_paths[0])
            self.stack.setCurrentWidget(self.empty_folder)
            self.datasets.count_images(self.datasets.opened_paths[0])
        first = self.datasets.first_file_to_show()
        if first is not None:
            self.browser.select_files([first])

    def _on_escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and self.viewer.isAncestorOf(focus):  # back from the tile to the grid
            self.grid.setFocus()
        elif self.isFullScreen():
            self.commands.actions["view.full_screen"].trigger()
        elif self.jobs.busy():
            self.jobs.cancel_all()
        elif self.browser.tile_model.is_filtered():
            self.browser.clear_filters()

    # --- window lifetime -------------------------------------------------------------------------
    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow() and self.assembled:
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

    def _stop_and_quit(self) -> None:
        self._stop_confirmed = True
        self.close()

    def shutdown(self, wait_s: float | None = None) -> None:
        """Cancel every worker and wait for them, `wait_s` in all. A thread still busy then
        (a read the OS does not interrupt) is orphaned: it ends on its own, never destroyed
        while it runs (which would abort the process). A second call (the app's, after the
        window's own on close) finds nothing left to wait for."""
        if self._shut_down or not self.assembled:
            return
        self._shut_down = True
        if self._map_later is not None:
            self._map_later.stop()
        self.jobs.cancel_for_shutdown()
        map_workers = self.map_panel.request_workers() if self.map_panel is not None else ()
        requests = (self.browser.thumbs, self.browser.reader, *map_workers)
        for worker in requests:
            worker.request_stop()
        deadline = time.monotonic() + (SHUTDOWN_WAIT_S if wait_s is None else wait_s)
        self.jobs.wait(deadline)
        for worker in requests:
            worker.stop(max(0, int(1000 * (deadline - time.monotonic()))))

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.assembled:
            work = self.tools.running_work() if self.ask_before_quit and not self._stop_confirmed else []
            if work:
                event.ignore()
                self.tools.ask_to_stop(work, self._stop_and_quit)
                return
            self.tools.stop_conversion()
            self.appearance.save()
        self.shutdown()
        super().closeEvent(event)
