"""The window's tools: open dialogs, the demo, export, verify, rebuild indexes, convert, About."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from .. import __version__
from ..core.catalog import verify_files_job
from ..core.tile_jobs import export_tiles_job
from ..demo import demo_dataset_job
from .browser import Browser
from .datasets import DatasetController
from .jobs import JobRunner
from .mosaic_workers import save_png_job
from .widgets.location_map import LocationMap
from .widgets.map_export import EXPORT_WIDTH, MAX_EXPORT_SIDE, render_map
from .workers import JobWorker


class Tools(QObject):
    """Commands that ask the user something or run a job over the selection, then report."""

    openRequested = Signal(str)  # a file or folder the user chose (or the demo) is to be opened
    mapExported = Signal()  # the map's PNG is written

    def __init__(self, window: QWidget, datasets: DatasetController, browser: Browser, location_map: LocationMap,
                 jobs: JobRunner) -> None:
        super().__init__(window)
        self.dialog_parent = window  # dialogs open over the window
        self.datasets, self.browser, self.map, self.jobs = datasets, browser, location_map, jobs
        self.wizard: QWidget | None = None

    # --- opening -------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open TFRecord", "", "TFRecords (*.tfrecords);;All files (*)")
        if path:
            self.openRequested.emit(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.dialog_parent, "Open folder of TFRecords")
        if path:
            self.openRequested.emit(path)

    def open_demo(self) -> None:
        job = JobWorker(demo_dataset_job(), "Preparing demo", self)
        job.result.connect(self._on_demo_ready)
        self.jobs.run(job, "Preparing demo dataset")

    @Slot(object)
    def _on_demo_ready(self, folder: object) -> None:
        self.openRequested.emit(str(folder))

    def open_convert_wizard(self) -> None:
        try:
            from .wizard import ConvertWizard
        except ImportError:
            QMessageBox.information(self.dialog_parent, "tfr-viewer", "The conversion wizard is not available in this build.\n"
                                    "Use the command line: tfr-viewer convert SRC DEST")
            return
        self.wizard = ConvertWizard(self.dialog_parent, open_in_viewer=self.openRequested.emit)
        self.wizard.show()

    # --- export --------------------------------------------------------------------------------
    def export_selected(self) -> None:
        keys = self.browser.selected_keys()
        if not keys:
            QMessageBox.information(self.dialog_parent, "tfr-viewer", "Select tiles in the grid first.")
            return
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Export tiles to folder")
        if folder:
            self.export_tiles(keys, folder)

    def export_tiles(self, keys: list[tuple[int, int]], folder: str) -> JobWorker:
        worker = JobWorker(export_tiles_job(self.datasets.entries, keys, folder), "Exporting", self)
        worker.result.connect(self._on_exported)
        return self.jobs.run(worker, "Exporting tiles")

    @Slot(object)
    def _on_exported(self, report: Any) -> None:
        folder = Path(report.written[0]).parent if report.written else ""
        if report.skipped:
            self.jobs.errors.report(
                f"{len(report.skipped)} tile(s) not exported: their image is missing or does not decode",
                "\n".join(reason for _, reason in report.skipped),
            )
        self.jobs.status_bar.showMessage(
            f"Exported {len(report.written)} tile(s) to {folder}"
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
        worker = JobWorker(verify_files_job([e.path for e in chosen]), "Verifying", self)
        worker.result.connect(self._on_verified)
        self.jobs.run(worker, f"Verifying {len(chosen)} file(s)")

    @Slot(object)
    def _on_verified(self, reports: list) -> None:
        self.datasets.show_verify_reports(reports)
        self.browser.update_status()
        good = sum(1 for r in reports if r.ok)
        self.jobs.status_bar.showMessage(f"Verify: {good} of {len(reports)} file(s) OK", 10000)

    def rebuild_indexes(self) -> None:
        self.datasets.rebuild_indexes(self.browser.selected_files or list(range(len(self.datasets.entries))))

    def show_about(self) -> None:
        import google.protobuf
        import PySide6
        import pyqtgraph
        from PySide6.QtCore import qVersion

        QMessageBox.about(
            self.dialog_parent,
            "About tfr-viewer",
            f"<h3>tfr-viewer {__version__}</h3><p>A fast inspector for TFRecord datasets of image tiles.</p>"
            f"<p>Python {platform.python_version()} · Qt {qVersion()} · PySide6 {PySide6.__version__} · "
            f"pyqtgraph {pyqtgraph.__version__} · numpy {np.__version__} · protobuf {google.protobuf.__version__}</p>",
        )
