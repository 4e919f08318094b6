"""The first pages of the conversion wizard: the source folder (scanned on a worker), the
options (tile locations, encoding) and the destination, with the tables they show."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

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
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from ..core.console import human_size
from ..core.naming import AUTO, compile_location_pattern, is_tfrecord_name, parse_location
from ..core.scan_images import SourceScan, iter_scan_source
from ..core.writer import tfrecord_filename
from .plain import plain_label, plain_tooltip
from .workers import JobWorker

if TYPE_CHECKING:  # the wizard holds its pages: named for type hints only
    from .wizard import ConvertWizard

LOCATION_CHOICES = [
    ("Automatic (try every pattern)", AUTO),
    ("*_X-Y.ext   e.g. tile_1024-2048.jpg", "*_X-Y.ext"),
    ("*x123_y456*   e.g. slide_x1024_y2048.png", "*x123_y456*"),
    ("Custom regular expression", "custom"),
    ("None: every location is (0, 0)", None),
]
EXISTING_CHOICES = [("Stop: convert nothing if a file exists", "error"), ("Skip existing files", "skip"),
                    ("Overwrite existing files", "overwrite")]


def table_widget(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill_table(table: QTableWidget, rows: list[list[str]]) -> None:
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
        self.slides = table_widget(["Slide", "Images", "Size", "Formats"])
        self.skipped = table_widget(["Skipped file", "Reason"])
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
        job.progress.connect(self._on_scan_progress)
        job.result.connect(self._on_scan)
        job.failed.connect(self._on_failed)
        self.job = job
        self.owner.track(job)
        job.start()

    @Slot(int, int, str)
    def _on_scan_progress(self, done: int, total: int, folder: str) -> None:
        """A running count of files (total 0), or slide folders done of all."""
        if getattr(self.sender(), "folder", None) != self._scanned_path:
            return
        if total == 0:
            self.summary.setText(f"Scanning {self._scanned_path}: {done:,} files so far (now in {folder})…")
        elif total > 1:
            self.summary.setText(f"Scanning {self._scanned_path}: {done:,} of {total:,} slide folders…")

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
        fill_table(self.slides, [[s.name, f"{s.images:,}", human_size(s.bytes),
                             ", ".join(f"{k} {v}" for k, v in s.formats.most_common())] for s in scan.slides])
        fill_table(self.skipped, [[os.path.relpath(s.path, scan.root), s.reason] for s in scan.skipped[:2000]])
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
        self.preview = table_widget(["Sample file name", "Location"])
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
        fill_table(self.preview, rows)
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
        self.others = plain_label("")
        self.others.setObjectName("otherTFRecords")
        self.others.setWordWrap(True)
        self.use_own_folder = QPushButton("")
        self.use_own_folder.clicked.connect(lambda: self.path.setText(self.proposed_folder()))
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        form = QFormLayout()
        form.addRow("Existing files:", self.existing)
        layout.addLayout(form)
        layout.addWidget(self.space)
        layout.addWidget(self.others)
        layout.addWidget(self.use_own_folder, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.others.setVisible(False)
        self.use_own_folder.setVisible(False)
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
            self.path.setText(self.proposed_folder())
        self._update()

    def proposed_folder(self) -> str:
        """`<source>_tfrecords` beside the source: a folder of this conversion's files only."""
        scan = self.owner.source_page.scan
        if scan is None:
            return ""
        root = Path(scan.root)
        return str(root.parent / f"{root.name}_tfrecords")

    def other_tfrecords(self) -> list[str]:
        """TFRecords already in the destination that this conversion does not write: opening
        the folder would show them mixed with the new ones."""
        folder = Path(self.path.text().strip())
        ours = {p.name for p in self.destinations()}
        try:
            with os.scandir(folder) as entries:
                return sorted(e.name for e in entries if is_tfrecord_name(e.name) and e.name not in ours)
        except OSError:  # no such folder yet: nothing in it
            return []

    def _show_others(self) -> None:
        others = self.other_tfrecords() if self.owner.source_page.scan is not None else []
        proposed = self.proposed_folder()
        propose = bool(others) and Path(proposed) != Path(self.path.text().strip())
        self.others.setText(
            f"⚠ This folder already holds {len(others):,} other TFRecord(s), e.g. {others[0]}: opened together "
            f"they mix with the new ones. A folder of their own is clearer: {proposed}" if others else "")
        self.others.setVisible(bool(others))
        self.use_own_folder.setText(f"Use {Path(proposed).name}")
        self.use_own_folder.setVisible(propose)

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
        self._show_others()
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self._ok
