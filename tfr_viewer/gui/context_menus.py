"""Right-click menus on tiles and files, Copy image (Ctrl+C) and a random sample of the selection.

Tile menu: Export…, Copy image, Copy path and record, Show on map. File menu: Verify, Rebuild
index, Copy path, Show in the file manager. The image to copy is decoded on a worker; the
sample is shown through the browser's region filter, as a map area is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QMenu, QSpinBox, QWidget

from ..core.export_selection import tile_pixels_job
from .browser import Browser
from .datasets import DatasetController
from .export_dialog import selected_rows
from .jobs import JobRunner
from .models import FILE_ID_ROLE
from .tools import Tools
from .workers import JobWorker

if TYPE_CHECKING:  # pyqtgraph: the map is built after the first screen
    from .map_panel import MapPanel

SAMPLE_DEFAULT = 100


def pixels_to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage owning a copy of (H, W, 3) uint8 RGB pixels (already decoded: no decoding here)."""
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class SampleDialog(QDialog):
    """How many tiles, and the seed that makes the same sample again."""

    def __init__(self, available: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sampleDialog")
        self.setWindowTitle("Random sample")
        self.count = QSpinBox()
        self.count.setRange(1, max(available, 1))
        self.count.setValue(min(SAMPLE_DEFAULT, available))
        self.count.setGroupSeparatorShown(True)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form = QFormLayout(self)
        form.addRow(f"Tiles (of {available:,}):", self.count)
        form.addRow("Seed:", self.seed)
        form.addRow(buttons)


def sample_rows(all_rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` distinct rows drawn with `seed` (the same seed, the same sample), in grid order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(all_rows, size=min(n, len(all_rows)), replace=False))


class ContextMenus(QObject):
    """The grid's and the tree's right-click menus and the commands they share with the menu bar."""

    def __init__(self, window: QWidget, datasets: DatasetController, browser: Browser, tools: Tools,
                 map_panel: Callable[[], MapPanel], jobs: JobRunner) -> None:
        """`map_panel()` gives the slide view (built on first use if start-up has not yet)."""
        super().__init__(window)
        self.window = window
        self.datasets, self.browser, self.tools, self.map_panel, self.jobs = datasets, browser, tools, map_panel, jobs
        self.menu: QMenu | None = None  # the menu last shown (popped up, never blocking)
        self.sample_dialog: SampleDialog | None = None
        for view, slot in ((browser.grid, self._on_grid_menu), (browser.tree, self._on_tree_menu)):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(slot)

    # --- tiles ---------------------------------------------------------------------------------
    @Slot(QPoint)
    def _on_grid_menu(self, pos: QPoint) -> None:
        grid = self.browser.grid
        index = grid.indexAt(pos)
        if not index.isValid():
            return
        if not grid.selectionModel().isSelected(index):  # a tile outside the selection: it alone
            grid.setCurrentIndex(index)
        else:
            grid.selectionModel().setCurrentIndex(index, grid.selectionModel().SelectionFlag.NoUpdate)
        selected = len(selected_rows(grid.selectionModel(), self.browser.tile_model))
        menu = QMenu(grid)
        menu.addAction(f"Export {selected:,} tile(s)…" if selected > 1 else "Export…", self.tools.export_selected)
        menu.addAction("Copy image", self.copy_image)
        menu.addAction("Copy path and record", self.copy_path_and_record)
        menu.addAction("Show on map", self.show_on_map)
        menu.addSeparator()
        menu.addAction("Random sample…", self.random_sample)
        self._popup(menu, grid.viewport().mapToGlobal(pos))

    def _current_key(self) -> tuple[int, int] | None:
        current = self.browser.grid.currentIndex()
        return self.browser.tile_model.key(current.row()) if current.isValid() else None

    def copy_image(self) -> JobWorker | None:
        """Decode the current tile on a worker and put the image on the clipboard."""
        key = self._current_key()
        if key is None:
            self.jobs.status_bar.showMessage("No tile to copy: choose one in the grid.", 5000)
            return None
        entry = self.datasets.entries[key[0]]
        job = JobWorker(tile_pixels_job(entry, key[1]), "Copying", self)
        job.tile = (entry.path, key[1])
        job.result.connect(self._on_pixels)
        return self.jobs.run(job, "Copying the image")

    @Slot(object)
    def _on_pixels(self, pixels: np.ndarray) -> None:
        QGuiApplication.clipboard().setImage(pixels_to_qimage(pixels))
        path, record = getattr(self.sender(), "tile", ("", 0))
        self.jobs.status_bar.showMessage(
            f"Copied the image of {Path(path).name}, record {record} ({pixels.shape[1]}x{pixels.shape[0]})", 5000)

    def copy_path_and_record(self) -> None:
        key = self._current_key()
        if key is not None:
            QGuiApplication.clipboard().setText(f"{self.datasets.entries[key[0]].path}, record {key[1]}")

    def show_on_map(self) -> None:
        """Ring the current tile on the map and centre the map on it, at the present zoom."""
        row = self.browser.current_all_row()
        if row is None:
            return
        location_map = self.map_panel().filled_map()
        location_map.set_current(row)
        xy = location_map.highlighted_xy()
        if xy is None:
            self.jobs.status_bar.showMessage("This tile has no place on the map (no location).", 5000)
            return
        view = location_map.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = view.viewRange()
        half_w, half_h = (x1 - x0) / 2, (y1 - y0) / 2
        view.setRange(xRange=(xy[0] - half_w, xy[0] + half_w), yRange=(xy[1] - half_h, xy[1] + half_h), padding=0)

    # --- random sample -------------------------------------------------------------------------
    def _sample_source(self) -> np.ndarray:
        """Overall rows of the selected tiles, or of every tile shown when one or none is selected."""
        model = self.browser.tile_model
        rows = selected_rows(self.browser.grid.selectionModel(), model)
        return model.rows[rows] if len(rows) > 1 else model.rows.copy()

    def random_sample(self) -> SampleDialog | None:
        source = self._sample_source()
        if not len(source):
            self.jobs.status_bar.showMessage("No tiles to sample: select files first.", 5000)
            return None
        dialog = SampleDialog(len(source), self.window)
        dialog.accepted.connect(lambda: self._show_sample(source, dialog.count.value(), dialog.seed.value()))
        dialog.finished.connect(dialog.deleteLater)
        self.sample_dialog = dialog
        dialog.open()
        return dialog

    def _show_sample(self, source: np.ndarray, n: int, seed: int) -> None:
        self.browser.apply_region(sample_rows(source, n, seed))
        self.jobs.status_bar.showMessage(f"Random sample: {min(n, len(source)):,} of {len(source):,} tiles "
                                         f"(seed {seed}); Esc or Show all tiles to see them all", 10000)

    # --- files ---------------------------------------------------------------------------------
    @Slot(QPoint)
    def _on_tree_menu(self, pos: QPoint) -> None:
        tree = self.browser.tree
        index = tree.indexAt(pos)
        if not index.isValid():
            return
        file_id = self.browser.tree_proxy.mapToSource(index).data(FILE_ID_ROLE)
        if file_id is None or file_id < 0:
            return
        if not tree.selectionModel().isSelected(index):
            self.browser.select_files([int(file_id)])
        path = self.datasets.entries[int(file_id)].path
        menu = QMenu(tree)
        menu.addAction("Verify", self.tools.verify_selected)
        menu.addAction("Rebuild index", self.tools.rebuild_indexes)
        menu.addSeparator()
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(path))
        menu.addAction("Show in the file manager", lambda: self.show_in_file_manager(path))
        self._popup(menu, tree.viewport().mapToGlobal(pos))

    def show_in_file_manager(self, path: str) -> bool:
        """Open the file's folder with the desktop's file manager."""
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def _popup(self, menu: QMenu, at: QPoint) -> None:
        menu.aboutToHide.connect(menu.deleteLater)
        self.menu = menu
        menu.popup(at)
