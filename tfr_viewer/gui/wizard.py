"""Tools → Convert images to TFRecords: a QWizard over the core writer (one code path with the CLI).

Pages: source (scanned on a worker), options, destination, run (progress, cancel), result.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ..core.console import human_size
from ..core.naming import AUTO, compile_location_pattern, parse_location
from ..core.scan_images import SourceScan, iter_scan_source
from ..core.write_report import WriteReport
from ..core.writer import iter_write_tfrecords_multi, iter_write_tfrecords_single, tfrecord_filename
from .plain import plain_label, plain_tooltip
from .workers import JobWorker, TFRecordWriterJob

LOCATION_CHOICES = [
    ("Automatic (try every pattern)", AUTO),
    ("*_X-Y.ext   e.g. tile_1024-2048.jpg", "*_X-Y.ext"),
    ("*x123_y456*   e.g. slide_x1024_y2048.png", "*x123_y456*"),
    ("Custom regular expression", "custom"),
    ("None: every location is (0, 0)", None),
]
EXISTING_CHOICES = [("Stop: convert nothing if a file exists", "error"), ("Skip existing files", "skip"),
                    ("Overwrite existing files", "overwrite")]


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(plain_tooltip(text))
            table.setItem(r, c, item)


class SourcePage(QWizardPage):
    scanned = Signal()

    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Source images")
        self.setSubTitle("A folder of tiles (one slide), or a folder of sub-folders (one per slide).")
        self.path = QLineEdit()
        self.path.setPlaceholderText("Folder with image tiles")
        self.path.editingFinished.connect(self.start_scan)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.summary = plain_label("Choose a folder.")
        self.summary.setWordWrap(True)
        self.slides = _table(["Slide", "Images", "Size", "Formats"])
        self.skipped = _table(["Skipped file", "Reason"])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.slides, 2)
        layout.addWidget(plain_label("Files that will be skipped:"))
        layout.addWidget(self.skipped, 1)
        self.scan: SourceScan | None = None
        self.job: JobWorker | None = None
        self._scanned_path = ""

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of image tiles", self.path.text())
        if folder:
            self.set_source(folder)

    def set_source(self, folder: str) -> None:
        self.path.setText(folder)
        self.start_scan()

    def start_scan(self) -> None:
        folder = self.path.text().strip()
        if not folder or folder == self._scanned_path:
            return
        if self.job is not None:
            self.job.cancel()
        self._scanned_path = folder
        self.scan = None
        self.summary.setText(f"Scanning {folder}…")
        self.completeChanged.emit()
        job = JobWorker(lambda token: iter_scan_source(folder, token), "Scanning", self)
        job.folder = folder
        job.result.connect(self._on_scan)
        job.failed.connect(self._on_failed)
        self.job = job
        self.owner.track(job)
        job.start()

    @Slot(object)
    def _on_scan(self, scan: SourceScan) -> None:
        if getattr(self.sender(), "folder", None) != self._scanned_path:
            return
        self.scan = scan
        kind = {"single": "one slide (images in the folder)", "nested": "one slide per sub-folder",
                "empty": "no images found"}[scan.layout]
        self.summary.setText(
            f"{kind[0].upper()}{kind[1:]}: {len(scan.slides)} slide(s), {scan.images:,} images, {human_size(scan.bytes)}; "
            f"{len(scan.skipped):,} file(s) will be skipped."
        )
        _fill(self.slides, [[s.name, f"{s.images:,}", human_size(s.bytes),
                             ", ".join(f"{k} {v}" for k, v in s.formats.most_common())] for s in scan.slides])
        _fill(self.skipped, [[os.path.relpath(s.path, scan.root), s.reason] for s in scan.skipped[:2000]])
        self.completeChanged.emit()
        self.scanned.emit()

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.summary.setText(f"⚠ {message}")
        self._scanned_path = ""

    def isComplete(self) -> bool:  # noqa: N802
        return self.scan is not None and self.scan.images > 0


class OptionsPage(QWizardPage):
    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Options")
        self.setSubTitle("Slide name, tile locations from file names, and how images are stored.")
        self.slide = QLineEdit()
        self.filename = QLineEdit()
        self.locations = QComboBox()
        for text, value in LOCATION_CHOICES:
            self.locations.addItem(text, value)
        self.regex = QLineEdit(r"_(?P<x>\d+)_(?P<y>\d+)")
        self.regex.setToolTip("A regular expression with groups named x and y, searched in the file name")
        self.preview = _table(["Sample file name", "Location"])
        self.keep = QRadioButton("Keep image bytes as they are (JPEG/PNG; others become PNG)")
        self.reencode = QRadioButton("Re-encode every tile as JPEG, quality")
        self.keep.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.keep)
        group.addButton(self.reencode)
        self.quality = QSpinBox()
        self.quality.setRange(10, 100)
        self.quality.setValue(90)
        self.build_index = QCheckBox("Write an index (.index.npz) beside each TFRecord")
        self.build_index.setChecked(True)
        self.name_problem = plain_label("")
        self.name_problem.setObjectName("nameProblem")
        self.name_problem.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Slide name:", self.slide)
        form.addRow("Output file name:", self.filename)
        form.addRow("", self.name_problem)
        form.addRow("Tile locations:", self.locations)
        form.addRow("Custom pattern:", self.regex)
        reencode_row = QHBoxLayout()
        reencode_row.addWidget(self.reencode)
        reencode_row.addWidget(self.quality)
        reencode_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(plain_label("Preview on names from the source:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.keep)
        layout.addLayout(reencode_row)
        layout.addWidget(self.build_index)
        self.locations.currentIndexChanged.connect(self.update_preview)
        self.regex.textChanged.connect(self.update_preview)
        self.slide.textChanged.connect(self._slide_changed)
        self.filename.textEdited.connect(lambda: setattr(self, "_filename_edited", True))
        self.filename.textChanged.connect(self._filename_changed)
        self._filename_edited = False

    def initializePage(self) -> None:  # noqa: N802
        scan = self.owner.source_page.scan
        single = scan is not None and scan.layout == "single"
        self.slide.setEnabled(single)
        self.filename.setEnabled(single)
        if single and not self.slide.text():
            self.slide.setText(Path(scan.root).name)
        if not single:
            self.slide.setText("")
            self.filename.setText("")
            self.slide.setPlaceholderText("from each sub-folder's name")
            self.filename.setPlaceholderText("<slide>.tfrecords")
        self.update_preview()

    def _slide_changed(self, text: str) -> None:
        if not self._filename_edited:
            self.filename.setText(text)
        self.completeChanged.emit()

    def filename_problem(self) -> str:
        """Why the output name cannot be used ('' when it can): checked here, not at run time."""
        name = self.filename.text().strip()
        if not self.filename.isEnabled() or not name:
            return ""
        try:
            tfrecord_filename(name)
        except ValueError:
            return "⚠ The output file name must be a plain name, without folders (no / or ..)."
        return ""

    @Slot()
    def _filename_changed(self) -> None:
        self.name_problem.setText(self.filename_problem())
        self.completeChanged.emit()

    def location_pattern(self) -> str | None:
        value = self.locations.currentData()
        return self.regex.text() if value == "custom" else value

    def update_preview(self) -> None:
        self.regex.setEnabled(self.locations.currentData() == "custom")
        scan = self.owner.source_page.scan
        names = scan.sample_names() if scan else []
        pattern = self.location_pattern()
        rows = []
        try:
            if pattern not in (None, AUTO):
                compile_location_pattern(pattern)
            for name in names:
                loc = parse_location(name, pattern)
                if pattern is None:
                    rows.append([name, "x 0, y 0 (locations not read from names)"])
                else:
                    rows.append([name, f"x {loc[0]}, y {loc[1]}" if loc else "no match → (0, 0), reported as a warning"])
            self.pattern_error = None
        except ValueError as exc:
            rows = [["", f"⚠ {exc}"]]
            self.pattern_error = str(exc)
        _fill(self.preview, rows)
        self.completeChanged.emit()

    pattern_error: str | None = None

    def isComplete(self) -> bool:  # noqa: N802
        scan = self.owner.source_page.scan
        if scan is not None and scan.layout == "single" and not (self.slide.text().strip() and self.filename.text().strip()):
            return False
        return self.pattern_error is None and not self.filename_problem()


class DestinationPage(QWizardPage):
    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Destination")
        self.setSubTitle("Where the TFRecords go, and what to do with files that already exist.")
        self.path = QLineEdit()
        self.path.textChanged.connect(self._update)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.existing = QComboBox()
        for text, value in EXISTING_CHOICES:
            self.existing.addItem(text, value)
        self.existing.currentIndexChanged.connect(self._update)
        self.space = plain_label("")
        self.space.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        form = QFormLayout()
        form.addRow("Existing files:", self.existing)
        layout.addLayout(form)
        layout.addWidget(self.space)
        layout.addStretch(1)
        self._ok = False
        # Converting starts from here and cannot be undone by Back: a run going back to its options
        # would leave its job writing while a second one starts (start the wizard again instead).
        self.setCommitPage(True)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Destination folder", self.path.text())
        if folder:
            self.path.setText(folder)

    def initializePage(self) -> None:  # noqa: N802
        if not self.path.text() and self.owner.source_page.scan is not None:
            self.path.setText(str(Path(self.owner.source_page.scan.root).parent / "tfrecords"))
        self._update()

    def destinations(self) -> list[Path]:
        scan = self.owner.source_page.scan
        dest = Path(self.path.text())
        if scan is None:
            return []
        if scan.layout == "single":
            name = self.owner.options_page.filename.text().strip()
            return [dest / (name if name.endswith(".tfrecords") else f"{name}.tfrecords")]
        return [dest / f"{s.name}.tfrecords" for s in scan.slides]

    def _update(self) -> None:
        scan = self.owner.source_page.scan
        text = self.path.text().strip()
        self._ok = False
        if not text or scan is None:
            self.space.setText("Choose a destination folder.")
        else:
            probe = Path(text)
            while not probe.exists() and probe != probe.parent:
                probe = probe.parent
            estimate = scan.bytes * (0.6 if self.owner.options_page.reencode.isChecked() else 1.0) + 64 * scan.images
            try:
                free = shutil.disk_usage(probe).free
            except OSError as exc:
                self.space.setText(f"⚠ cannot check {probe}: {exc.strerror or exc}")
                self.completeChanged.emit()
                return
            clashes = [p.name for p in self.destinations() if p.exists()]
            lines = [f"Estimated output: {human_size(estimate)}; free space: {human_size(free)}."]
            self._ok = free > estimate * 1.05
            if not self._ok:
                lines.append("⚠ Not enough free space.")
            if clashes:
                lines.append(f"{len(clashes)} file(s) already exist, e.g. {clashes[0]}.")
                if self.existing.currentData() == "error":
                    lines.append("⚠ Choose to skip or overwrite them, or another folder.")
                    self._ok = False
            self.space.setText("\n".join(lines))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self._ok


class RunPage(QWizardPage):
    finished = Signal()

    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Converting")
        self.setSubTitle("The window stays usable; Cancel removes any partial file.")
        self.current = plain_label("")
        self.overall = QProgressBar()
        self.rate = plain_label("")
        self.cancel_button = QPushButton("Cancel conversion")
        self.cancel_button.clicked.connect(self.cancel)
        self.errors = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addWidget(self.overall)
        layout.addWidget(self.rate)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(plain_label("Problems:"))
        layout.addWidget(self.errors, 1)
        self.job: TFRecordWriterJob | None = None
        self.report: WriteReport | None = None
        self.outcome = ""
        self._started = 0.0

    def initializePage(self) -> None:  # noqa: N802
        self.report = None
        self.outcome = ""
        self.errors.clear()
        self.current.setText("Starting…")
        self.rate.setText("")
        self._started = time.monotonic()
        job = TFRecordWriterJob(self.owner.make_job(), self)
        job.progress.connect(self._on_progress)
        job.result.connect(self._on_result)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(self._on_finished)
        self.job = job
        self.owner.track(job)
        self.cancel_button.setEnabled(True)
        self.overall.setRange(0, 0)
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.current.setText("Cancelling…")

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, slide: str) -> None:
        self.overall.setRange(0, max(total, 1))
        self.overall.setValue(done)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0
        self.current.setText(f"Slide {slide}: {done:,} of {total:,} images")
        self.rate.setText(f"{rate:,.0f} images/s · about {left:,.0f} s left")

    @Slot(object)
    def _on_result(self, report: WriteReport) -> None:
        self.report = report
        self.outcome = "done"

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.outcome = "failed"
        self.errors.addItem(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        self.current.setText("Cancelled: no partial TFRecord was left behind.")

    @Slot()
    def _on_finished(self) -> None:
        self.cancel_button.setEnabled(False)
        self.overall.setRange(0, 1)
        if self.outcome == "done":
            self.overall.setValue(1)
            self.current.setText("Finished.")
            if self.report is not None:  # the final count, not a rate with "0 s left"
                self.rate.setText(f"{self.report.tiles:,} images in {time.monotonic() - self._started:,.1f} s")
        elif self.outcome == "failed":
            self.overall.setValue(0)
            self.current.setText("Failed: see the problems below. No partial TFRecord was left behind.")
        self.job = None
        self.completeChanged.emit()
        self.finished.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.job is None and self.outcome == "done"


class ResultPage(QWizardPage):
    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Result")
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.written = _table(["TFRecord", "Tiles"])
        self.skipped = _table(["Skipped / warning", "Reason"])
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
        _fill(self.written, [[w.path, f"{w.tiles:,}"] for w in report.written])
        _fill(self.skipped, [[s.path, s.reason] for s in report.skipped] + [["warning", w] for w in report.warnings])

    def open_in_viewer(self) -> None:
        dest = self.owner.destination_page.path.text()
        if self.owner.open_in_viewer is not None:
            self.owner.open_in_viewer(dest)
        self.owner.accept()

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
        self.setButtonText(QWizard.WizardButton.CommitButton, "Convert")
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

    def back(self) -> None:
        """No way back from the run or its result (the Back button is gone there too)."""
        if self.currentPage() not in (self.run_page, self.result_page):
            super().back()

    def track(self, job: JobWorker) -> None:
        self._jobs.add(job)
        job.finished.connect(self._forget)

    @Slot()
    def _forget(self) -> None:
        self._jobs.discard(self.sender())

    def make_job(self):
        """The core writer job for the chosen options (the CLI's `convert` calls the same functions)."""
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
                scan.root, dest, filename, slide, overwrite=existing == "overwrite", cancel=token, **opts
            )
        return lambda token: iter_write_tfrecords_multi(scan.root, dest, existing=existing, cancel=token, **opts)

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
