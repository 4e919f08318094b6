"""Selection and browsing: tree selection -> tile grid -> viewer -> metadata.

Files are selected in the tree; their tiles fill the grid; the current tile's record is read in
a worker and shown in the viewer and the record panel. A map region and the field filters
narrow the grid (and the map, which listens to `subsetChanged`); Go to and the Problems list
make a tile current.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from ..core.navigation import nearest_record
from .datasets import DatasetController
from .models import FILE_ID_ROLE, TileListModel, sorted_rows
from .widgets.dataset_tree import DatasetTreeView
from .widgets.metadata_panel import MetadataPanel
from .widgets.tile_grid import TileGridView
from .widgets.tile_viewer import TileViewer
from .request_workers import RecordReader, RecordRequest, ThumbnailLoader


class Browser(QObject):
    """Drives the tree, the slide filter, the grid and its label, the viewer and the record panel."""

    filesShown = Signal()  # the grid shows the tiles of newly selected files
    currentTileChanged = Signal(int)  # the current tile's overall row
    recordRead = Signal(object)  # the current tile's record, as the reader answered
    recordShown = Signal()  # the viewer and the record panel show the current tile's answer
    subsetChanged = Signal(object)  # overall rows shown (np.ndarray), or None for all
    filtersCleared = Signal()  # the field filters were dropped here (Show all tiles, Go to a hidden tile)

    def __init__(self, datasets: DatasetController, tree: DatasetTreeView, slide_filter: QLineEdit,
                 grid: TileGridView, grid_label: QLabel, clear_map_filter: QPushButton,
                 viewer: TileViewer, metadata: MetadataPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.datasets = datasets
        self.tree, self.slide_filter, self.grid, self.grid_label = tree, slide_filter, grid, grid_label
        self.clear_map_filter, self.viewer, self.metadata = clear_map_filter, viewer, metadata
        self.selected_files: list[int] = []
        self._region: np.ndarray | None = None  # overall rows in the map rectangle
        self._field_rows: np.ndarray | None = None  # overall rows the field filters let through
        self._field_note = ""  # what the field filters keep, for the status line
        self._broken: dict[tuple[int, int], str] = {}  # (file id, record) -> why it cannot be shown
        self.thumbs = ThumbnailLoader(self)
        self.thumbs.ready.connect(self._on_thumbnails)
        self.reader = RecordReader(self)
        self.reader.ready.connect(self._on_record)
        self.tile_model = TileListModel(self.thumbs, self)
        self.tree_proxy = QSortFilterProxyModel(self)
        self.tree_proxy.setSourceModel(datasets.tree_model)
        self.tree_proxy.setRecursiveFilteringEnabled(True)
        self.tree_proxy.setAutoAcceptChildRows(True)  # a folder that matches shows its files
        self.tree_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._filtering = False  # the slide filter is changing the tree's rows

        tree.setModel(self.tree_proxy)
        tree.selectionModel().selectionChanged.connect(self._on_tree_selection)
        slide_filter.textChanged.connect(self._filter_slides)
        grid.setModel(self.tile_model)
        grid.selectionModel().currentChanged.connect(self._on_current_tile)
        grid.selectionModel().selectionChanged.connect(self.update_status)
        grid.activatedRow.connect(self._on_tile_activated)
        clear_map_filter.clicked.connect(self.clear_filters)
        viewer.previousRequested.connect(self.previous_tile)
        viewer.nextRequested.connect(self.next_tile)
        datasets.fileIndexed.connect(self._on_file_indexed)
        datasets.filesChanged.connect(self._on_files_changed)

    def reset(self) -> None:
        """Nothing selected, nothing shown: a new dataset is being opened."""
        self.selected_files = []
        self._region = self._field_rows = None
        self._broken = {}
        self.tile_model.set_tiles([], [])
        self.metadata.clear()
        self.viewer.clear()

    # --- files ---------------------------------------------------------------------------------
    def select_files(self, file_ids: list[int]) -> None:
        """Select these files in the tree (which shows their tiles), in one selection change."""
        selection = QItemSelection()
        first = last = QModelIndex()
        for file_id in file_ids:
            index = self.tree_index(file_id)
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

    def tree_index(self, file_id: int) -> QModelIndex:
        return self.tree_proxy.mapFromSource(self.datasets.tree_model.index_of_file(file_id))

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
            self.show_files(ids)

    def show_files(self, file_ids: list[int]) -> None:
        self.selected_files = file_ids
        had_subset = self.subset() is not None
        self._region = self._field_rows = None  # the filters answer again for the new tiles
        self._field_note = ""
        self.tile_model.set_tiles(self.datasets.entries, file_ids)
        self.clear_map_filter.setVisible(False)
        self.metadata.clear()
        self.viewer.clear()
        self.update_status()
        if len(self.tile_model.file_of):
            self.grid.set_current_row_quietly(0)
        if had_subset:
            self.subsetChanged.emit(None)
        self.filesShown.emit()

    @Slot(int)
    def _on_file_indexed(self, file_id: int) -> None:
        if file_id not in self.selected_files:
            return
        current = self.grid.currentIndex()
        key = self.tile_model.key(current.row()) if current.isValid() else None
        self.tile_model.forget_file(file_id)
        self.show_files(self.selected_files)
        if key is not None:  # stay on the tile the user was looking at, if it still exists
            all_row = self.tile_model.all_row_of(*key)
            if all_row is not None:
                self.select_all_row(all_row)

    @Slot(list)
    def _on_files_changed(self, file_ids: list) -> None:
        if any(file_id in self.selected_files for file_id in file_ids):
            self.show_files(self.selected_files)

    # --- status --------------------------------------------------------------------------------
    def update_status(self, *_: Any) -> None:
        shown, total = len(self.tile_model.rows), len(self.tile_model.file_of)
        files = len(self.selected_files)
        if self._region is None and self._field_rows is None:
            text = f"{total:,} tiles in {files} file(s)"
        else:
            why = [self._field_note] if self._field_rows is not None and self._field_note else []
            why += ["map area"] if self._region is not None else []
            text = f"Showing {shown:,} of {total:,} tiles ({'; '.join(why)})"
        troubled = sum(1 for f in self.selected_files if self.datasets.entries[f].error)
        if troubled:
            text += f" · {troubled:,} file(s) with a problem (see Problems)"
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

    # --- the current tile ----------------------------------------------------------------------
    def current_all_row(self) -> int | None:
        """The current tile's overall row (its place among all tiles of the selected files)."""
        current = self.grid.currentIndex()
        return self.tile_model.all_row(current.row()) if current.isValid() else None

    def selected_keys(self) -> list[tuple[int, int]]:
        """(file id, record index) of the tiles selected in the grid, in grid order."""
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.tile_model.key(r) for r in rows]

    def _on_current_tile(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = current.row()
        key = self.tile_model.key(row)
        self.currentTileChanged.emit(self.tile_model.all_row(row))
        self.reader.submit([RecordRequest(self.tile_model.generation, row, key, self.datasets.entries[key[0]])])

    @Slot(object)
    def _on_record(self, details: dict) -> None:
        current = self.grid.currentIndex()
        if not current.isValid() or details.get("key") != self.tile_model.key(current.row()):
            return  # an answer for a tile that is no longer current
        self.metadata.show_record(details)
        self.recordRead.emit(details)
        if details.get("error") or details.get("image_error"):
            self._broken[details["key"]] = details.get("error") or details["image_error"]
            self.datasets.problems.add_tile_problem(self.datasets.entries[details["key"][0]].path, details["key"][1],
                                                    details.get("error") or details["image_error"])
        if details.get("error"):
            self.viewer.show_message(details["error"])
        else:
            entry = self.datasets.entries[details["key"][0]]
            loc = self.tile_model.location(self.tile_model.all_row(current.row()))
            title = f"{entry.slide} · record {details['index']}" + (f" · x {loc[0]}, y {loc[1]}" if loc else "")
            if "qimage" in details:
                self.viewer.show_image(details["qimage"], title)
            else:
                self.viewer.show_message(details.get("image_error", "no image in this record"))
        self.recordShown.emit()

    def select_all_row(self, all_row: int) -> None:
        """Make the tile with this overall number current (clearing filters that hide it)."""
        row = self.tile_model.row_of_all(all_row)
        if row is None:
            self.clear_filters()
            row = self.tile_model.row_of_all(all_row)
        if row is not None:
            index = self.tile_model.index(row)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)

    def move_current(self, step: int) -> None:
        row = self.grid.currentIndex().row() + step
        if 0 <= row < self.tile_model.rowCount():
            self.grid.setCurrentIndex(self.tile_model.index(row))

    @Slot()
    def previous_tile(self) -> None:
        self.move_current(-1)

    @Slot()
    def next_tile(self) -> None:
        self.move_current(1)

    def _on_tile_activated(self, _row: int) -> None:
        self.viewer.fit()
        self.viewer.view.setFocus()

    # --- the subset shown: map region and field filters ------------------------------------------
    def apply_region(self, all_rows: np.ndarray) -> None:
        """Show only these tiles of the map rectangle (with the field filters), from the top."""
        self._region = sorted_rows(all_rows)
        self._show_subset(keep_current=False)

    def clear_region(self) -> None:
        """Drop the map rectangle, staying on the current tile."""
        self._region = None
        self._show_subset(keep_current=True)

    def set_field_filter(self, all_rows: np.ndarray | None, note: str = "") -> None:
        """The tiles the field filters let through (None: no filter), described by `note`
        ("label = tumor"); the grid shows them from the top."""
        rows = None if all_rows is None else sorted_rows(all_rows)
        same = (rows is None and self._field_rows is None) or (
            rows is not None and self._field_rows is not None and np.array_equal(rows, self._field_rows))
        if same and note == self._field_note:
            return  # e.g. another field's values arrived: the grid stays where it is
        self._field_rows, self._field_note = rows, (note if rows is not None else "")
        self._show_subset(keep_current=rows is None)

    def clear_filters(self) -> None:
        """Show every tile again (map rectangle and field filters), staying on the current one."""
        had_fields = self._field_rows is not None
        self._region = self._field_rows = None
        self._field_note = ""
        self._show_subset(keep_current=True)
        if had_fields:
            self.filtersCleared.emit()

    def has_field_filter(self) -> bool:
        return self._field_rows is not None

    def subset(self) -> np.ndarray | None:
        """Overall rows the filters let through (map rectangle AND field filters), None for all."""
        parts = [p for p in (self._region, self._field_rows) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else np.intersect1d(parts[0], parts[1], assume_unique=True)

    def _show_subset(self, keep_current: bool) -> None:
        keep = self.current_all_row() if keep_current else None
        rows = self.subset()
        if rows is not None or self.tile_model.is_filtered():
            self.tile_model.set_filter(rows)
        self.clear_map_filter.setVisible(rows is not None)
        self.update_status()
        shown = self.tile_model.row_of_all(keep) if keep is not None else None
        if shown is not None:
            index = self.tile_model.index(shown)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)
        elif self.tile_model.rowCount():
            self.grid.set_current_row_quietly(0)
            self.grid.scrollToTop()
        self.subsetChanged.emit(rows)

    # --- broken tiles --------------------------------------------------------------------------
    @Slot(list)
    def _on_thumbnails(self, batch: list) -> None:
        """A tile that failed to decode is broken, and named in Problems (with its record)."""
        entries = self.datasets.entries
        for generation, _row, key, image, error in batch:
            if image is not None or error is None or key in self._broken or key[0] >= len(entries):
                continue
            if generation != self.tile_model.generation:  # read before the file changed (a refresh)
                continue
            path = entries[key[0]].path
            if error.startswith(path):  # an answer about this dataset's file, not a previous one's
                self._broken[key] = error
                self.datasets.problems.add_tile_problem(path, key[1], error)

    def broken_rows(self) -> np.ndarray:
        """Overall rows of the shown files' tiles known to be broken: failed to decode in the
        grid or the viewer, or named by a Problems line (verify, indexing)."""
        keys = set(self._broken)
        for path, record in self.datasets.problems.tile_problems():
            file_id = self.datasets.file_id_of(path)
            if file_id is not None:
                keys.add((file_id, record))
        rows = [r for key in keys if key[0] in self.selected_files and (r := self.tile_model.all_row_of(*key)) is not None]
        return np.array(sorted(rows), np.int64)

    # --- going to a tile -----------------------------------------------------------------------
    def current_file(self) -> int | None:
        """The file of the current tile, else the first shown file."""
        current = self.grid.currentIndex()
        if current.isValid():
            return self.tile_model.key(current.row())[0]
        return self.selected_files[0] if self.selected_files else None

    def go_to_record(self, record: int, file_id: int | None = None) -> str:
        """Make a record of this file (default: the current one) current; returns what happened."""
        file_id = self.current_file() if file_id is None else file_id
        if file_id is None:
            return "No file is shown"
        entry = self.datasets.entries[file_id]
        if file_id not in self.selected_files:
            self.select_files([file_id])
        all_row = self.tile_model.all_row_of(file_id, record)
        if all_row is None:
            return f"{entry.slide} has no record {record} (records 0 to {entry.count - 1:,})"
        self.select_all_row(all_row)
        return f"{entry.slide}: record {record}"

    def go_to_xy(self, x: int, y: int) -> str:
        """Make the current file's tile nearest to (x, y) current; returns what happened."""
        file_id = self.current_file()
        if file_id is None:
            return "No file is shown"
        entry = self.datasets.entries[file_id]
        locations = entry.index.locations if entry.index is not None else None
        if locations is None or not len(locations):
            return f"{entry.slide} has no tile locations (loc_x, loc_y)"
        record, exact = nearest_record(locations, x, y)
        self.go_to_record(record, file_id)
        at = f"x {int(locations[record][0])}, y {int(locations[record][1])}"
        return f"{entry.slide}: record {record} at {at}" + ("" if exact else f" (nearest to x {x}, y {y})")

    @Slot(str, int)
    def show_problem(self, path: str, record: int) -> None:
        """A Problems line was activated: its tile becomes current (record >= 0), else its file
        is selected."""
        file_id = self.datasets.file_id_of(path)
        if file_id is None:
            return
        if record < 0 or file_id not in self.selected_files:
            self.select_files([file_id])
        all_row = self.tile_model.all_row_of(file_id, record) if record >= 0 else None
        if all_row is not None:
            self.select_all_row(all_row)
