"""The inspector window: wires the tree, grid, map, viewer and metadata to the workers.

No file I/O happens here: opening, indexing, reading records and thumbnails are worker jobs.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QEvent,
    QFileSystemWatcher,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.catalog import FileEntry, OpenedDataset, open_dataset_job, stat_files_job, verify_files_job
from ..core.index import IndexResult
from ..core.index_pool import warm_index_pool
from ..core.tile_jobs import export_tiles_job, read_field_job
from ..demo import demo_dataset_job
from .errors import ErrorBridge, problem_color
from .models import FILE_ID_ROLE, DatasetTreeModel, TileListModel
from .plain import plain_label, plain_menu_text, plain_title, plain_tooltip
from .settings import Settings
from .widgets.location_map import LocationMap, MapPoints, map_points
from .widgets.metadata_panel import MetadataPanel
from .widgets.progress import StatusProgress
from .widgets.tile_grid import TileGridView
from .widgets.tile_viewer import TileViewer
from .request_workers import ArrayBuilder, BuildRequest, RecordReader, RecordRequest, ThumbnailLoader
from .workers import IndexBuilderWorker, JobWorker, collect_garbage_in_gui_thread

THUMB_SIZES = (64, 96, 128, 192)
SWITCH_INTERVAL = 0.0005
MAX_WATCHED_FILES = 2000  # inotify watches are a per-user resource
WATCH_BATCH = 64  # files given to the watcher per event-loop turn
TREE_SIZE_ROWS = 64  # rows measured to size the tree's tile-count column
SHUTDOWN_WAIT_S = 10.0  # closing waits this long in all for background work to stop
TREE_UPDATE_MS = 100  # files indexed in the background reach the tree at most this often


def selection_points(parts: list[tuple[int, np.ndarray, int]]) -> MapPoints | None:
    """The map's points for (file id, locations, first tile row) of each selected file with
    locations, or None when none has any. Runs in the ArrayBuilder thread: for 100,000 tiles
    the concatenations, sorting and polygons take tens of milliseconds."""
    if not parts:
        return None
    xy = np.concatenate([locs for _, locs, _ in parts])
    groups = np.concatenate([np.full(len(locs), fid, np.int64) for fid, locs, _ in parts])
    rows = np.concatenate([np.arange(start, start + len(locs), dtype=np.int64) for _, locs, start in parts])
    return map_points(xy, rows, groups)


class _DatasetTreeView(QTreeView):
    """The tree of files. Its tile-count column is sized to contents over the rows around the
    view (Qt measures 1,000 rows on each relayout by default: ~20 ms for 500 files) and the
    sources' totals, which are the widest numbers."""

    def sizeHintForColumn(self, column: int) -> int:  # noqa: N802
        width = super().sizeHintForColumn(column)
        model = self.model()
        if column > 0 and model is not None:
            for row in range(model.rowCount()):
                width = max(width, self.sizeHintForIndex(model.index(row, column)).width())
        return width


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
        self.entries: list[FileEntry] = []
        self._shut_down = False  # shutdown() ran: workers cancelled and waited for
        self.generation = 0
        self._jobs: set[JobWorker] = set()
        self._progress_message = ""  # the status bar line the last progress report showed
        self._opening_paths: list[str] = []
        self._problem_items: dict[str, list[QListWidgetItem]] = {}  # per file: its lines in Problems
        self._jobs_to_start: list[JobWorker] = []
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(1)
        self._start_timer.timeout.connect(self._start_jobs)
        self.open_job: JobWorker | None = None
        self.index_job: IndexBuilderWorker | None = None
        self.selected_files: list[int] = []
        self._map_rows = np.zeros(0, np.int64)
        self._numeric_fields_known = False

        self.thumbs = ThumbnailLoader(self)
        self.reader = RecordReader(self)
        self.reader.ready.connect(self._on_record)
        self.tile_model = TileListModel(self.thumbs, self)
        self.tree_model = DatasetTreeModel(self)
        self.tree_proxy = QSortFilterProxyModel(self)
        self.tree_proxy.setSourceModel(self.tree_model)
        self.tree_proxy.setRecursiveFilteringEnabled(True)
        self.tree_proxy.setAutoAcceptChildRows(True)  # a folder that matches shows its files
        self.tree_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._filtering = False  # the slide filter is changing the tree's rows

        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._on_file_changed)
        self._file_ids: dict[int, int] = {}  # id(entry) -> its index in self.entries
        self._tree_updates: set[int] = set()  # files indexed since the tree last showed them
        self._tree_timer = QTimer(self)
        self._tree_timer.setSingleShot(True)
        self._tree_timer.setInterval(TREE_UPDATE_MS)
        self._tree_timer.timeout.connect(self._update_tree)
        self._to_watch: list[str] = []
        self._watch_timer = QTimer(self)
        self._watch_timer.setSingleShot(True)
        self._watch_timer.setInterval(0)
        self._watch_timer.timeout.connect(self._watch_some)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)
        self._refresh_timer.timeout.connect(self.refresh_files)
        self._last_refresh = 0.0
        self.stat_job: JobWorker | None = None

        # The map's arrays are built in a worker; the answer for the newest selection is shown.
        self.map_builder = ArrayBuilder(self)
        self.map_builder.ready.connect(self._on_map_built)
        self._map_generation = 0
        self._map_pending = False
        # A finished map is shown from a timer, not from the worker's signal: queued signals run
        # in the event-loop pass that paints the window (QGraphicsScene flushes pending paints
        # synchronously, and the pass then also takes every signal queued meanwhile), a timer
        # after it, so the map's repaint does not pile onto the grid's.
        self._built_map: tuple[int, MapPoints | None] | None = None
        self._map_timer = QTimer(self)
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(0)
        self._map_timer.timeout.connect(self._show_built_map)

        self._build_widgets()
        self._build_menus()
        self.errors = ErrorBridge(self.statusBar(), self, dialogs=dialogs)
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self._restore_settings()
        self._show_welcome()

    # --- layout --------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.tree = _DatasetTreeView()
        self.tree.setObjectName("datasetTree")
        self.tree.setModel(self.tree_proxy)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, self.tree.header().ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, self.tree.header().ResizeMode.ResizeToContents)
        self.tree.header().setResizeContentsPrecision(TREE_SIZE_ROWS)  # see _DatasetTreeView
        self.tree.selectionModel().selectionChanged.connect(self._on_tree_selection)
        self.slide_filter = QLineEdit()
        self.slide_filter.setObjectName("slideFilter")
        self.slide_filter.setPlaceholderText("Filter slides (Ctrl+F)")
        self.slide_filter.setClearButtonEnabled(True)
        self.slide_filter.textChanged.connect(self._filter_slides)
        self.problems = QListWidget()
        self.problems.setObjectName("problemsList")
        self.problems.setWordWrap(True)
        self.problems.setAlternatingRowColors(True)
        self.problems.itemActivated.connect(self._on_problem_activated)
        self.problems_label = plain_label("Problems")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.slide_filter)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.addWidget(self.tree)
        problems_box = QWidget()
        problems_layout = QVBoxLayout(problems_box)
        problems_layout.setContentsMargins(0, 4, 0, 0)
        problems_layout.addWidget(self.problems_label)
        problems_layout.addWidget(self.problems)
        self.left_splitter.addWidget(problems_box)
        self.left_splitter.setSizes([600, 160])
        left_layout.addWidget(self.left_splitter)

        self.grid = TileGridView()
        self.grid.setModel(self.tile_model)
        self.grid.selectionModel().currentChanged.connect(self._on_current_tile)
        self.grid.selectionModel().selectionChanged.connect(self._update_status)
        self.grid.activatedRow.connect(self._on_tile_activated)
        self.grid_label = plain_label("")
        self.clear_map_filter = QPushButton("Show all tiles")
        self.clear_map_filter.setVisible(False)
        self.clear_map_filter.clicked.connect(self.clear_region)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.grid_label, 1)
        bar.addWidget(self.clear_map_filter)
        center_layout.addLayout(bar)
        center_layout.addWidget(self.grid, 1)

        self.map = LocationMap()
        self.map.pointClicked.connect(self._on_map_point)
        self.map.regionSelected.connect(self._on_map_region)
        self.map.selectionCleared.connect(self.clear_region)
        self.viewer = TileViewer()
        self.viewer.previousRequested.connect(lambda: self.move_current(-1))
        self.viewer.nextRequested.connect(lambda: self.move_current(1))
        self.metadata = MetadataPanel()
        self.color_by = QComboBox()
        self.color_by.setObjectName("colorBy")
        self.color_by.setToolTip("Colour the map by slide or by a numeric field of the records")
        self.color_by.addItem("Colour by slide", "slide")
        self.color_by.currentIndexChanged.connect(self._on_color_by)
        self.color_legend = plain_label("")
        map_box = QWidget()
        map_layout = QVBoxLayout(map_box)
        map_layout.setContentsMargins(0, 0, 0, 0)
        map_bar = QHBoxLayout()
        map_bar.addWidget(self.color_by)
        map_bar.addWidget(self.color_legend, 1)
        map_layout.addLayout(map_bar)
        map_layout.addWidget(self.map, 1)
        self.map_note = plain_label("")  # says why the map shows fewer tiles than the grid, or none
        self.map_note.setObjectName("mapNote")
        self.map_note.setWordWrap(True)
        self.map_note.setVisible(False)
        map_layout.addWidget(self.map_note)
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(map_box)
        self.right_splitter.addWidget(self.viewer)
        self.right_splitter.addWidget(self.metadata)
        self.right_splitter.setSizes([380, 260, 260])

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.right_splitter)
        for column, stretch in enumerate((2, 5, 3)):  # a narrow window narrows every column, the grid most
            self.splitter.setStretchFactor(column, stretch)
        self.splitter.setSizes([300, 700, 440])

        self.welcome = self._build_welcome()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

        self.progress = StatusProgress()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel background work (Esc)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_background)
        self.status_label = plain_label("")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._on_escape)

    def _build_welcome(self) -> QWidget:
        page = QWidget()
        page.setObjectName("welcomeView")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        title = QLabel("<h1>tfr-viewer</h1><p>Browse the tiles of Slideflow / TensorFlow TFRecords: "
                       "where they sit on the slide, every field of every record, and whether the files are sound.</p>")
        title.setWordWrap(True)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for text, slot in [
            ("Open Folder…", self.choose_folder),
            ("Open File…", self.choose_file),
            ("Open demo dataset", self.open_demo),
            ("Convert images…", self.open_convert_wizard),
        ]:
            button = QPushButton(text)
            button.setMinimumHeight(36)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.welcome_recent = QListWidget()
        self.welcome_recent.setMaximumWidth(700)
        self.welcome_recent.itemActivated.connect(lambda item: self.open_path(item.text()))
        recent_box = QHBoxLayout()
        recent_box.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(plain_label("Recent:"))
        column.addWidget(self.welcome_recent)
        recent_box.addLayout(column)
        recent_box.addStretch(1)
        layout.addLayout(recent_box)
        layout.addStretch(2)
        return page

    def _show_welcome(self) -> None:
        self.welcome_recent.clear()
        for path in self.settings.get("recent/paths"):
            self.welcome_recent.addItem(path)
        self.stack.setCurrentWidget(self.welcome)

    # --- menus ---------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self._action(menu, "Open &File…", self.choose_file, QKeySequence.StandardKey.Open)
        self._action(menu, "Open F&older…", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = menu.addMenu("&Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        self._action(menu, "&Export selected tiles…", self.export_selected)
        self._action(menu, "Export &map as PNG…", self.export_map)
        menu.addSeparator()
        self._action(menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        menu = self.menuBar().addMenu("&View")
        sizes = menu.addMenu("&Thumbnail size")
        group = QActionGroup(self)
        for size in THUMB_SIZES:
            action = self._action(sizes, f"{size} px", lambda checked=False, s=size: self.set_thumb_size(s))
            action.setCheckable(True)
            action.setChecked(size == self.settings.get("view/thumb_size"))
            group.addAction(action)
        self.captions_action = self._action(menu, "Show &captions", self.set_captions)
        self.captions_action.setCheckable(True)
        self.captions_action.setChecked(self.settings.get("view/captions"))
        self.dark_action = self._action(menu, "&Dark theme", lambda on: self.set_theme("dark" if on else "light"))
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(self.settings.get("view/theme") == "dark")
        self._action(menu, "&Filter slides", self.slide_filter.setFocus, QKeySequence.StandardKey.Find)
        self._action(menu, "&Refresh (re-read changed files)", self.refresh_files, QKeySequence.StandardKey.Refresh)
        self._action(menu, "Select area on map", lambda on: self.map.set_select_mode(on)).setCheckable(True)

        menu = self.menuBar().addMenu("&Tools")
        self._action(menu, "&Convert images to TFRecords…", self.open_convert_wizard)
        self._action(menu, "&Verify selected files", self.verify_selected)
        self._action(menu, "&Rebuild indexes", self.rebuild_indexes)

        menu = self.menuBar().addMenu("&Help")
        self._action(menu, "&About tfr-viewer", self.show_about)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.get("recent/paths"):
            self._action(self.recent_menu, plain_menu_text(path), lambda checked=False, p=path: self.open_path(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # --- opening -------------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> None:
        self.open_paths([os.fspath(path)])

    def open_paths(self, paths: list[str]) -> None:
        """Start opening in the background; older results are ignored from now on."""
        self.generation += 1
        generation = self.generation
        for job in (self.open_job, self.index_job):
            if job is not None:
                job.cancel()
        self.index_job = None
        self.entries = []
        self._file_ids = {}
        self._tree_updates.clear()
        self._tree_timer.stop()
        self.selected_files = []
        self.tile_model.set_tiles([], [])
        self._map_generation += 1  # a map the worker may still be building is not wanted
        self._map_pending = False
        self._built_map = None
        self._map_timer.stop()
        self.map.clear_points()
        self.metadata.clear()
        self.viewer.clear()
        self.problems.clear()
        self._problem_items.clear()
        self._update_problems_label()
        self.tree_model.show_loading(paths)
        self.stack.setCurrentWidget(self.splitter)
        self.setWindowTitle(plain_title(f"tfr-viewer — {', '.join(Path(p).name or p for p in paths)}"))
        self._opening_paths = [os.path.abspath(p) for p in paths]  # Recent learns when they opened
        job = JobWorker(open_dataset_job(paths), "Opening", self)
        job.generation = generation
        job.result.connect(self._on_opened)
        job.failed.connect(self._on_open_failed)
        self.open_job = self._run(job, "Opening", report_failures=False, after_paint=True)

    # Worker signals are connected to bound methods only: a lambda would run in the worker's thread.
    @Slot(str, str)
    def _on_open_failed(self, message: str, details: str) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        self.tree_model.show_error(message)
        self.errors.report(message, details)
        for path in self._opening_paths:  # a path that is gone leaves Recent, not moves to its top
            self.settings.remove_recent(path)
        self.loaded.emit()

    @Slot(object)
    def _on_opened(self, result: OpenedDataset) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        self.entries = result.files
        for path in self._opening_paths:
            self.settings.add_recent(path)
        self._file_ids = {id(entry): i for i, entry in enumerate(self.entries)}
        self._tree_updates.clear()
        self.tree_model.set_entries(self.entries)
        self.tree.expandAll()
        for entry in self.entries:
            if entry.error:
                self._show_entry_problem(entry)
        for folder, why in result.unreadable_folders:  # never shown as an empty folder
            self._set_problems(folder, [f"{folder}: cannot read folder ({why}); its TFRecords are left out"])
        if not self.entries:
            self.status_label.setText(
                "Cannot read the folder (see Problems)" if result.unreadable_folders else "No .tfrecords files found"
            )
        first = next((i for i, e in enumerate(self.entries) if e.state == "indexed"), None)
        if first is None and self.entries:
            first = 0
        if first is not None:
            self.select_files([first])
        pending = [e for e in self.entries if e.state == "pending"]
        if pending:
            self._start_indexing(pending)
        self._watch_entries()
        self.loaded.emit()

    # --- files that change while open ------------------------------------------------------------
    def _watch_entries(self) -> None:
        """Watch the open files (a job may still be appending to them), a few per event-loop
        turn: adding a watch costs ~20 µs, which for thousands of files would pause the window."""
        watched = set(self.watcher.files())
        self._to_watch = [e.path for e in self.entries[:MAX_WATCHED_FILES] if e.state != "missing" and e.path not in watched]
        self._watch_some()  # the first ones at once: a file can change right after it opened

    @Slot()
    def _watch_some(self) -> None:
        batch, self._to_watch = self._to_watch[:WATCH_BATCH], self._to_watch[WATCH_BATCH:]
        if batch:
            self.watcher.addPaths(batch)
        if self._to_watch:
            self._watch_timer.start()

    @Slot(str)
    def _on_file_changed(self, _path: str) -> None:
        self._refresh_timer.start()

    def refresh_files(self) -> None:
        """Check sizes and times of the open files in a worker; changed ones are re-indexed."""
        if not self.entries or self.stat_job is not None:
            return
        self._last_refresh = time.monotonic()
        job = JobWorker(stat_files_job([e.path for e in self.entries]), "Checking files", self)
        job.generation = self.generation
        job.result.connect(self._on_stat)
        job.finished.connect(self._on_stat_done)
        self.stat_job = self._run(job, "Checking files")

    @Slot()
    def _on_stat_done(self) -> None:
        self.stat_job = None

    @Slot(object)
    def _on_stat(self, statuses: list) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        changed, reshow = [], False
        for status in statuses:
            entry = self.entries[status.file_id]
            if not status.exists:
                if entry.state != "missing":
                    entry.state, entry.index = "missing", None
                    entry.error = f"{entry.path}: the file was deleted or moved"
                    entry.version += 1
                    self._show_entry_problem(entry)
                    self.tree_model.update_entry(status.file_id, entry)
                    reshow |= status.file_id in self.selected_files
            elif (status.size, status.mtime_ns) != (entry.size, entry.mtime_ns) and entry.state != "pending":
                entry.state = "pending"
                entry.size, entry.mtime_ns = status.size, status.mtime_ns
                self.tree_model.update_entry(status.file_id, entry)
                changed.append(entry)
        if changed:
            self.statusBar().showMessage(f"{len(changed)} file(s) changed on disk: re-indexing", 5000)
            self._start_indexing(changed)
        if reshow:
            self._show_files(self.selected_files)
        self._watch_entries()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            if time.monotonic() - self._last_refresh > 2.0:
                self.refresh_files()

    def _start_indexing(self, entries: list[FileEntry]) -> None:
        job = IndexBuilderWorker(entries, self)
        job.generation = self.generation
        job.fileIndexed.connect(self._on_file_indexed)
        job.finished.connect(self._on_indexing_done)
        self.index_job = job
        self._run(job, f"Indexing {len(entries)} file(s)", after_paint=True)

    @Slot(object, object)
    def _on_file_indexed(self, entry: FileEntry, result: IndexResult) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        file_id = self._file_ids.get(id(entry))
        if file_id is None or self.entries[file_id] is not entry:
            return
        entry.apply(result)
        self._tree_updates.add(file_id)
        if not self._tree_timer.isActive():
            self._tree_timer.start()
        self._show_entry_problem(entry)
        if file_id in self.selected_files:
            current = self.grid.currentIndex()
            key = self.tile_model.key(current.row()) if current.isValid() else None
            self.tile_model.forget_file(file_id)
            self._show_files(self.selected_files)
            if key is not None:  # stay on the tile the user was looking at, if it still exists
                all_row = self.tile_model.all_row_of(*key)
                if all_row is not None:
                    self.select_all_row(all_row)

    @Slot()
    def _update_tree(self) -> None:
        """Show the files indexed since the last update (a tree update per file, at ~70 files a
        second, kept the tree repainting; ten updates a second look the same)."""
        self._tree_timer.stop()
        for file_id in sorted(self._tree_updates):
            self.tree_model.update_entry(file_id, self.entries[file_id])
        self._tree_updates.clear()

    @Slot()
    def _on_indexing_done(self) -> None:
        job = self.sender()
        if job is self.index_job:
            self.index_job = None
        if getattr(job, "generation", None) == self.generation:
            self._update_tree()
            self.indexingFinished.emit()

    def _show_entry_problem(self, entry: FileEntry) -> None:
        """The file's problem from its last indexing, or none (a file that reads well again)."""
        if entry.error:
            text = entry.error if entry.path in entry.error else f"{entry.path}: {entry.error}"
            self._set_problems(entry.path, [text])
        elif entry.path in self._problem_items:
            self._set_problems(entry.path, [])

    def _set_problems(self, path: str, lines: list[str]) -> None:
        """The Problems list holds the latest word on each file: its lines are replaced, not added to."""
        for item in self._problem_items.pop(path, []):
            self.problems.takeItem(self.problems.row(item))
        items = []
        for text in lines:
            item = QListWidgetItem(text)
            item.setToolTip(plain_tooltip(text))
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setForeground(problem_color())
            self.problems.addItem(item)
            items.append(item)
        if items:
            self._problem_items[path] = items
        self._update_problems_label()

    def _update_problems_label(self) -> None:
        n = self.problems.count()
        self.problems_label.setText(f"Problems ({n})" if n else "Problems: none")

    def _on_problem_activated(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        for i, entry in enumerate(self.entries):
            if entry.path == path:
                self.select_files([i])
                return

    # --- background jobs -----------------------------------------------------------------------
    def _run(self, job: JobWorker, label: str, report_failures: bool = True, after_paint: bool = False) -> JobWorker:
        """Start a job; `after_paint` starts it once the window has painted what it shows now
        (a job's Python work makes the GUI thread wait for the GIL, and a first paint is long)."""
        self._jobs.add(job)
        job.label = label
        job.progress.connect(self._on_progress)
        if report_failures:
            job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_job_finished)
        self.progress.setVisible(True)
        self.progress.set_progress(0, 0, label)
        self.cancel_button.setVisible(True)
        if after_paint:
            self._jobs_to_start.append(job)
            self._start_timer.start()  # a timer fires after the event-loop pass that paints
        else:
            job.start()
        return job

    @Slot()
    def _start_jobs(self) -> None:
        jobs, self._jobs_to_start = self._jobs_to_start, []
        for job in jobs:
            job.start()

    @Slot(str, str)
    def _on_job_failed(self, message: str, details: str) -> None:
        self.errors.report(message, details)

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        label = getattr(self.sender(), "label", "Working")
        self.progress.set_progress(done, total, label)
        shown = self.statusBar().currentMessage()
        if message and (not shown or shown == self._progress_message):  # a result or error stays shown
            self._progress_message = f"{label}: {Path(message).name}"
            self.statusBar().showMessage(self._progress_message, 2000)

    @Slot()
    def _on_job_finished(self) -> None:
        job = self.sender()
        self._jobs.discard(job)
        if job.thread is not None:
            job.thread.wait(1000)
        if not self._jobs:
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)
            if self.statusBar().currentMessage() == self._progress_message:
                self.statusBar().clearMessage()  # progress only: a job's result message stays

    def busy(self) -> bool:
        return bool(self._jobs)

    def cancel_background(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        self._start_jobs()  # jobs not started yet end at once, cancelled, like the others
        self.statusBar().showMessage("Cancelled", 3000)

    def _on_escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and self.viewer.isAncestorOf(focus):  # back from the tile to the grid
            self.grid.setFocus()
        elif self._jobs:
            self.cancel_background()
        elif self.tile_model.is_filtered():
            self.clear_region()

    # --- selection -----------------------------------------------------------------------------
    def select_files(self, file_ids: list[int]) -> None:
        """Select these files in the tree (which shows their tiles), in one selection change."""
        selection = QItemSelection()
        first = last = QModelIndex()
        for file_id in file_ids:
            index = self._tree_index(file_id)
            if not index.isValid():
                continue
            if last.isValid() and index.row() == last.row() + 1 and index.parent() == last.parent():
                last = index  # one range for neighbouring rows: 500 ranges cost the tree ~10 ms
                continue
            if first.isValid():
                selection.select(first, last.siblingAtColumn(1))
            first = last = index
        if first.isValid():
            selection.select(first, last.siblingAtColumn(1))
        self.tree.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if last.isValid():
            self.tree.scrollTo(last)

    def _tree_index(self, file_id: int) -> QModelIndex:
        return self.tree_proxy.mapFromSource(self.tree_model.index_of_file(file_id))

    @Slot(str)
    def _filter_slides(self, text: str) -> None:
        """Filter the tree's names; what the grid shows stays (the filter only hides rows), and
        the shown files are selected again among the rows that remain."""
        self._filtering = True
        try:
            self.tree_proxy.setFilterFixedString(text)
            if self.selected_files:
                self.select_files(self.selected_files)
        finally:
            self._filtering = False

    def _on_tree_selection(self, *_: Any) -> None:
        if self._filtering:
            return
        ids: list[int] = []
        for index in self.tree.selectionModel().selectedRows(0):
            file_id = self.tree_proxy.mapToSource(index).data(FILE_ID_ROLE)
            if file_id is None:
                continue
            if file_id == -1:  # a source folder: its files the slide filter shows
                ids += [self.tree_proxy.index(r, 0, index).data(FILE_ID_ROLE) for r in range(self.tree_proxy.rowCount(index))]
            else:
                ids.append(int(file_id))
        ids = sorted(set(ids))
        if ids != self.selected_files:
            self._show_files(ids)

    def _show_files(self, file_ids: list[int]) -> None:
        self.selected_files = file_ids
        self.tile_model.set_tiles(self.entries, file_ids)
        self.clear_map_filter.setVisible(False)
        self._reset_color_choices()
        self.metadata.clear()
        self.viewer.clear()
        self._update_status()
        if len(self.tile_model.file_of):
            self.grid.set_current_row_quietly(0)
        self._request_map()

    def _map_parts(self) -> list[tuple[int, np.ndarray, int]]:
        """(file id, locations, first tile row) of the selected files whose index has locations."""
        parts, start = [], 0
        for fid in self.selected_files:
            entry = self.entries[fid]
            locs = entry.index.locations if entry.index is not None else None
            if locs is not None and len(locs) == entry.count:
                parts.append((fid, locs, start))
            start += entry.count
        return parts

    def _request_map(self) -> None:
        """Have the map's points built in the worker (for 100,000 tiles that work would pause
        the window); `_on_map_built` shows them and emits `mapFilled`."""
        self._map_generation += 1
        self._map_pending = True
        self._built_map = None
        self._map_timer.stop()
        self.map_builder.submit([BuildRequest(self._map_generation, partial(selection_points, self._map_parts()))])

    @Slot(int, object)
    def _on_map_built(self, generation: int, points: object) -> None:
        if generation != self._map_generation or not self._map_pending:
            return  # an answer for a selection that was replaced
        if isinstance(points, Exception):
            self.errors.report(f"Could not draw the map: {points}")
            points = None
        self._built_map = (generation, points)
        self._map_timer.start()

    @Slot()
    def _show_built_map(self) -> None:
        built, self._built_map = self._built_map, None
        if built is not None and built[0] == self._map_generation and self._map_pending:
            self._show_map(built[1])

    def _show_map(self, points: MapPoints | None) -> None:
        self._map_pending = False
        self._map_rows = points.rows if points is not None else np.zeros(0, np.int64)
        self._update_map_note()
        if points is not None:
            self.map.show_points(points)
        else:
            self.map.clear_points()
        current = self.grid.currentIndex()
        if current.isValid():
            self.map.set_current(self.tile_model.all_row(current.row()))
        self.mapFilled.emit()

    def _update_map_note(self) -> None:
        tiles = len(self.tile_model.file_of)
        mapped = sum(len(locs) for _, locs, _ in self._map_parts())
        shown = [self.entries[f] for f in self.selected_files if self.entries[f].count]
        waiting = sum(e.index is None for e in shown)
        without = sum(e.index is not None and e.index.locations is None for e in shown)
        if not tiles or mapped == tiles:
            note = ""
        elif not mapped and not waiting:
            note = "No tile locations: the selected file(s) have no loc_x/loc_y fields."
        else:
            reasons = [f"{without} file(s) have no loc_x/loc_y fields"] if without else []
            reasons += [f"{waiting} file(s) are still being indexed"] if waiting else []
            note = f"The map shows {mapped:,} of {tiles:,} tiles: {'; '.join(reasons) or 'some files have no locations'}."
        self.map_note.setText(note)
        self.map_note.setVisible(bool(note))

    # --- colouring the map ----------------------------------------------------------------------
    def _reset_color_choices(self) -> None:
        self.color_by.blockSignals(True)
        self.color_by.clear()
        self.color_by.addItem("Colour by slide", "slide")
        self.color_by.addItem("Colour by record order", "#order")
        self.color_by.blockSignals(False)
        self.color_legend.setText("")
        self._numeric_fields_known = False

    def _offer_numeric_fields(self, details: dict) -> None:
        """Numeric single-valued fields of the current record become colouring choices."""
        if self._numeric_fields_known:
            return
        self._numeric_fields_known = True
        for field in details.get("fields", []):
            if field.get("kind") in ("int", "float") and len(field.get("values", [])) == 1:
                self.color_by.addItem(f"Colour by {field['name']}", field["name"])

    def _ensure_map_filled(self) -> None:
        """Colours refer to the map's points: fill it now if the worker has not answered yet."""
        if not self._map_pending:
            return
        if self._built_map is not None and self._built_map[0] == self._map_generation:
            self._map_timer.stop()
            self._show_built_map()
        else:
            self._map_generation += 1  # the worker's answer, when it comes, is stale
            self._show_map(selection_points(self._map_parts()))

    @Slot(int)
    def _on_color_by(self, _index: int) -> None:
        self._ensure_map_filled()
        choice = self.color_by.currentData()
        if choice in (None, "slide"):
            self.map.set_color_values(None)
            self.color_legend.setText("")
            return
        if choice == "#order":
            self._show_color_values(self.tile_model.record_of[self._map_rows].astype(np.float64), "record")
            return
        if choice in ("loc_x", "loc_y"):
            xy = self.map.point_xy()
            self._show_color_values(xy[:, 0 if choice == "loc_x" else 1], choice)
            return
        file_ids = list(self.selected_files)
        worker = JobWorker(read_field_job(self.entries, file_ids, choice), f"Reading {choice}", self)
        worker.generation = (self.generation, tuple(file_ids), choice)
        worker.result.connect(self._on_field_values)
        self._run(worker, f"Reading {choice}")

    @Slot(object)
    def _on_field_values(self, result: tuple) -> None:
        if getattr(self.sender(), "generation", None) != (self.generation, tuple(self.selected_files), self.color_by.currentData()):
            return
        values, problems = result
        if problems:  # the readable tiles are coloured; the others keep the lowest colour
            self.errors.report(f"{len(problems)} file(s) could not be read whole for colouring: {problems[0]}",
                               "\n".join(problems), dialog=False)
        self._ensure_map_filled()
        self._show_color_values(values[self._map_rows], self.color_by.currentData())

    def _show_color_values(self, values: np.ndarray, name: str) -> None:
        span = self.map.set_color_values(values)
        self.color_legend.setText(f"{name}: {span[0]:g} (purple) … {span[1]:g} (yellow)" if span else "")

    def _update_status(self, *_: Any) -> None:
        shown, total = len(self.tile_model.rows), len(self.tile_model.file_of)
        files = len(self.selected_files)
        text = f"{total:,} tiles in {files} file(s)" if shown == total else f"{shown:,} of {total:,} tiles (map area)"
        troubled = sum(1 for f in self.selected_files if self.entries[f].error)
        if troubled:
            text += f" · {troubled} file(s) with a problem (see Problems)"
        selected = self._selected_count()
        if selected > 1:
            text += f" · {selected:,} selected"
        self.grid_label.setText(text)

    def _selected_count(self) -> int:
        """Selected tiles, counted from the selection's row ranges (listing its indexes costs a
        call into the model per tile: 100,000 after select-all)."""
        count, end = 0, -1
        for top, bottom in sorted((r.top(), r.bottom()) for r in self.grid.selectionModel().selection()):
            if bottom > end:
                count += bottom - max(top, end + 1) + 1
                end = bottom
        return count

    def _on_current_tile(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = current.row()
        key = self.tile_model.key(row)
        all_row = self.tile_model.all_row(row)
        if not self._map_pending:  # else the map still shows the previous selection: `_show_map` rings it
            self.map.set_current(all_row)
        self.reader.submit([RecordRequest(self.tile_model.generation, row, key, self.entries[key[0]])])

    @Slot(object)
    def _on_record(self, details: dict) -> None:
        current = self.grid.currentIndex()
        if not current.isValid() or details.get("key") != self.tile_model.key(current.row()):
            return  # an answer for a tile that is no longer current
        self.metadata.show_record(details)
        self._offer_numeric_fields(details)
        if details.get("error"):
            self.viewer.show_message(details["error"])
        else:
            entry = self.entries[details["key"][0]]
            loc = self.tile_model.location(self.tile_model.all_row(current.row()))
            title = f"{entry.slide} · record {details['index']}" + (f" · x {loc[0]}, y {loc[1]}" if loc else "")
            if "qimage" in details:
                self.viewer.show_image(details["qimage"], title)
            else:
                self.viewer.show_message(details.get("image_error", "no image in this record"))
        self.recordShown.emit()

    @Slot(int)
    def _on_map_point(self, all_row: int) -> None:
        if not self._map_pending:  # else the map still shows the previous selection's tiles
            self.select_all_row(all_row)

    @Slot(object)
    def _on_map_region(self, all_rows: np.ndarray) -> None:
        if not self._map_pending:
            self.apply_region(all_rows)

    def select_all_row(self, all_row: int) -> None:
        """Make the tile with this overall number current (clearing a map filter that hides it)."""
        row = self.tile_model.row_of_all(all_row)
        if row is None:
            self.clear_region()
            row = self.tile_model.row_of_all(all_row)
        if row is not None:
            index = self.tile_model.index(row)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)

    def move_current(self, step: int) -> None:
        row = self.grid.currentIndex().row() + step
        if 0 <= row < self.tile_model.rowCount():
            self.grid.setCurrentIndex(self.tile_model.index(row))

    def apply_region(self, all_rows: np.ndarray) -> None:
        self.tile_model.set_filter(all_rows)
        self.clear_map_filter.setVisible(True)
        self._update_status()
        if self.tile_model.rowCount():
            self.grid.set_current_row_quietly(0)

    def clear_region(self) -> None:
        """Show every tile again, staying on the current one."""
        if self.tile_model.is_filtered():
            current = self.grid.currentIndex()
            keep = self.tile_model.all_row(current.row()) if current.isValid() else None
            self.tile_model.set_filter(None)
            if keep is not None:
                self.select_all_row(keep)
        self.clear_map_filter.setVisible(False)
        self._update_status()

    def _on_tile_activated(self, row: int) -> None:
        self.viewer.fit()
        self.viewer.view.setFocus()

    # --- tools ---------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open TFRecord", "", "TFRecords (*.tfrecords);;All files (*)")
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder of TFRecords")
        if path:
            self.open_path(path)

    def open_demo(self) -> None:
        job = JobWorker(demo_dataset_job(), "Preparing demo", self)
        job.result.connect(self._on_demo_ready)
        self._run(job, "Preparing demo dataset")

    @Slot(object)
    def _on_demo_ready(self, folder: object) -> None:
        self.open_path(str(folder))

    def open_convert_wizard(self) -> None:
        try:
            from .wizard import ConvertWizard
        except ImportError:
            QMessageBox.information(self, "tfr-viewer", "The conversion wizard is not available in this build.\n"
                                    "Use the command line: tfr-viewer convert SRC DEST")
            return
        self.wizard = ConvertWizard(self, open_in_viewer=self.open_path)
        self.wizard.show()

    def selected_keys(self) -> list[tuple[int, int]]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.tile_model.key(r) for r in rows]

    def export_selected(self) -> None:
        keys = self.selected_keys()
        if not keys:
            QMessageBox.information(self, "tfr-viewer", "Select tiles in the grid first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Export tiles to folder")
        if folder:
            self.export_tiles(keys, folder)

    def export_tiles(self, keys: list[tuple[int, int]], folder: str) -> JobWorker:
        worker = JobWorker(export_tiles_job(self.entries, keys, folder), "Exporting", self)
        worker.result.connect(self._on_exported)
        return self._run(worker, "Exporting tiles")

    @Slot(object)
    def _on_exported(self, report: Any) -> None:
        folder = Path(report.written[0]).parent if report.written else ""
        if report.skipped:
            self.errors.report(
                f"{len(report.skipped)} tile(s) not exported: their image is missing or does not decode",
                "\n".join(reason for _, reason in report.skipped),
            )
        self.statusBar().showMessage(
            f"Exported {len(report.written)} tile(s) to {folder}"
            + (f"; {len(report.skipped)} skipped" if report.skipped else ""), 10000)

    def export_map(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export map", "map.png", "PNG images (*.png)")
        if path and not path.lower().endswith(".png"):
            path += ".png"
        if path and not self.map.export_png(path):
            self.errors.report(f"Could not write {path}")

    def verify_selected(self) -> None:
        entries = [self.entries[i] for i in self.selected_files] or list(self.entries)
        if not entries:
            return

        worker = JobWorker(verify_files_job([e.path for e in entries]), "Verifying", self)
        worker.result.connect(self._on_verified)
        self._run(worker, f"Verifying {len(entries)} file(s)")

    @Slot(object)
    def _on_verified(self, reports: list) -> None:
        bad = [r for r in reports if not r.ok]
        file_ids = {entry.path: i for i, entry in enumerate(self.entries)}
        for report in reports:  # verify read every record: its word replaces the file's problems
            lines = [f"{report.path}, record {problem.index}, byte offset {problem.offset}: {problem.reason}"
                     for problem in report.problems]
            self._set_problems(report.path, lines)
            file_id = file_ids.get(report.path)
            if lines and file_id is not None and not self.entries[file_id].error:
                self.entries[file_id].error = lines[0]  # the tree and the grid label show it too
                self.tree_model.update_entry(file_id, self.entries[file_id], update_totals=False)
        self._update_status()
        good = len(reports) - len(bad)
        self.statusBar().showMessage(f"Verify: {good} of {len(reports)} file(s) OK", 10000)

    def rebuild_indexes(self) -> None:
        ids = self.selected_files or list(range(len(self.entries)))
        for i in ids:
            self.entries[i].state = "pending"
            self.tree_model.update_entry(i, self.entries[i])
        self._start_indexing([self.entries[i] for i in ids])

    def set_thumb_size(self, size: int) -> None:
        """New thumbnails for the same tiles: the current tile and the selection stay."""
        keep = self.grid.currentIndex().row()
        ranges = [(r.top(), r.bottom()) for r in self.grid.selectionModel().selection()]
        self.settings.set("view/thumb_size", size)
        self.tile_model.set_thumb_size(size)  # a model reset: it forgets current and selection
        self.grid.set_thumb_size(size, self.tile_model.show_captions)
        selection = QItemSelection()
        for top, bottom in ranges:
            selection.select(self.tile_model.index(top), self.tile_model.index(bottom))
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if 0 <= keep < self.tile_model.rowCount():
            index = self.tile_model.index(keep)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.grid.scrollTo(index)

    def set_captions(self, on: bool) -> None:
        self.settings.set("view/captions", bool(on))
        self.tile_model.set_show_captions(bool(on))
        self.grid.set_thumb_size(self.tile_model.thumb_size, bool(on))

    def set_theme(self, theme: str) -> None:
        self.settings.set("view/theme", theme)
        app = QApplication.instance()
        if theme == "dark":
            palette = QPalette()
            for role, color in [
                (QPalette.ColorRole.Window, "#2b2b2e"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
                (QPalette.ColorRole.Base, "#1f1f22"), (QPalette.ColorRole.AlternateBase, "#2b2b2e"),
                (QPalette.ColorRole.Text, "#e8e8e8"), (QPalette.ColorRole.Button, "#3a3a3e"),
                (QPalette.ColorRole.ButtonText, "#e8e8e8"), (QPalette.ColorRole.Highlight, "#3d7bd9"),
                (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#2b2b2e"),
                (QPalette.ColorRole.ToolTipText, "#e8e8e8"), (QPalette.ColorRole.PlaceholderText, "#9a9aa0"),
            ]:
                palette.setColor(role, QColor(color))
            for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
                palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a80"))  # greyed out
            app.setPalette(palette)
        else:
            app.setPalette(app.style().standardPalette())
        self.map.set_dark(theme == "dark")
        for row in range(self.problems.count()):  # problem red that reads on the new background
            self.problems.item(row).setForeground(problem_color())
        for file_id, entry in enumerate(self.entries):
            if entry.error:  # the files shown in problem red
                self.tree_model.update_entry(file_id, entry, update_totals=False)

    def show_about(self) -> None:
        import google.protobuf
        import PySide6
        import pyqtgraph
        from PySide6.QtCore import qVersion

        QMessageBox.about(
            self,
            "About tfr-viewer",
            f"<h3>tfr-viewer {__version__}</h3><p>A fast inspector for TFRecord datasets of image tiles.</p>"
            f"<p>Python {platform.python_version()} · Qt {qVersion()} · PySide6 {PySide6.__version__} · "
            f"pyqtgraph {pyqtgraph.__version__} · numpy {np.__version__} · protobuf {google.protobuf.__version__}</p>",
        )

    # --- window lifetime -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):  # a web link cannot be opened
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def reset_layout(self) -> None:
        self.splitter.setSizes([300, 700, 440])
        self.right_splitter.setSizes([380, 260, 260])
        self.left_splitter.setSizes([600, 160])

    def _restore_settings(self) -> None:
        geometry = self.settings.get("window/geometry")
        if geometry:
            self.restoreGeometry(geometry)
        splitter = self.settings.get("window/splitter")
        if splitter:
            self.splitter.restoreState(splitter)
        right = self.settings.get("window/right_splitter")
        if right:
            self.right_splitter.restoreState(right)
        left = self.settings.get("window/left_splitter")
        if left:
            self.left_splitter.restoreState(left)
        size = self.settings.get("view/thumb_size")
        self.tile_model.show_captions = self.settings.get("view/captions")
        if size != self.tile_model.thumb_size:
            self.tile_model.set_thumb_size(size)
        self.grid.set_thumb_size(size, self.tile_model.show_captions)
        if self.settings.get("view/theme") == "dark":
            self.set_theme("dark")

    def shutdown(self, wait_s: float | None = None) -> None:
        """Cancel every worker and wait for them, `wait_s` in all. A thread still busy then
        (a read the OS does not interrupt) is orphaned: it ends on its own, never destroyed
        while it runs (which would abort the process). A second call (the app's, after the
        window's own on close) finds nothing left to wait for."""
        if self._shut_down:
            return
        self._shut_down = True
        self._start_timer.stop()
        self._jobs_to_start = []
        requests = (self.thumbs, self.reader, self.map_builder)
        for job in list(self._jobs):
            job.cancel()
        for worker in requests:
            worker.request_stop()
        deadline = time.monotonic() + (SHUTDOWN_WAIT_S if wait_s is None else wait_s)
        left_ms = lambda: max(0, int(1000 * (deadline - time.monotonic())))  # noqa: E731
        for job in list(self._jobs):
            job.wait(left_ms())
        for worker in requests:
            worker.stop(left_ms())

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/splitter", self.splitter.saveState())
        self.settings.set("window/right_splitter", self.right_splitter.saveState())
        self.settings.set("window/left_splitter", self.left_splitter.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
