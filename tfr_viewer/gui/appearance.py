"""How the window looks: theme, thumbnail size, captions, layout, and keeping them in settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QObject
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QSplitter, QWidget

from .datasets import DatasetController
from .models import TileListModel
from .settings import THUMB_SIZES, Settings
from .widgets.tile_grid import TileGridView

if TYPE_CHECKING:  # pyqtgraph: the map is built after the first screen
    from .widgets.location_map import LocationMap

MAIN_SIZES = [280, 620, 460]  # tree, grid, map/viewer/record columns (proportions: any width)
RIGHT_SIZES = [420, 300, 220]  # map (the slide view), viewer, record panel: the tile is never the smallest
LEFT_SIZES = [600, 160]  # tree, Problems
DARK_PALETTE = [
    (QPalette.ColorRole.Window, "#2b2b2e"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
    (QPalette.ColorRole.Base, "#1f1f22"), (QPalette.ColorRole.AlternateBase, "#2b2b2e"),
    (QPalette.ColorRole.Text, "#e8e8e8"), (QPalette.ColorRole.Button, "#3a3a3e"),
    (QPalette.ColorRole.ButtonText, "#e8e8e8"), (QPalette.ColorRole.Highlight, "#3d7bd9"),
    (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#2b2b2e"),
    (QPalette.ColorRole.ToolTipText, "#e8e8e8"), (QPalette.ColorRole.PlaceholderText, "#9a9aa0"),
]


class Appearance(QObject):
    """Applies the view settings to the window's parts and saves them with the layout on close."""

    def __init__(self, settings: Settings, window: QWidget, splitters: dict[str, QSplitter], grid: TileGridView,
                 tile_model: TileListModel, location_map: LocationMap | None, datasets: DatasetController) -> None:
        super().__init__(window)
        self.settings, self.window_widget, self.splitters = settings, window, splitters
        self.grid, self.tile_model, self.map, self.datasets = grid, tile_model, location_map, datasets

    def attach_map(self, location_map: LocationMap) -> None:
        """The slide view, built after the rest of the window, takes the theme in use."""
        self.map = location_map
        location_map.set_dark(self.settings.get("view/theme") == "dark")

    def set_thumb_size(self, size: int) -> None:
        """New thumbnails for the same tiles: the current tile and the selection stay."""
        keep = self.grid.currentIndex().row()
        ranges = [(r.top(), r.bottom()) for r in self.grid.selectionModel().selection()]
        self.settings.set("view/thumb_size", size)
        self.tile_model.set_thumb_size(size)  # a model reset: it forgets current and selection
        self.grid.set_thumb_size(size, self.tile_model.show_captions)
        selection = QItemSelection()
        for top, bottom in ranges:
            selection.select(self.tile_model.index(top), self.tile_model.index(bottom))
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if 0 <= keep < self.tile_model.rowCount():
            index = self.tile_model.index(keep)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.grid.scrollTo(index)

    def step_thumb_size(self, step: int) -> int:
        """The next larger (`step` 1) or smaller (-1) thumbnail size; the size now in use."""
        sizes = list(THUMB_SIZES)
        current = self.tile_model.thumb_size
        at = min(range(len(sizes)), key=lambda i: abs(sizes[i] - current))
        size = sizes[min(max(at + step, 0), len(sizes) - 1)]
        if size != current:
            self.set_thumb_size(size)
        return size

    def set_full_screen(self, on: bool) -> None:
        if on:
            self.window_widget.showFullScreen()
        elif self.window_widget.isFullScreen():
            self.window_widget.showNormal()

    def set_captions(self, on: bool) -> None:
        self.settings.set("view/captions", bool(on))
        self.tile_model.set_show_captions(bool(on))
        self.grid.set_thumb_size(self.tile_model.thumb_size, bool(on))

    def set_theme(self, theme: str) -> None:
        self.settings.set("view/theme", theme)
        app = QApplication.instance()
        if theme == "dark":
            palette = QPalette()
            for role, color in DARK_PALETTE:
                palette.setColor(role, QColor(color))
            for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
                palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a80"))  # greyed out
            app.setPalette(palette)
        else:
            app.setPalette(app.style().standardPalette())
        if self.map is not None:
            self.map.set_dark(theme == "dark")
        self.datasets.recolor_problems()  # problem red that reads on the new background

    def reset_layout(self) -> None:
        """The default proportions of the panes (for the window's size now)."""
        self.splitters["main"].setSizes(MAIN_SIZES)
        self.splitters["right"].setSizes(RIGHT_SIZES)
        self.splitters["left"].setSizes(LEFT_SIZES)

    def restore(self) -> None:
        """Splitters, thumbnails and theme as the user left them (the window's geometry is
        restored before its first paint: `window_geometry`)."""
        for name, key in self._splitter_keys():
            state = self.settings.get(key)
            if state:
                self.splitters[name].restoreState(state)
        size = self.settings.get("view/thumb_size")
        self.tile_model.show_captions = self.settings.get("view/captions")
        if size != self.tile_model.thumb_size:
            self.tile_model.set_thumb_size(size)
        self.grid.set_thumb_size(size, self.tile_model.show_captions)
        if self.settings.get("view/theme") == "dark":
            self.set_theme("dark")

    def save(self) -> None:
        self.settings.set("window/geometry", self.window_widget.saveGeometry())
        for name, key in self._splitter_keys():
            self.settings.set(key, self.splitters[name].saveState())
        self.settings.sync()

    @staticmethod
    def _splitter_keys() -> list[tuple[str, str]]:
        return [("main", "window/splitter"), ("right", "window/right_splitter"), ("left", "window/left_splitter")]
