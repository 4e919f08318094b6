"""What keeps the window fluid with big selections, checked for behaving (and looking) as before:
the map built in a worker, grid lines drawn as rectangles, hidden map points left out, thumbnails
announced together, one model call per painted tile."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QAbstractListModel, QItemSelection, QItemSelectionModel, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from tfr_viewer.core.index import find_index
from tfr_viewer.gui import map_panel
from tfr_viewer.gui.widgets.dataset_tree import TREE_SIZE_ROWS, DatasetTreeView
from tfr_viewer.gui.models import TileListModel, _relative_name
from tfr_viewer.gui.widgets.location_map import PALETTE, LocationMap, PointLayers, TilePointsItem, _GridAxis, point_layers
from tfr_viewer.gui.widgets.tile_grid import TileGridView
from tfr_viewer.core.catalog import FileEntry
from tfr_viewer.gui.request_workers import ThumbnailLoader

from .conftest import write_tiles


@pytest.fixture
def three_files(tmp_path: Path) -> Path:
    root = tmp_path / "three"
    root.mkdir()
    for name, n in [("a", 300), ("b", 200), ("c", 100)]:
        write_tiles(root / f"{name}.tfrecords", n, px=8)
    return root


def test_map_is_built_in_a_worker_and_the_newest_selection_wins(qtbot, window, three_files, monkeypatch) -> None:
    threads = []
    build = map_panel.selection_points

    def recording(parts):
        threads.append(threading.get_ident())
        return build(parts)

    monkeypatch.setattr(map_panel, "selection_points", recording)
    with qtbot.waitSignals([window.loaded, window.mapFilled], timeout=15_000):
        window.open_path(str(three_files))
    fills = []
    window.mapFilled.connect(lambda: fills.append(window.map_panel.map.point_count()))
    with qtbot.waitSignal(window.mapFilled, timeout=5000):
        window.browser.select_files([0, 1])
        window.browser.select_files([2])  # before the worker answered for the first selection
    assert window.browser.tile_model.rowCount() == 100 and window.map_panel.map.point_count() == 100
    assert fills == [100]  # the first selection's map is never shown
    assert threads and threading.get_ident() not in threads
    x, y = 64 * 7 + 32, 64 * 2 + 32  # record 47 of c
    assert window.map_panel.map.nearest_row(x, y) == 47


def test_colouring_right_after_a_selection_uses_its_points(qtbot, window, three_files) -> None:
    with qtbot.waitSignals([window.loaded, window.mapFilled], timeout=15_000):
        window.open_path(str(three_files))
    window.browser.select_files([0, 2])
    window.map_panel.color_by.setCurrentIndex(window.map_panel.color_by.findData("#order"))  # may come before the worker's answer
    assert window.map_panel.map.point_count() == 400
    assert window.map_panel.color_legend.text().startswith("record: 0")


def _map_image(widget: LocationMap) -> QImage:
    return widget.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)


def test_grid_lines_drawn_as_rectangles_look_like_pyqtgraph_lines(qtbot, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    images, snapped = [], []
    original = _GridAxis._pixel_rects

    def counting(self, pen, p1, p2):
        rects = original(self, pen, p1, p2)
        snapped.append(rects is not None)
        return rects

    monkeypatch.setattr(_GridAxis, "_pixel_rects", counting)
    n = 500
    xy = rng.integers(0, 90_000, size=(n, 2)).astype(float)
    for reference in (False, True):
        if reference:  # pyqtgraph's own drawing of the same axes
            monkeypatch.setattr(_GridAxis, "paint", pg.AxisItem.paint)
            monkeypatch.setattr(_GridAxis, "drawPicture", pg.AxisItem.drawPicture)
        widget = LocationMap()
        qtbot.addWidget(widget)
        widget.setFixedSize(437, 311)
        widget.show()
        qtbot.waitExposed(widget)
        widget.set_points(xy, np.arange(n), np.arange(n) % 5)
        widget.getPlotItem().getViewBox().scaleBy((1.37, 1.21))
        for _ in range(3):  # paint, then let the axes take the width their labels need
            widget.grab()
            QApplication.processEvents()
        images.append(_map_image(widget))
    assert any(snapped), "the grid was never drawn as rectangles"
    assert images[0] == images[1]


def _render(layers: PointLayers, size: float = 3.0) -> QImage:
    item = TilePointsItem(size)
    item.set_layers(layers)
    image = QImage(120, 120, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.scale(0.1, 0.1)
    item.paint(painter)
    painter.end()
    return image


def test_points_hidden_under_later_ones_are_left_out_of_the_drawing() -> None:
    rng = np.random.default_rng(7)
    grid = np.stack(np.meshgrid(np.arange(0, 1200, 40), np.arange(0, 1200, 40)), -1).reshape(-1, 2)
    xy = np.concatenate([grid, grid[::3], grid[5:200], rng.integers(0, 1200, size=(300, 2))]).astype(float)
    groups = rng.integers(0, 6, len(xy))
    layers = point_layers(xy, groups, PALETTE)
    # every point, each group drawn in turn: what the map drew before leaving points out
    everything = []
    for g in np.unique(groups):
        pts = xy[groups == g]
        everything.append((QColor(PALETTE[g]), pg.functions.arrayToQPolygonF(pts[:, 0].copy(), pts[:, 1].copy())))
    full = PointLayers(tuple(everything), layers.rect)
    assert sum(len(p) for _, p in layers.polygons) < len(xy)
    assert _render(layers) == _render(full)
    assert layers.rect == QRectF(0, 0, float(xy[:, 0].max()), float(xy[:, 1].max()))


def test_thumbnails_arriving_in_batches_repaint_the_grid_once(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "a.tfrecords"
    write_tiles(path, 40)
    loader = ThumbnailLoader()
    try:
        model = TileListModel(loader)
        model.set_tiles([FileEntry(str(path), str(tmp_path), find_index(path), "indexed")], [0])
        changes = []
        model.dataChanged.connect(lambda first, last, roles: changes.append((first.row(), last.row())))
        image = QImage(8, 8, QImage.Format.Format_RGB888)
        image.fill(QColor("red"))
        with qtbot.waitSignal(model.thumbnailsArrived, timeout=5000) as arrived:
            model._on_ready([(model.generation, r, model.key(r), image, None) for r in range(4, 20)])
            model._on_ready([(model.generation, r, model.key(r), image, None) for r in range(20, 36)])
        assert changes == [(4, 35)] and arrived.args == [32]
        assert model.has_thumbnail(4) and model.has_thumbnail(35) and not model.has_thumbnail(36)
    finally:
        loader.stop()


class _RoleByRole(TileListModel):
    """Qt's own multiData: one `data()` call per role."""

    def multiData(self, index, roleDataSpan) -> None:  # noqa: N802
        QAbstractListModel.multiData(self, index, roleDataSpan)


