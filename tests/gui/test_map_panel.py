"""The map panel on its own: points built in the worker for the shown files, its note, colours,
and clicks and regions handed on only while the map shows the current selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg
from .parts import parts  # noqa: F401  (fixture)


def write_scored(path: Path, n: int, placed: bool) -> None:
    """Tiles with a `score` field, with or without loc_x/loc_y."""
    with open(path, "wb") as f:
        for i in range(n):
            fields = {"image_raw": make_jpeg(16, 16, seed=i), "slide": path.stem, "score": i * 0.5}
            if placed:
                fields.update(loc_x=100 * i, loc_y=0)
            f.write(frame_record(make_example(fields)))
    create_index(path)


def test_the_shown_files_fill_the_map(qtbot, parts, folder: Path) -> None:
    panel = parts.add_map_panel()
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.open(qtbot, folder)
    assert panel.map.point_count() == 60
    assert not panel.map_note.isVisibleTo(panel)
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.browser.select_files([0, 1])
    assert panel.map.point_count() == 85
    assert [panel.color_by.itemData(i) for i in range(2)] == ["slide", "#order"]


def test_files_without_locations_are_named_in_the_note(qtbot, parts, folder: Path) -> None:
    write_scored(folder / "unplaced.tfrecords", 5, placed=False)
    panel = parts.add_map_panel()
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.open(qtbot, folder)
    unplaced = parts.datasets.file_id_of(str(folder / "unplaced.tfrecords"))
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.browser.select_files([0, unplaced])
    assert panel.map.point_count() == 60
    assert panel.map_note.text() == "The map shows 60 of 65 tiles: 1 file(s) have no loc_x/loc_y fields."
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.browser.select_files([unplaced])
    assert panel.map_note.text() == "No tile locations: the selected file(s) have no loc_x/loc_y fields."


def test_colouring_by_record_order_and_by_a_numeric_field(qtbot, parts, folder: Path) -> None:
    panel = parts.add_map_panel()
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    qtbot.waitUntil(lambda: panel.map.point_count() == 60, timeout=10_000)
    panel.color_by.setCurrentIndex(panel.color_by.findData("#order"))
    assert panel.color_legend.text() == "record: 0 (purple) … 59 (yellow)"
    panel.color_by.setCurrentIndex(panel.color_by.findData("loc_x"))
    assert panel.color_legend.text().startswith("loc_x: 32 ")
    panel.color_by.setCurrentIndex(panel.color_by.findData("slide"))
    assert panel.color_legend.text() == ""


def test_a_field_read_from_the_files_colours_the_map(qtbot, parts, tmp_path: Path) -> None:
    write_scored(tmp_path / "scored.tfrecords", 6, placed=True)
    panel = parts.add_map_panel()
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, tmp_path)
    assert panel.color_by.findData("score") >= 0  # offered from the current record
    with qtbot.waitSignal(parts.jobs.idle, timeout=10_000):
        panel.color_by.setCurrentIndex(panel.color_by.findData("score"))
    assert panel.color_legend.text() == "score: 0 (purple) … 2.5 (yellow)"
    assert not parts.errors.history


def test_clicks_and_regions_pass_only_when_the_map_shows_the_selection(qtbot, parts, folder: Path) -> None:
    panel = parts.add_map_panel()
    with qtbot.waitSignal(panel.mapFilled, timeout=10_000):
        parts.open(qtbot, folder)
    clicked, regions = [], []
    panel.pointClicked.connect(clicked.append)
    panel.regionSelected.connect(regions.append)
    panel.map.pointClicked.emit(3)
    panel.map.regionSelected.emit(np.array([1, 2]))
    assert clicked == [3] and len(regions) == 1
    parts.browser.select_files([1])  # the map waits for its new points until the event loop runs
    panel.map.pointClicked.emit(4)
    panel.map.regionSelected.emit(np.array([5]))
    assert clicked == [3] and len(regions) == 1
