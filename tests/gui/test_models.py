"""Custom models pass pytest-qt's model tester; the tile model serves placeholders then pixmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfr_viewer.core.index import find_index
from tfr_viewer.gui.models import DatasetTreeModel, TileListModel
from tfr_viewer.gui.workers import FileEntry, ThumbnailLoader

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
