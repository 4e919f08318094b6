"""The grid paints with Qt's delegate and rings the selected tiles itself; it tells the loader
which rows it shows, also when the viewport's corners fall between tiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel
from PySide6.QtGui import QColor, QImage

from tfr_viewer.core.catalog import FileEntry
from tfr_viewer.core.index import find_index
from tfr_viewer.gui.models import TileListModel
from tfr_viewer.gui.request_workers import ThumbnailLoader
from tfr_viewer.gui.widgets.tile_grid import TileGridView

from .conftest import write_tiles

TILE_COLOUR = QColor("#3366aa")


@pytest.fixture
def grid(qtbot, tmp_path: Path):
    """A 500 x 400 grid of 60 tiles, every thumbnail known (one flat colour)."""
    path = tmp_path / "a.tfrecords"
    write_tiles(path, 60)
    loader = ThumbnailLoader()
    model = TileListModel(loader)
    model.set_tiles([FileEntry(str(path), str(tmp_path), find_index(path), "indexed")], [0])
    image = QImage(96, 96, QImage.Format.Format_RGB888)
    image.fill(TILE_COLOUR)
    model._on_ready([(model.generation, r, model.key(r), image, None) for r in range(60)])
    model._announce_thumbnails()
    view = TileGridView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    yield view
    loader.stop()


def _ring_pixel(view: TileGridView, row: int) -> QColor:
    """The colour on the ring's line: the middle of the tile's left edge, 2 px in."""
    rect = view.visualRect(view.model().index(row, 0))
    image = view.viewport().grab().toImage()
    return image.pixelColor(rect.left() + 2, rect.center().y())


def test_selected_tiles_are_ringed_and_the_others_are_not(grid: TileGridView) -> None:
    selection = QItemSelection()
    selection.select(grid.model().index(1, 0), grid.model().index(3, 0))
    grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    highlight = grid.palette().highlight().color()
    for row in (1, 2, 3):
        assert _ring_pixel(grid, row) == highlight
    for row in (0, 4, 5):
        assert _ring_pixel(grid, row) != highlight
    grid.selectionModel().clearSelection()
    assert _ring_pixel(grid, 2) != highlight


def test_a_selected_tile_keeps_its_colours_inside_the_ring(grid: TileGridView) -> None:
    grid.selectionModel().select(grid.model().index(2, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    rect = grid.visualRect(grid.model().index(2, 0))
    image = grid.viewport().grab().toImage()
    assert image.pixelColor(rect.center()) == TILE_COLOUR  # not tinted by the selection


def _rows_in_viewport(view: TileGridView) -> list[int]:
    area = view.viewport().rect()
    return [r for r in range(view.model().rowCount()) if view.visualRect(view.model().index(r, 0)).intersects(area)]


def test_visible_rows_are_found_when_the_corners_fall_between_tiles(grid: TileGridView) -> None:
    assert not grid.indexAt(grid.viewport().rect().topLeft()).isValid()  # the spacing, no tile
    shown = _rows_in_viewport(grid)
    assert grid.visible_rows() == (shown[0], shown[-1]) == (0, shown[-1])
    grid.verticalScrollBar().setValue(grid.gridSize().height() * 2 + 10)
    shown = _rows_in_viewport(grid)
    assert shown[0] > 0 and grid.visible_rows() == (shown[0], shown[-1])
