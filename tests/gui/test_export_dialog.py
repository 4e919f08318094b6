"""Export selected tiles through the dialog: what it says before writing, the files and CSV it
writes, what it does with files already there, and names that convert back to the same locations."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtTest import QTest

import tfr_viewer as sf
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.progress import run_job
from tfr_viewer.core.records import make_example
from tfr_viewer.core.writer import iter_write_tfrecords_single
from tfr_viewer.gui.tools import Tools

from ..helpers import make_jpeg
from .parts import parts  # noqa: F401  (fixture)


@pytest.fixture
def tools(qtbot, parts, folder: Path) -> Tools:
    parts.add_browser()
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    return Tools(parts.host, parts.datasets, parts.browser, None, parts.jobs)


def _dialog(qtbot, parts, tools, folder: Path):
    parts.grid.setFocus()
    QTest.keyClick(parts.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    dialog = tools.export_selected()
    assert dialog is not None and dialog.isVisible()
    dialog.folder.setText(str(folder))
    return dialog


def _export(qtbot, parts, dialog) -> None:
    with qtbot.waitSignal(parts.jobs.idle, timeout=20_000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)


def test_the_dialog_says_what_will_be_written_then_writes_it_with_a_csv(qtbot, parts, tools, folder, tmp_path) -> None:
    out = tmp_path / "out"
    dialog = _dialog(qtbot, parts, tools, out)
    tfr = sf.TFRecord(folder / "slide_a.tfrecords")
    text = dialog.summary.text()
    assert text.startswith("60 tile(s) from 1 TFRecord(s) as stored (JPEG or PNG), about ")
    assert text.endswith(f", to {out}.")
    dialog.format.setCurrentIndex(1)  # PNG
    assert "as PNG" in dialog.summary.text()
    dialog.format.setCurrentIndex(0)
    dialog.csv.setChecked(True)
    _export(qtbot, parts, dialog)
    images = sorted(p.name for p in out.glob("*.jpg"))
    assert len(images) == 60
    for i in (0, 17, 59):
        x, y = tfr.locations[i]
        assert (out / f"slide_a_{x}-{y}.jpg").read_bytes() == tfr[i]["image_raw"]
    rows = list(csv.DictReader(open(out / "tiles.csv", encoding="utf-8")))
    assert len(rows) == 60 and list(rows[0])[:6] == ["file", "slide", "x", "y", "tfrecord", "record"]
    assert rows[5] == {"file": f"slide_a_{tfr.locations[5][0]}-{tfr.locations[5][1]}.jpg", "slide": "slide_a",
                       "x": str(tfr.locations[5][0]), "y": str(tfr.locations[5][1]),
                       "tfrecord": str(folder / "slide_a.tfrecords"), "record": "5"}
    assert parts.status_bar.currentMessage() == f"Exported 60 tile(s) to {out}"


def test_the_estimate_is_the_stored_bytes(qtbot, parts, tools, folder, tmp_path) -> None:
    from tfr_viewer.core.console import human_size

    dialog = _dialog(qtbot, parts, tools, tmp_path / "o")
    entry = parts.datasets.entries[0]
    stored = int(entry.index.offsets[:, 1].sum()) - 16 * len(entry.index.offsets)
    assert dialog.estimate.tiles == 60 and dialog.estimate.stored_bytes == stored
    assert f"about {human_size(stored)}," in dialog.summary.text()
    dialog.reject()


@pytest.mark.parametrize("policy, expect", [("keep", "both"), ("skip", "old"), ("overwrite", "new")])
def test_files_already_there(qtbot, parts, tools, folder, tmp_path, policy, expect) -> None:
    out = tmp_path / "out"
    out.mkdir()
    tfr = sf.TFRecord(folder / "slide_a.tfrecords")
    x, y = tfr.locations[0]
    taken = out / f"slide_a_{x}-{y}.jpg"
    taken.write_bytes(b"the user's own file")
    dialog = _dialog(qtbot, parts, tools, out)
    dialog.existing.setCurrentIndex(dialog.existing.findData(policy))
    _export(qtbot, parts, dialog)
    names = sorted(p.name for p in out.iterdir())
    if expect == "old":
        assert taken.read_bytes() == b"the user's own file" and len(names) == 60
        assert parts.status_bar.currentMessage().endswith("; 1 already there, left as they were")
    elif expect == "new":
        assert taken.read_bytes() == tfr[0]["image_raw"] and len(names) == 60
    else:
        assert taken.read_bytes() == b"the user's own file" and len(names) == 61
        assert (out / f"slide_a-r0_{x}-{y}.jpg").read_bytes() == tfr[0]["image_raw"]


def test_exported_names_convert_back_to_the_same_locations(qtbot, parts, tmp_path) -> None:
    """Export -> the wizard's writer with the *_X-Y.ext pattern -> the same locations, tiles
    sharing a location included (their names differ before the location)."""
    src = tmp_path / "src"
    src.mkdir()
    locations = [(10, 20), (10, 20), (-5, 7), (300, 0), (10, 20)]
    with open(src / "s.tfrecords", "wb") as f:
        for i, (x, y) in enumerate(locations):
            f.write(frame_record(make_example({"image_raw": make_jpeg(seed=i), "slide": "s", "loc_x": x, "loc_y": y})))
    create_index(src / "s.tfrecords")
    parts.add_browser()
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, src)
    tools = Tools(parts.host, parts.datasets, parts.browser, None, parts.jobs)
    out = tmp_path / "tiles"
    _export(qtbot, parts, _dialog(qtbot, parts, tools, out))
    run_job(iter_write_tfrecords_single(out, tmp_path / "back", "s", "s", locations="*_X-Y.ext"))
    back = sf.TFRecord(tmp_path / "back" / "s.tfrecords")
    assert sorted(back.locations) == sorted(locations)
    original = sf.TFRecord(src / "s.tfrecords")
    assert sorted(back[i]["image_raw"] for i in range(5)) == sorted(original[i]["image_raw"] for i in range(5))


def test_selection_ranges_become_keys_in_grid_order(qtbot, parts, tools) -> None:
    from tfr_viewer.gui.export_dialog import selected_keys_array

    parts.browser.select_files([0, 1])
    qtbot.waitUntil(lambda: parts.browser.tile_model.rowCount() == 85)
    model, selection = parts.browser.tile_model, parts.grid.selectionModel()
    chosen = QItemSelection()
    chosen.select(model.index(58), model.index(62))  # across the two files
    chosen.select(model.index(3), model.index(3))
    selection.select(chosen, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    keys = selected_keys_array(selection, model)
    assert keys.tolist() == [[0, 3], [0, 58], [0, 59], [1, 0], [1, 1], [1, 2]]
    assert keys.tolist() == [list(k) for k in parts.browser.selected_keys()]
