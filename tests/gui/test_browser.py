"""Browsing on its own: files selected in the tree fill the grid; the current tile's record
reaches the viewer and the record panel; a map region narrows the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


def test_selecting_files_shows_their_tiles_and_the_first_record(qtbot, parts, folder: Path) -> None:
    browser = parts.add_browser()
    shown = []
    browser.filesShown.connect(lambda: shown.append(list(browser.selected_files)))
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    assert shown == [[0]]
    assert browser.tile_model.rowCount() == 60
    assert parts.grid_label.text() == "60 tiles in 1 file(s)"
    assert "slide_a · record 0" in parts.viewer.title.text() and parts.viewer.has_image()
    assert "slide_a" in parts.metadata.text()
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        browser.select_files([0, 1])
    assert browser.selected_files == [0, 1]
    assert parts.grid_label.text() == "85 tiles in 2 file(s)"


def test_moving_the_current_tile_reads_its_record(qtbot, parts, folder: Path) -> None:
    browser = parts.add_browser()
    changed = []
    browser.currentTileChanged.connect(changed.append)
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        browser.next_tile()
    assert "record 1" in parts.viewer.title.text()
    assert browser.current_all_row() == 1 and changed[-1] == 1
    browser.previous_tile()
    browser.previous_tile()  # nothing before the first tile
    assert browser.current_all_row() == 0


def test_a_region_narrows_the_grid_and_clearing_it_keeps_the_current_tile(qtbot, parts, folder: Path) -> None:
    browser = parts.add_browser()
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    browser.apply_region(np.array([5, 6, 7], np.int64))
    assert browser.tile_model.rowCount() == 3
    assert parts.grid_label.text() == "Showing 3 of 60 tiles (map area)"
    assert parts.clear_map_filter.isVisibleTo(parts.host)
    assert browser.current_all_row() == 5
    browser.next_tile()
    browser.clear_region()
    assert browser.tile_model.rowCount() == 60 and browser.current_all_row() == 6
    assert not parts.clear_map_filter.isVisibleTo(parts.host)
    browser.select_all_row(40)
    assert browser.current_all_row() == 40
    assert browser.selected_keys() == [(0, 40)]


def test_a_file_indexed_while_shown_keeps_the_current_tile(qtbot, parts, tmp_path: Path) -> None:
    browser = parts.add_browser()
    write_tiles(tmp_path / "growing.tfrecords", 10)
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, tmp_path)
    browser.select_all_row(4)
    write_tiles(tmp_path / "growing.tfrecords", 30)
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        parts.datasets.refresh_files()
    assert browser.tile_model.rowCount() == 30
    assert browser.current_all_row() == 4


def test_a_file_that_went_missing_is_shown_again_with_its_problem(qtbot, parts, folder: Path) -> None:
    browser = parts.add_browser()
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    (folder / "slide_a.tfrecords").unlink()
    with qtbot.waitSignal(browser.filesShown, timeout=10_000):
        parts.datasets.refresh_files()
    assert "1 file(s) with a problem" in parts.grid_label.text()
