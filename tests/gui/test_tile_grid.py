"""The grid paints with Qt's delegate and rings the selected tiles itself; it tells the loader
which rows it shows, also when the viewport's corners fall between tiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
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
    qtbot.waitUntil(lambda: model.pending_thumbnails() == 0)
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


def test_many_thumbnails_at_once_become_pixmaps_in_slices_and_all_arrive(qtbot, tmp_path: Path) -> None:
    from tfr_viewer.gui.models import CONVERT_SLICE

    path = tmp_path / "b.tfrecords"
    write_tiles(path, 200)
    loader = ThumbnailLoader()
    try:
        model = TileListModel(loader)
        model.set_tiles([FileEntry(str(path), str(tmp_path), find_index(path), "indexed")], [0])
        colours = [QColor(r, 255 - r, (7 * r) % 256) for r in range(200)]
        images = []
        for colour in colours:
            image = QImage(12, 12, QImage.Format.Format_RGB888)
            image.fill(colour)
            images.append(image)
        slices = []
        model.dataChanged.connect(lambda *_: slices.append(model.pending_thumbnails()))
        model._on_ready([(model.generation, r, model.key(r), images[r], None) for r in range(0, 100)])
        model._on_ready([(model.generation, r, model.key(r), images[r], None) for r in range(100, 200)])
        assert model.pending_thumbnails() == 200  # nothing converted inside the queued call
        turns = []
        model._convert.timeout.connect(lambda: turns.append(model.pending_thumbnails()))
        qtbot.waitUntil(lambda: model.pending_thumbnails() == 0 and all(model.has_thumbnail(r) for r in range(200)))
        assert len(turns) >= 200 // CONVERT_SLICE and all(a - b <= CONVERT_SLICE for a, b in zip([200] + turns, turns))
        for row in (0, 57, 199):  # each row got its own tile's pixels
            icon = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
            assert icon.pixmap(12, 12).toImage().pixelColor(5, 5) == colours[row]
    finally:
        loader.stop()


def test_the_loader_decodes_only_the_rows_near_the_view_and_drops_the_rest(qtbot, tmp_path: Path) -> None:
    from tfr_viewer.core.images import decode_draft
    from tfr_viewer.core.tfrecord import TFRecord
    from tfr_viewer.core.thumb_decode import ThumbnailDecoder
    from tfr_viewer.core.thumbnail_cache import ThumbnailCache
    from tfr_viewer.gui.request_workers import ThumbRequest, fit_qimage, to_qimage

    class Counting(ThumbnailDecoder):
        decoded = 0

        def decode(self, items):
            Counting.decoded += len(items)
            return super().decode(items)

    path = tmp_path / "c.tfrecords"
    write_tiles(path, 300, px=64)
    entry = FileEntry(str(path), str(tmp_path), find_index(path), "indexed")
    decoder = Counting(workers=2, mode="threads")
    loader = ThumbnailLoader(cache=ThumbnailCache(tmp_path / "thumbs.sqlite3"), decoder=decoder)
    answers: dict[int, tuple] = {}
    loader.ready.connect(lambda batch: answers.update({row: (image, error) for _, row, _, image, error in batch}))
    try:
        loader.set_visible(1, 200, 220)  # the view shows rows 200-220; the loader keeps a margin
        loader.submit([ThumbRequest(1, row, (0, row), entry, 48) for row in range(300)])
        qtbot.waitUntil(lambda: len(answers) == 300, timeout=20_000)
    finally:
        loader.stop()
        decoder.close()
    near = range(200 - ThumbnailLoader.MARGIN, 220 + ThumbnailLoader.MARGIN + 1)
    assert Counting.decoded == len(near)
    assert all(answers[row] == (None, None) for row in range(300) if row not in near)  # dropped, said so
    tfr = TFRecord(str(path))
    for row in (near[0], 210, near[-1]):  # each the pixels of its own record
        image, error = answers[row]
        expected = fit_qimage(to_qimage(decode_draft(tfr[row]["image_raw"], 48)), 48)
        assert error is None and (image.width(), image.height()) == (48, 48) and image == expected
    assert answers[210][0] != answers[211][0]


def test_scrolling_tells_the_loader_which_rows_are_shown(qtbot, grid: TileGridView) -> None:
    model = grid.model()
    grid.verticalScrollBar().setValue(grid.gridSize().height() * 3 + 7)
    shown = _rows_in_viewport(grid)
    qtbot.waitUntil(lambda: model.loader._visible == (model.generation, shown[0], shown[-1]))


@pytest.mark.parametrize("given", [[5, 1, 9, 1, 5, 30], [1, 5, 9, 30], [30, 9, 5, 1], [1, 1, 5, 9, 30]])
def test_a_filter_shows_each_given_tile_once_in_order(qtbot, grid: TileGridView, given: list[int]) -> None:
    import numpy as np

    from tfr_viewer.gui.models import sorted_rows

    model = grid.model()
    expected = sorted(set(given))
    assert sorted_rows(np.array(given)).tolist() == expected
    model.set_filter(np.array(given))
    assert model.rowCount() == len(expected)
    assert [model.key(r) for r in range(model.rowCount())] == [(0, record) for record in expected]
