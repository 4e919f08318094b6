"""Selection and browsing: tree selection -> tile grid -> viewer -> metadata.

Files are selected in the tree; their tiles fill the grid; the current tile's record is read in
a worker and shown in the viewer and the record panel. A map region narrows the grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from .datasets import DatasetController
from .models import FILE_ID_ROLE, TileListModel
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

    def __init__(self, datasets: DatasetController, tree: DatasetTreeView, slide_filter: QLineEdit,
                 grid: TileGridView, grid_label: QLabel, clear_map_filter: QPushButton,
                 viewer: TileViewer, metadata: MetadataPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.datasets = datasets
        self.tree, self.slide_filter, self.grid, self.grid_label = tree, slide_filter, grid, grid_label
        self.clear_map_filter, self.viewer, self.metadata = clear_map_filter, viewer, metadata
        self.selected_files: list[int] = []
        self.thumbs = ThumbnailLoader(self)
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
        clear_map_filter.clicked.connect(self.clear_region)
        viewer.previousRequested.connect(self.previous_tile)
        viewer.nextRequested.connect(self.next_tile)
        datasets.fileIndexed.connect(self._on_file_indexed)
        datasets.filesChanged.connect(self._on_files_changed)

    def reset(self) -> None:
        """Nothing selected, nothing shown: a new dataset is being opened."""
        self.selected_files = []
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
        self.tile_model.set_tiles(self.datasets.entries, file_ids)
        self.clear_map_filter.setVisible(False)
        self.metadata.clear()
        self.viewer.clear()
        self.update_status()
        if len(self.tile_model.file_of):
            self.grid.set_current_row_quietly(0)
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
        text = f"{total:,} tiles in {files} file(s)" if shown == total else f"{shown:,} of {total:,} tiles (map area)"
        troubled = sum(1 for f in self.selected_files if self.datasets.entries[f].error)
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

    @Slot()
    def previous_tile(self) -> None:
        self.move_current(-1)

    @Slot()
    def next_tile(self) -> None:
        self.move_current(1)

    def _on_tile_activated(self, _row: int) -> None:
        self.viewer.fit()
        self.viewer.view.setFocus()

    # --- map region ----------------------------------------------------------------------------
    def apply_region(self, all_rows: np.ndarray) -> None:
        self.tile_model.set_filter(all_rows)
        self.clear_map_filter.setVisible(True)
        self.update_status()
        if self.tile_model.rowCount():
            self.grid.set_current_row_quietly(0)

    def clear_region(self) -> None:
        """Show every tile again, staying on the current one."""
        if self.tile_model.is_filtered():
            keep = self.current_all_row()
            self.tile_model.set_filter(None)
            if keep is not None:
                self.select_all_row(keep)
        self.clear_map_filter.setVisible(False)
        self.update_status()
