"""Export selected tiles: a dialog saying what will be written before anything is (count,
format, approximate size, destination, what happens to files already there, an optional CSV).

The selection is read as row ranges into numpy arrays and the size estimated from the indexes:
no per-tile Python object and no file read on the GUI thread, even for 100,000 tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.console import human_size
from ..core.export_selection import CSV_NAME, ExportEstimate
from .models import TileListModel
from .plain import plain_label

FORMAT_CHOICES = [("As stored (JPEG or PNG, bytes unchanged)", None), ("PNG", "png"), ("JPEG (quality 95)", "jpeg")]
EXISTING_CHOICES = [("Keep both (the new tile gets another name)", "keep"), ("Skip: leave the existing file", "skip"),
                    ("Overwrite the existing file", "overwrite")]


def selected_rows(selection: QItemSelectionModel, model: TileListModel) -> np.ndarray:
    """Grid rows of the selected tiles in order, from the selection's row ranges (one range
    after select-all), not from one index per tile."""
    merged: list[list[int]] = []  # sorted, overlaps joined: each row once (np.unique is slow here)
    for top, bottom in sorted((r.top(), r.bottom()) for r in selection.selection()):
        if merged and top <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], bottom)
        else:
            merged.append([top, bottom])
    if not merged:
        return np.zeros(0, np.int64)
    rows = np.concatenate([np.arange(top, bottom + 1) for top, bottom in merged])
    return rows[rows < len(model.rows)]


def selected_keys_array(selection: QItemSelectionModel, model: TileListModel) -> np.ndarray:
    """(file id, record) of the selected tiles in grid order, as an (n, 2) array."""
    all_rows = model.rows[selected_rows(selection, model)]
    return np.column_stack([model.file_of[all_rows].astype(np.int64), model.record_of[all_rows]])


class ExportDialog(QDialog):
    """Says what the export will write; `options()` is what the user chose."""

    def __init__(self, estimate: ExportEstimate, folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export selected tiles")
        self.estimate = estimate
        self.folder = QLineEdit(folder)
        self.folder.setObjectName("exportFolder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.format = QComboBox()
        for text, value in FORMAT_CHOICES:
            self.format.addItem(text, value)
        self.existing = QComboBox()
        for text, value in EXISTING_CHOICES:
            self.existing.addItem(text, value)
        self.csv = QCheckBox(f"Also write {CSV_NAME}: file, slide, x, y, TFRecord, record and the other fields")
        self.summary = plain_label("")
        self.summary.setObjectName("exportSummary")
        self.summary.setWordWrap(True)
        names = plain_label("Names: <slide>_<x>-<y>.jpg, so Convert reads the locations back (pattern *_X-Y.ext).")
        names.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("&Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Folder:", folder_row)
        form.addRow("Format:", self.format)
        form.addRow("Files already there:", self.existing)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.csv)
        layout.addWidget(names)
        layout.addWidget(self.buttons)
        self.folder.textChanged.connect(self._update)
        self.format.currentIndexChanged.connect(self._update)
        self.resize(620, self.sizeHint().height())
        self._update()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export tiles to folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def summary_text(self) -> str:
        e, fmt = self.estimate, self.format.currentData()
        kind = {None: "as stored (JPEG or PNG)", "png": "as PNG", "jpeg": "as JPEG"}[fmt]
        size = human_size(e.approximate_bytes(fmt))
        text = f"{e.tiles:,} tile(s) from {e.files:,} TFRecord(s) {kind}, about {size}"
        if e.unknown:
            text += f" (and {e.unknown:,} tile(s) of files not indexed yet)"
        folder = self.folder.text().strip()
        return text + (f", to {folder}." if folder else ". Choose a folder.")

    def _update(self) -> None:
        self.summary.setText(self.summary_text())
        self.export_button.setEnabled(bool(self.folder.text().strip()))

    def options(self) -> dict:
        """folder, fmt, existing, write_csv: the keywords of `Tools.export_tiles`."""
        return {"folder": str(Path(self.folder.text().strip())), "fmt": self.format.currentData(),
                "existing": self.existing.currentData(), "write_csv": self.csv.isChecked()}