def test_grid_paints_the_same_with_all_roles_in_one_call(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "a.tfrecords"
    write_tiles(path, 30)
    entries = [FileEntry(str(path), str(tmp_path), find_index(path), "indexed")]
    images = []
    loaders = [ThumbnailLoader(), ThumbnailLoader()]
    try:
        for cls, loader in zip((TileListModel, _RoleByRole), loaders):
            model = cls(loader)
            model.set_tiles(entries, [0])
            model.set_show_captions(True)
            image = QImage(16, 16, QImage.Format.Format_RGB888)
            image.fill(QColor("#3366aa"))
            # every tile known (some failed): nothing is left to load while the grid is grabbed
            model._on_ready([(model.generation, r, model.key(r), image if r % 3 else None, "bad") for r in range(30)])
            qtbot.waitUntil(lambda m=model: m.pending_thumbnails() == 0)
            model._announce_thumbnails()
            view = TileGridView()
            qtbot.addWidget(view)
            view.setModel(model)
            view.set_thumb_size(model.thumb_size, True)
            view.resize(500, 400)
            view.show()
            qtbot.waitExposed(view)
            view.setCurrentIndex(model.index(3))
            images.append(view.viewport().grab().toImage())
    finally:
        for loader in loaders:
            loader.stop()
    assert images[0] == images[1]


@pytest.mark.parametrize(
    "path, source",
    [
        ("/data/slides/a.tfrecords", "/data/slides"),
        ("/data/slides/sub/a.tfrecords", "/data/slides"),
        ("/a.tfrecords", "/"),
        ("/data/slides/.hidden/a.tfrecords", "/data/slides"),
        ("/data/slidesX/a.tfrecords", "/data/other"),
    ],
)
def test_tree_names_are_paths_below_the_source(path: str, source: str) -> None:
    expected = str(Path(path).relative_to(source)) if path.startswith(source) else path
    assert _relative_name(path, source) == expected


def test_tile_model_rows_follow_selection_and_filter_and_tiles_are_read_only(qtmodeltester, tmp_path: Path) -> None:
    paths = []
    for name, n in [("a", 300), ("b", 20)]:
        paths.append(tmp_path / f"{name}.tfrecords")
        write_tiles(paths[-1], n, px=8)
    entries = [FileEntry(str(p), str(tmp_path), find_index(p), "indexed") for p in paths]
    loader = ThumbnailLoader()
    try:
        model = TileListModel(loader)
        for ids, n in [([1], 20), ([0, 1], 320), ([0], 300), ([1], 20), ([], 0)]:
            model.set_tiles(entries, ids)
            assert model.rowCount() == n == len(model.rows)
            assert model.index(n).isValid() is False and (n == 0 or model.index(n - 1).isValid())
        model.set_tiles(entries, [0, 1])
        model.set_filter(np.array([5, 310, 5]))
        assert model.rowCount() == 2 and [model.key(r) for r in range(2)] == [(0, 5), (1, 10)]
        model.set_filter(None)
        assert model.rowCount() == 320
        flags = model.flags(model.index(7))
        assert flags & Qt.ItemFlag.ItemIsSelectable and flags & Qt.ItemFlag.ItemIsEnabled
        assert not flags & (Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
        assert model.setData(model.index(7), "x") is False and model.data(model.index(7)) is None
        qtmodeltester.check(model)
    finally:
        loader.stop()


def test_status_counts_selected_tiles_from_overlapping_ranges(qtbot, window, three_files) -> None:
    with qtbot.waitSignals([window.loaded, window.mapFilled], timeout=15_000):
        window.open_path(str(three_files))
    model, selection = window.browser.tile_model, window.grid.selectionModel()
    flag = QItemSelectionModel.SelectionFlag.Select
    selection.select(QItemSelection(model.index(2), model.index(4)), flag)
    selection.select(QItemSelection(model.index(3), model.index(6)), flag)
    selection.select(QItemSelection(model.index(10), model.index(10)), flag)
    expected = len({i.row() for i in selection.selectedIndexes()})
    assert expected >= 6
    assert window.grid_label.text().endswith(f"· {expected} selected")


def test_tile_count_column_fits_the_source_total_when_scrolled_away(qtbot) -> None:
    from tfr_viewer.gui.models import DatasetTreeModel

    model = DatasetTreeModel()
    entries = [FileEntry(f"/data/slides/s{i:03d}.tfrecords", "/data/slides", listed_count=2000 + i) for i in range(300)]
    model.set_entries(entries)
    tree = DatasetTreeView()
    qtbot.addWidget(tree)
    tree.setModel(model)
    tree.header().setStretchLastSection(False)
    tree.header().setSectionResizeMode(1, tree.header().ResizeMode.ResizeToContents)
    tree.header().setResizeContentsPrecision(TREE_SIZE_ROWS)
    tree.resize(300, 400)
    tree.show()
    tree.expandAll()
    tree.scrollToBottom()
    qtbot.waitExposed(tree)
    tree.header().resizeSections(tree.header().ResizeMode.ResizeToContents)
    total = model.index(0, 1)
    assert model.data(total) == f"{sum(2000 + i for i in range(300)):,}"
    assert tree.header().sectionSize(1) >= tree.sizeHintForIndex(total).width()


def test_map_subset_membership_matches_isin_for_any_order_and_repeats() -> None:
    from tfr_viewer.gui.widgets.location_map import _members

    rng = np.random.default_rng(7)
    values = rng.integers(0, 5000, 20_000)
    for rows in (np.zeros(0, np.int64), np.array([3]), rng.choice(5000, 1700, replace=False),
                 np.repeat(np.arange(0, 5000, 7), 2)):
        assert np.array_equal(_members(values, rows), np.isin(values, rows))
        assert np.array_equal(_members(values, np.sort(rows)), np.isin(values, rows))
