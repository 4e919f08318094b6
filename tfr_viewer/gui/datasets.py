"""The opened dataset: opening, Recent, watching files on disk, background indexing, Problems.

Every worker slot checks the job's generation: a job started for a previous opening reports
into nothing. Worker signals are connected to bound methods only: a lambda would run in the
worker's thread.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QStatusBar

from ..core.catalog import FileEntry, OpenedDataset, disk_changes, open_dataset_job, stat_files_job
from ..core.index import IndexResult
from .jobs import JobRunner
from .models import DatasetTreeModel
from .settings import Settings
from .widgets.problems import ProblemsPanel
from .workers import IndexBuilderWorker, JobWorker

MAX_WATCHED_FILES = 2000  # inotify watches are a per-user resource
WATCH_BATCH = 64  # files given to the watcher per event-loop turn
TREE_UPDATE_MS = 100  # files indexed in the background reach the tree at most this often
REFRESH_DELAY_MS = 300  # a file that changes is re-read once its writer pauses this long


class DatasetController(QObject):
    """The files of the opened paths (`entries`, in tree order) and what happens to them."""

    opened = Signal(str)  # the tree is filled; a note for the status line when no file was found
    loaded = Signal()  # opening ended, with files or with an error
    fileIndexed = Signal(int)  # a file's index was (re)built: its tiles may have changed
    filesChanged = Signal(list)  # these files went missing on disk
    indexingFinished = Signal()

    def __init__(self, settings: Settings, jobs: JobRunner, problems: ProblemsPanel,
                 status_bar: QStatusBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.jobs = jobs
        self.problems = problems
        self.status_bar = status_bar
        self.entries: list[FileEntry] = []
        self.generation = 0
        self.tree_model = DatasetTreeModel(self)
        self.open_job: JobWorker | None = None
        self.index_job: IndexBuilderWorker | None = None
        self.stat_job: JobWorker | None = None
        self._opening_paths: list[str] = []
        self._file_ids: dict[int, int] = {}  # id(entry) -> its index in self.entries
        self._tree_updates: set[int] = set()  # files indexed since the tree last showed them
        self._tree_timer = QTimer(self)
        self._tree_timer.setSingleShot(True)
        self._tree_timer.setInterval(TREE_UPDATE_MS)
        self._tree_timer.timeout.connect(self._update_tree)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._on_file_changed)
        self._to_watch: list[str] = []
        self._watch_timer = QTimer(self)
        self._watch_timer.setSingleShot(True)
        self._watch_timer.setInterval(0)
        self._watch_timer.timeout.connect(self._watch_some)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh_files)
        self.last_refresh = 0.0

    # --- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[str]) -> None:
        """Start opening in the background; older results are ignored from now on."""
        self.generation += 1
        for job in (self.open_job, self.index_job):
            if job is not None:
                job.cancel()
        self.index_job = None
        self.entries = []
        self._file_ids = {}
        self._tree_updates.clear()
        self._tree_timer.stop()
        self.problems.clear()
        self.tree_model.show_loading(paths)
        self._opening_paths = [os.path.abspath(p) for p in paths]  # Recent learns when they opened
        job = JobWorker(open_dataset_job(paths), "Opening", self)
        job.generation = self.generation
        job.result.connect(self._on_opened)
        job.failed.connect(self._on_open_failed)
        self.open_job = self.jobs.run(job, "Opening", report_failures=False, after_paint=True)

    def first_file_to_show(self) -> int | None:
        """The first indexed file, else the first file, else None."""
        first = next((i for i, e in enumerate(self.entries) if e.state == "indexed"), None)
        return 0 if first is None and self.entries else first

    def file_id_of(self, path: str) -> int | None:
        return next((i for i, entry in enumerate(self.entries) if entry.path == path), None)

    @Slot(str, str)
    def _on_open_failed(self, message: str, details: str) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        self.tree_model.show_error(message)
        self.jobs.errors.report(message, details)
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
        for entry in self.entries:
            if entry.error:
                self._show_entry_problem(entry)
        for folder, why in result.unreadable_folders:  # never shown as an empty folder
            self.problems.set_problems(folder, [f"{folder}: cannot read folder ({why}); its TFRecords are left out"])
        note = ""
        if not self.entries:
            note = "Cannot read the folder (see Problems)" if result.unreadable_folders else "No .tfrecords files found"
        self.opened.emit(note)
        pending = [e for e in self.entries if e.state == "pending"]
        if pending:
            self.start_indexing(pending)
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
        self.last_refresh = time.monotonic()
        job = JobWorker(stat_files_job([e.path for e in self.entries]), "Checking files", self)
        job.generation = self.generation
        job.result.connect(self._on_stat)
        job.finished.connect(self._on_stat_done)
        self.stat_job = self.jobs.run(job, "Checking files")

    @Slot()
    def _on_stat_done(self) -> None:
        self.stat_job = None

    @Slot(object)
    def _on_stat(self, statuses: list) -> None:
        if getattr(self.sender(), "generation", None) != self.generation:
            return
        changes = disk_changes(self.entries, statuses)
        missing = [status.file_id for status in changes.deleted]
        for status in changes.deleted:
            entry = self.entries[status.file_id]
            entry.mark_missing()
            self._show_entry_problem(entry)
            self.tree_model.update_entry(status.file_id, entry)
        changed = []
        for status in changes.changed:
            entry = self.entries[status.file_id]
            entry.mark_changed(status)
            self.tree_model.update_entry(status.file_id, entry)
            changed.append(entry)
        if changed:
            self.status_bar.showMessage(f"{len(changed)} file(s) changed on disk: re-indexing", 5000)
            self.start_indexing(changed)
        if missing:
            self.filesChanged.emit(missing)
        self._watch_entries()

    # --- indexing ------------------------------------------------------------------------------
    def start_indexing(self, entries: list[FileEntry]) -> None:
        job = IndexBuilderWorker(entries, self)
        job.generation = self.generation
        job.fileIndexed.connect(self._on_file_indexed)
        job.finished.connect(self._on_indexing_done)
        self.index_job = job
        self.jobs.run(job, f"Indexing {len(entries)} file(s)", after_paint=True)

    def rebuild_indexes(self, file_ids: list[int]) -> None:
        """Index these files again, whatever their index says."""
        for i in file_ids:
            self.entries[i].state = "pending"
            self.tree_model.update_entry(i, self.entries[i])
        self.start_indexing([self.entries[i] for i in file_ids])

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
        self.fileIndexed.emit(file_id)

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

    # --- problems ------------------------------------------------------------------------------
    def _show_entry_problem(self, entry: FileEntry) -> None:
        """The file's problem from its last indexing, or none (a file that reads well again)."""
        if entry.error:
            text = entry.error if entry.path in entry.error else f"{entry.path}: {entry.error}"
            self.problems.set_problems(entry.path, [text])
        elif self.problems.has_problems(entry.path):
            self.problems.set_problems(entry.path, [])

    def show_verify_reports(self, reports: list) -> None:
        """Verify read every record: its word replaces each file's problems."""
        file_ids = {entry.path: i for i, entry in enumerate(self.entries)}
        for report in reports:
            lines = [f"{report.path}, record {problem.index}, byte offset {problem.offset}: {problem.reason}"
                     for problem in report.problems]
            self.problems.set_problems(report.path, lines, [problem.index for problem in report.problems])
            file_id = file_ids.get(report.path)
            if lines and file_id is not None and not self.entries[file_id].error:
                self.entries[file_id].error = lines[0]  # the tree and the grid label show it too
                self.tree_model.update_entry(file_id, self.entries[file_id], update_totals=False)

    def recolor_problems(self) -> None:
        """Problem red again after a theme change: the Problems lines and the files in the tree."""
        self.problems.recolor()
        for file_id, entry in enumerate(self.entries):
            if entry.error:
                self.tree_model.update_entry(file_id, entry, update_totals=False)
