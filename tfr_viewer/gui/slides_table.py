"""View -> Slides: one row per TFRecord (tiles, size, tile px, format, label counts, problems),
sortable; selecting rows selects the files in the tree.

Tile size and format come from each file's first record, read in a worker (`first_tiles_job`):
the dialog opens at once with what the catalog knows and fills in the rest as it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Slot
from PySide6.QtWidgets import QAbstractItemView, QDialog, QHeaderView, QTableView, QVBoxLayout, QWidget

from ..core.catalog import FileEntry
from ..core.images import image_info
from ..core.messages import user_message
from ..core.progress import CancelToken, Job, Progress
from ..core.records import image_bytes, parse_example
from ..core.storage import stem
from ..core.tfrecord import TFRecord
from .plain import plain_label, plain_tooltip

COLUMNS = ["Slide", "Tiles", "Size", "Tile px", "Format", "Labels", "Problems"]
LABELS_COLUMN, PROBLEMS_COLUMN = 5, 6
LABELS_SHOWN = 4  # classes named per slide, most frequent first
SORT_ROLE = Qt.ItemDataRole.UserRole + 10  # the raw value a column sorts by


@dataclass
class FirstTile:
    """What the first record of a file says about its tiles; `error` when it could not be read."""

    width: int = 0
    height: int = 0
    format: str = ""
    error: str = ""


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"


def label_counts_by_file(codes: np.ndarray, names: list[str], file_of: np.ndarray) -> dict[int, str]:
    """'tumor 120, stroma 30' for each file of a categorical field's values (`codes` aligned
    with the tiles, whose files are `file_of`; -1 = missing, not counted)."""
    known = codes >= 0
    if not known.any() or not names:
        return {}
    pairs = file_of[known].astype(np.int64) * len(names) + codes[known]
    counts = np.bincount(pairs, minlength=(int(file_of.max()) + 1) * len(names)).reshape(-1, len(names))
    texts = {}
    for file_id in np.flatnonzero(counts.sum(axis=1)):
        order = np.argsort(-counts[file_id], kind="stable")[:LABELS_SHOWN]
        texts[int(file_id)] = ", ".join(f"{names[c]} {counts[file_id, c]:,}" for c in order if counts[file_id, c])
    return texts


def first_tiles_job(entries: list[FileEntry]) -> Callable[[CancelToken], Job[dict[int, FirstTile]]]:
    """Job: each indexed file's first tile (header only, no pixel decode); a file that cannot
    be read is that file's answer, the others are still read."""
    wanted = [(i, e.path, e.index) for i, e in enumerate(entries) if e.index is not None and len(e.index.offsets)]

    def job(token: CancelToken) -> Job[dict[int, FirstTile]]:
        found: dict[int, FirstTile] = {}
        for done, (file_id, path, index) in enumerate(wanted):
            token.raise_if_cancelled()
            try:
                tfr = TFRecord(path, create_index=False, index=index)
                try:
                    data = image_bytes(parse_example(tfr.read_payload(0), path, 0), path, 0)
                    info = image_info(data)
                finally:
                    tfr.close()
                found[file_id] = FirstTile(info["width"], info["height"], info["format"])
            except Exception as exc:  # noqa: BLE001  (a bad file is its own row's problem)
                found[file_id] = FirstTile(error=user_message(exc))
            yield Progress(done + 1, len(wanted), path)
        return found
    return job


class SlidesTableModel(QAbstractTableModel):
    """Rows are the catalog's entries, in their order (file id = row)."""

    def __init__(self, entries: list[FileEntry], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries = entries
        self.first_tiles: dict[int, FirstTile] = {}
        self.labels: dict[int, str] = {}  # file id -> 'tumor 120, stroma 30', for files whose labels were read
        self.label_field = ""

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if section == LABELS_COLUMN and self.label_field:
                return f"Labels ({self.label_field})"
            return COLUMNS[section]
        return super().headerData(section, orientation, role)

    def values(self, row: int) -> list[tuple[str, Any]]:
        """(shown text, value to sort by) of each column."""
        entry = self.entries[row]
        tile = self.first_tiles.get(row)
        tiles = entry.count if entry.state != "pending" else (entry.listed_count or 0)
        px = f"{tile.width}×{tile.height}" if tile and tile.width else ""
        problem = entry.error or (tile.error if tile else "")
        return [
            (stem(entry.path), stem(entry.path).lower()),
            (f"{tiles:,}" if entry.state != "pending" else "…", tiles),
            (size_text(entry.size), entry.size),
            (px, (tile.width * tile.height) if tile else 0),
            ((tile.format.upper() if tile else ""), tile.format if tile else ""),
            (self.labels.get(row, ""), self.labels.get(row, "")),
            (problem, problem),
        ]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.values(index.row())[index.column()][0]
        if role == SORT_ROLE:
            return self.values(index.row())[index.column()][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            text = self.values(index.row())[index.column()][0]
            return plain_tooltip(self.entries[index.row()].path + ("\n" + text if index.column() in (LABELS_COLUMN, PROBLEMS_COLUMN) and text else ""))
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (1, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_first_tiles(self, found: dict[int, FirstTile]) -> None:
        self.first_tiles = dict(found)
        if self.entries:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.entries) - 1, len(COLUMNS) - 1))

    def set_labels(self, field: str, labels: dict[int, str]) -> None:
        """Label counts per file of a categorical field (known for the files shown when it was read)."""
        self.label_field, self.labels = field, dict(labels)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, LABELS_COLUMN, LABELS_COLUMN)
        if self.entries:
            self.dataChanged.emit(self.index(0, LABELS_COLUMN), self.index(len(self.entries) - 1, LABELS_COLUMN))

    def file_changed(self, file_id: int) -> None:
        if 0 <= file_id < len(self.entries):
            self.dataChanged.emit(self.index(file_id, 0), self.index(file_id, len(COLUMNS) - 1))


class SlidesDialog(QDialog):
    """The table; selecting rows calls `select_files(file_ids)`."""

    def __init__(self, entries: list[FileEntry], select_files: Callable[[list[int]], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("slidesTable")
        self.setWindowTitle("Slides")
        self.select_files = select_files
        self.model = SlidesTableModel(entries, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.summary = plain_label("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.resize(760, 460)
        self.update_summary()

    def update_summary(self) -> None:
        entries = self.model.entries
        tiles = sum(e.count for e in entries)
        troubled = sum(1 for e in entries if e.error)
        self.summary.setText(f"{len(entries):,} slides · {tiles:,} tiles · {size_text(sum(e.size for e in entries))}"
                             + (f" · {troubled:,} with a problem" if troubled else "")
                             + " · click a column to sort, select rows to show their tiles")

    @Slot(int)
    def file_changed(self, file_id: int) -> None:
        self.model.file_changed(file_id)
        self.update_summary()

    def selected_file_ids(self) -> list[int]:
        return sorted(self.proxy.mapToSource(index).row() for index in self.table.selectionModel().selectedRows())

    def _on_selection(self, *_: Any) -> None:
        ids = self.selected_file_ids()
        if ids:
            self.select_files(ids)
