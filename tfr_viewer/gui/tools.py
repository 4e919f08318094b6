"""The window's tools: open dialogs, the demo, export, verify, rebuild indexes, convert, About."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from ..core.catalog import iter_verify_files
from ..core.progress import CancelToken, Job, Progress
from ..core.read_only import read_only, set_read_only
from ..core.export_selection import estimate_export, export_selection_job
from ..demo import demo_dataset_job
from .browser import Browser
from .datasets import DatasetController
from .export_dialog import ExportDialog, selected_keys_array
from .jobs import JobRunner
from .mosaic_workers import save_png_job
from .plain import plain_message_box
from .widgets.map_export import EXPORT_WIDTH, MAX_EXPORT_SIDE, render_map
from .workers import JobWorker

if TYPE_CHECKING:  # pyqtgraph: the map is built after the first screen
    from .widgets.location_map import LocationMap


class Tools(QObject):
    """Commands that ask the user something or run a job over the selection, then report."""

    openRequested = Signal(str)  # a file or folder the user chose (or the demo) is to be opened
    mapExported = Signal()  # the map's PNG is written

    def __init__(self, window: QWidget, datasets: DatasetController, browser: Browser,
                 location_map: LocationMap | None, jobs: JobRunner) -> None:
        super().__init__(window)
        self.dialog_parent = window  # dialogs open over the window
        self.datasets, self.browser, self.map, self.jobs = datasets, browser, location_map, jobs
        self.wizard: QWidget | None = None
        self.slides: QWidget | None = None  # the View -> Slides table, while open
        self.fields: Any = None  # the window's FieldStore: label counts for the Slides table
        datasets.rebuildFinished.connect(self._on_rebuilt)
        self.export_dialog: ExportDialog | None = None
        self.export_folder = ""  # the last export's folder, proposed again

    # --- opening -------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open TFRecord", "", "TFRecords (*.tfrecords *.tfrecord *.tfr *.gz *.zlib);;All files (*)")
        if path:
            self.openRequested.emit(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.dialog_parent, "Open folder of TFRecords")
        if path:
            self.openRequested.emit(path)

    def choose_url(self) -> None:
        """A dataset in the cloud (`s3://bucket/folder`, `gs://...`, `https://...`): opened in the
        background like a folder; what cannot be read is said in the tree and Problems."""
        url, accepted = QInputDialog.getText(
            self.dialog_parent, "Open URL", "URL of a TFRecord or a folder (s3://bucket/folder, gs://, https://):"
        )
        url = url.strip()
        if accepted and url:
            self.openRequested.emit(url)

    def open_demo(self) -> None:
        job = JobWorker(demo_dataset_job(), "Preparing demo", self)
        job.result.connect(self._on_demo_ready)
        self.jobs.run(job, "Preparing demo dataset")

    @Slot(object)
    def _on_demo_ready(self, folder: object) -> None:
        self.openRequested.emit(str(folder))

    def open_convert_wizard(self, source: str | None = None) -> None:
        try:
            from .wizard import ConvertWizard
        except ImportError:
            QMessageBox.information(self.dialog_parent, "tfr-viewer", "The conversion wizard is not available in this build.\n"
                                    "Use the command line: tfr-viewer convert SRC DEST")
            return
        self.wizard = ConvertWizard(self.dialog_parent, source=source or None, open_in_viewer=self.openRequested.emit)
        self.wizard.show()

    # --- export --------------------------------------------------------------------------------
    def export_selected(self) -> ExportDialog | None:
        """Ask where and how (saying what will be written), then export in the background."""
        keys = selected_keys_array(self.browser.grid.selectionModel(), self.browser.tile_model)
        if not len(keys):
            QMessageBox.information(self.dialog_parent, "tfr-viewer", "Select tiles in the grid first.")
            return None
        entries = self.datasets.entries
        folder = self.export_folder or str(Path(entries[int(keys[0, 0])].path).parent / "exported_tiles")
        dialog = ExportDialog(estimate_export(entries, keys), folder, self.dialog_parent)
        dialog.accepted.connect(lambda: self._export_chosen(dialog, keys))
        dialog.finished.connect(dialog.deleteLater)
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def _export_chosen(self, dialog: ExportDialog, keys: np.ndarray) -> None:
        options = dialog.options()
        self.export_folder = options["folder"]
        self.export_tiles(keys, **options)

    def export_tiles(self, keys: np.ndarray | list[tuple[int, int]], folder: str, fmt: str | None = None,
                     existing: str = "keep", write_csv: bool = False) -> JobWorker:
        """Export (file id, record) tiles to `folder`; see `core.export_selection`."""
        job = export_selection_job(self.datasets.entries, keys, folder, fmt, existing, write_csv)
        worker = JobWorker(job, "Exporting", self)
        worker.folder = folder
        worker.result.connect(self._on_exported)
        return self.jobs.run(worker, "Exporting tiles")

    @Slot(object)
    def _on_exported(self, report: Any) -> None:
        folder = getattr(self.sender(), "folder", "")
        if report.skipped:
            self.jobs.errors.report(
                f"{len(report.skipped):,} tile(s) not exported: their image is missing or does not decode",
                "\n".join(reason for _, reason in report.skipped),
            )
        self.jobs.status_bar.showMessage(
            f"Exported {len(report.written):,} tile(s) to {folder}"
            + (f"; {len(report.existing)} already there, left as they were" if report.existing else "")
            + (f"; {len(report.skipped)} skipped" if report.skipped else ""), 10000)

    def export_map(self) -> None:
        """The slide view as a PNG of a chosen width, with title and legend (see `map_export`)."""
        path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Export map", "map.png", "PNG images (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        width, ok = QInputDialog.getInt(self.dialog_parent, "Export map", "Width of the image in pixels:",
                                        EXPORT_WIDTH, 100, MAX_EXPORT_SIDE, 100)
        if not ok:
            return
        image, note = render_map(self.map, width)
        if image.isNull():
            self.jobs.errors.report(f"Could not export the map: {note}")
            return
        worker = JobWorker(save_png_job(image, path), "Exporting map", self)
        worker.note = note or f"Exported the map ({image.width():,} x {image.height():,} px) to {path}"
        worker.result.connect(self._on_map_exported)
        self.jobs.run(worker, "Exporting map")

    @Slot(object)
    def _on_map_exported(self, _path: str) -> None:
        self.jobs.status_bar.showMessage(self.sender().note, 10000)
        self.mapExported.emit()

    # --- checking files ------------------------------------------------------------------------
    def verify_selected(self) -> None:
        entries = self.datasets.entries
        chosen = [entries[i] for i in self.browser.selected_files] or list(entries)
        if not chosen:
            return
        worker = JobWorker(verify_overall_job([e.path for e in chosen], [e.size for e in chosen]), "Verifying", self)
        worker.result.connect(self._on_verified)
        self.jobs.run(worker, f"Verifying {len(chosen):,} file(s)")

    @Slot(object)
    def _on_verified(self, reports: list) -> None:
        self.datasets.show_verify_reports(reports)
        self.browser.update_status()
        good = sum(1 for r in reports if r.ok)
        self.jobs.status_bar.showMessage(f"Verify: {good:,} of {len(reports):,} file(s) OK", 10000)

    def rebuild_indexes(self) -> None:
        self.datasets.rebuild_indexes(self.browser.selected_files or list(range(len(self.datasets.entries))))

    @Slot(int, int, int)
    def _on_rebuilt(self, rebuilt: int, valid: int, errors: int) -> None:
        text = f"Rebuilt {rebuilt:,}, {valid:,} {'was' if valid == 1 else 'were'} already valid"
        if errors:
            text += f"; {errors:,} could not be indexed (see Problems)"
        self.jobs.status_bar.showMessage(text, 15000)

    # --- slides ------------------------------------------------------------------------------
    def show_slides(self) -> None:
        """The per-slide table; tile sizes and formats are read in a worker and filled in."""
        from .slides_table import SlidesDialog, first_tiles_job

        if self.slides is not None:
            self.slides.close()
        self.slides = SlidesDialog(self.datasets.entries, self.browser.select_files, self.dialog_parent)
        self.slides.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.slides.destroyed.connect(self._forget_slides)
        self.datasets.fileIndexed.connect(self.slides.file_changed)
        for ended in (self.datasets.opened, self.datasets.closed):  # its rows are the files of this opening
            ended.connect(self.slides.close)
        worker = JobWorker(first_tiles_job(self.datasets.entries), "Reading tile sizes", self)
        worker.generation = self.datasets.generation
        worker.result.connect(self._on_first_tiles)
        self.jobs.run(worker, "Reading tile sizes")
        self.slides.show()
        self.show_slide_labels()

    @Slot(object)
    def _on_first_tiles(self, found: dict) -> None:
        if self.slides is not None and getattr(self.sender(), "generation", None) == self.datasets.generation:
            self.slides.model.set_first_tiles(found)

    @Slot()
    def show_slide_labels(self, *_: Any) -> None:
        """Label counts per slide from a categorical field already read for the shown files
        (`label` first); reading one (the filter bar, colour by) fills the column in."""
        from .slides_table import label_counts_by_file

        if self.slides is None or self.fields is None:
            return
        known = [f.name for f in self.fields.fields() if f.kind == "categorical" and self.fields.values(f.name) is not None]
        known.sort(key=lambda name: (name != "label", name))
        if known:
            values = self.fields.values(known[0])
            labels = label_counts_by_file(values.codes, values.names, self.browser.tile_model.file_of)
            self.slides.model.set_labels(known[0], labels)

    @Slot()
    def _forget_slides(self) -> None:
        self.slides = None

    # --- read-only mode ------------------------------------------------------------------------
    def start_read_only(self) -> bool:
        """Read-only mode from the saved setting (or `--read-only`): whether it is on."""
        if self.datasets.settings.get("files/read_only"):
            set_read_only(True)
        return read_only()

    def set_read_only(self, on: bool) -> None:
        """Indexes and manifests of files opened or indexed from now on go to the per-user cache only."""
        set_read_only(bool(on))
        self.datasets.settings.set("files/read_only", bool(on))
        self.jobs.status_bar.showMessage(
            "Read-only mode: nothing is written beside the files" if on else "Read-only mode off", 8000)

    # --- quitting ------------------------------------------------------------------------------
    def running_work(self) -> list[str]:
        """What quitting now would stop (a conversion, indexing), one sentence each."""
        questions = []
        run_page = getattr(self.wizard, "run_page", None)
        if run_page is not None and run_page.job is not None:
            summary = run_page.written_summary()
            questions.append(f"A conversion is running ({summary})." if summary else "A conversion is running.")
        return questions + self.jobs.quit_questions()

    def ask_to_stop(self, work: list[str], stop_and_quit: Callable[[], None]) -> QMessageBox:
        """Ask before quitting; Stop and quit calls `stop_and_quit`, Cancel keeps everything
        running. Window-modal and not blocking: the work goes on while the question is shown."""
        box = plain_message_box(QMessageBox.Icon.Question, "Quit tfr-viewer?",
                                " ".join(work) + (" Stop it and quit?" if len(work) == 1 else " Stop them and quit?"),
                                self.dialog_parent)
        box.setObjectName("quitQuestion")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        stop = box.addButton("&Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _result: stop_and_quit() if box.clickedButton() is stop else None)
        box.open()
        return box

    def stop_conversion(self) -> None:
        """Cancel a running conversion (its partial file is removed) and close the wizard."""
        if self.wizard is not None:
            self.wizard.reject()

    def show_shortcuts(self, rows: list[tuple[str, str]]) -> None:
        """Help -> Keyboard shortcuts: `rows` of (command, key) from the command table."""
        from .shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(rows, self.dialog_parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def show_about(self) -> None:
        import google.protobuf
        import PySide6
        import pyqtgraph
        from PySide6.QtCore import qVersion

        from .. import __version__  # the package metadata is read when asked, not at start-up

        QMessageBox.about(
            self.dialog_parent,
            "About tfr-viewer",
            f"<h3>tfr-viewer {__version__}</h3><p>A fast inspector for TFRecord datasets of image tiles.</p>"
            f"<p>Python {platform.python_version()} · Qt {qVersion()} · PySide6 {PySide6.__version__} · "
            f"pyqtgraph {pyqtgraph.__version__} · numpy {np.__version__} · protobuf {google.protobuf.__version__}</p>",
        )


def _size_text(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"


def verify_overall_job(paths: list[str], sizes: list[int]) -> Callable[[CancelToken], Job[list]]:
    """`iter_verify_files` whose progress is the whole run's (bytes of all files), not each
    file's own 0-100 %; the message counts files and bytes."""
    total = sum(sizes)
    before = {path: sum(sizes[:i]) for i, path in reversed(list(enumerate(paths)))}  # first place of a path
    position = {path: i for i, path in reversed(list(enumerate(paths)))}

    def job(token: CancelToken) -> Job[list]:
        inner = iter_verify_files(paths, token)
        try:
            report = next(inner)
            while True:
                if report.message in position:
                    i = position[report.message]
                    done = before[report.message] + min(report.done, sizes[i])
                    yield Progress(done, total, f"file {i + 1:,} of {len(paths):,} · {_size_text(done)} of {_size_text(total)}")
                report = inner.send(None)
        except StopIteration as end:
            return end.value
    return job
