"""Tools → Convert images to TFRecords: a QWizard over the core writer (one code path with the CLI).

Pages: source (scanned on a worker), options, destination (in `wizard_pages`), run (progress,
cancel, in `wizard_run`) and result, here.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ..core.write_report import WriteReport
from ..core.writer import iter_write_tfrecords_multi, iter_write_tfrecords_single
from .plain import plain_label
from .wizard_pages import DestinationPage, OptionsPage, SourcePage, fill_table, table_widget
from .wizard_run import RunPage
from .workers import JobWorker


class ResultPage(QWizardPage):
    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Result")
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.written = table_widget(["TFRecord", "Tiles"])
        self.skipped = table_widget(["Skipped / warning", "Reason"])
        self.open_button = QPushButton("Open in viewer")
        self.open_button.clicked.connect(self.open_in_viewer)
        self.save_button = QPushButton("Save report…")
        self.save_button.clicked.connect(self._save_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.written, 1)
        layout.addWidget(self.skipped, 1)
        layout.addLayout(buttons)

    def initializePage(self) -> None:  # noqa: N802
        report = self.owner.run_page.report or WriteReport()
        self.summary.setText(
            f"Wrote {len(report.written)} TFRecord(s) with {report.tiles:,} tiles in {report.elapsed:.1f} s; "
            f"{len(report.skipped)} file(s) skipped, {len(report.warnings)} warning(s)."
        )
        fill_table(self.written, [[w.path, f"{w.tiles:,}"] for w in report.written])
        fill_table(self.skipped, [[s.path, s.reason] for s in report.skipped] + [["warning", w] for w in report.warnings])

    def open_in_viewer(self) -> None:
        self.owner.open_destination()

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save report", "conversion_report.csv", "CSV (*.csv)")
        if path:
            self.save_report(path)

    def save_report(self, path: str) -> None:
        report = self.owner.run_page.report or WriteReport()
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["kind", "path", "slide", "tiles", "reason"])
            for w in report.written:
                writer.writerow(["written", w.path, w.slide, w.tiles, ""])
            for s in report.skipped:
                writer.writerow(["skipped", s.path, "", "", s.reason])
            for warning in report.warnings:
                writer.writerow(["warning", "", "", "", warning])


class ConvertWizard(QWizard):
    """Images → TFRecords. `open_in_viewer(path)` is called by the result page's button."""

    def __init__(
        self,
        parent: QWidget | None = None,
        source: str | None = None,
        open_in_viewer: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("convertWizard")
        self.setWindowTitle("Convert images to TFRecords")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Convert")  # Alt+C
        self.resize(820, 620)
        self.open_in_viewer = open_in_viewer
        self._jobs: set[JobWorker] = set()
        self.source_page = SourcePage(self)
        self.options_page = OptionsPage(self)
        self.destination_page = DestinationPage(self)
        self.run_page = RunPage(self)
        self.result_page = ResultPage(self)
        for page in (self.source_page, self.options_page, self.destination_page, self.run_page, self.result_page):
            self.addPage(page)
        if source:
            self.source_page.set_source(source)

    def open_destination(self) -> None:
        """Open the destination folder in the window and close the wizard."""
        if self.open_in_viewer is not None:
            self.open_in_viewer(self.destination_page.path.text())
        self.accept()

    def back(self) -> None:
        """No way back from the run or its result. The Back button is gone there (the pages
        before commit); this covers `back()` called directly, which QWizard does not check."""
        if self.currentPage() not in (self.run_page, self.result_page):
            super().back()

    def track(self, job: JobWorker) -> None:
        self._jobs.add(job)
        job.finished.connect(self._forget)

    @Slot()
    def _forget(self) -> None:
        self._jobs.discard(self.sender())

    def make_job(self, report: WriteReport | None = None):
        """The core writer job for the chosen options (the CLI's `convert` calls the same
        functions); the writer fills `report` as it goes."""
        scan = self.source_page.scan
        options = self.options_page
        opts = dict(
            locations=options.location_pattern(),
            reencode=options.quality.value() if options.reencode.isChecked() else None,
            build_index=options.build_index.isChecked(),
            workers=min(2, os.cpu_count() or 1),
        )
        dest = self.destination_page.path.text()
        existing = self.destination_page.existing.currentData()
        if scan.layout == "single":
            slide, filename = options.slide.text().strip(), options.filename.text().strip()
            if existing == "skip" and self.destination_page.destinations()[0].exists():
                return lambda token: _nothing_to_do(self.destination_page.destinations()[0])
            return lambda token: iter_write_tfrecords_single(
                scan.root, dest, filename, slide, overwrite=existing == "overwrite", cancel=token, report=report, **opts
            )
        return lambda token: iter_write_tfrecords_multi(scan.root, dest, existing=existing, cancel=token,
                                                                 report=report, **opts)

    def shutdown(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            job.wait(10_000)

    def reject(self) -> None:
        self.shutdown()
        super().reject()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)


def _nothing_to_do(existing: Path):
    from ..core.progress import Progress
    from ..core.write_report import SkippedFile

    yield Progress(1, 1, "")
    return WriteReport(skipped=[SkippedFile(str(existing), f"{existing.name} already exists")])
