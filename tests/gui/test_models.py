"""Custom models pass pytest-qt's model tester; the tile model serves placeholders then pixmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfr_viewer.core.index import find_index
from tfr_viewer.gui.models import DatasetTreeModel, TileListModel
from tfr_viewer.core.catalog import FileEntry
from tfr_viewer.gui.request_workers import ThumbnailLoader

from .conftest import write_tiles


def _entries(tmp_path: Path) -> list[FileEntry]:
    entries = []
    for name, n in [("a", 12), ("b", 5)]:
        path = tmp_path / f"{name}.tfrecords"
        write_tiles(path, n)
        entries.append(FileEntry(str(path), str(tmp_path), find_index(path), "indexed"))
    return entries


def test_tile_model_with_modeltester(qtmodeltester, qtbot, tmp_path: Path) -> None:
    loader = ThumbnailLoader()
    try:
        model = TileListModel(loader)
        entries = _entries(tmp_path)
        model.set_tiles(entries, [0, 1])
        qtmodeltester.check(model)
        assert model.rowCount() == 17 and model.key(12) == (1, 0)
        model.set_filter(np.array([3, 14]))
        assert [model.key(r) for r in range(model.rowCount())] == [(0, 3), (1, 2)]
        assert model.row_of_all(14) == 1 and model.row_of_all(5) is None
        qtmodeltester.check(model)
    finally:
        loader.stop()


def test_tree_model_with_modeltester(qtmodeltester, tmp_path: Path) -> None:
    model = DatasetTreeModel()
    entries = _entries(tmp_path)
    entries.append(FileEntry(str(tmp_path / "broken.tfrecords"), str(tmp_path), None, "error", "bad"))
    model.set_entries(entries)
    qtmodeltester.check(model)
    source = model.item(0)
    assert source.rowCount() == 3 and model.item(0, 1).text() == "17"
    assert "problem: bad" in source.child(2).toolTip()


def test_unhandled_roles_return_none_many_times(tmp_path: Path) -> None:
    """The PySide6 6.12 none_dealloc abort: a model answering None must survive many calls."""
    from PySide6.QtCore import Qt

    loader = ThumbnailLoader()
    try:
        model = TileListModel(loader)
        model.set_tiles(_entries(tmp_path), [0])
        index = model.index(0)
        for _ in range(50_000):
            assert index.data(Qt.ItemDataRole.WhatsThisRole) is None
    finally:
        loader.stop()


def test_a_click_on_shared_spot_selects_the_point_that_shows(qtbot) -> None:
    """Two files cut on one grid share coordinates: the click takes the dot drawn on top."""
    from tfr_viewer.gui.widgets.location_map import LocationMap

    view = LocationMap()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    xy = np.array([[100, 100], [200, 200], [100, 100], [300, 300]], np.float64)
    view.set_points(xy, np.array([10, 11, 12, 13]), np.array([1, 1, 0, 0]))
    assert view.nearest_row(100, 100) == 10  # group 1 is drawn after group 0
    view.set_color_values(np.array([0.0, 1.0, 5.0, 2.0]))
    assert view.nearest_row(100, 100) == 12  # by value: the highest bin is drawn last
    view.set_color_values(None)
    assert view.nearest_row(100, 100) == 10
    assert view.nearest_row(5000, 5000) is None
