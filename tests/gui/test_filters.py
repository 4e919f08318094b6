"""Filtering the tiles by label fields (of the records and of an annotations CSV), by range,
with the map rectangle, and by "broken": the grid, the subset signal and the status line agree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg

LABELS = ("tumor", "stroma", "necrosis")


def label_of(i: int) -> str:
    return LABELS[(i * i + 3 * i) % 7 % 3]


def write_labelled(path: Path, n: int, broken: set[int] = frozenset()) -> list[dict]:
    """A TFRecord whose records carry `label` (bytes), `score` (float); `broken` records hold
    image bytes no decoder reads. Returns the fields written."""
    written = []
    with open(path, "wb") as f:
        for i in range(n):
            image = b"\xff\xd8\xff\xe0 not a jpeg" if i in broken else make_jpeg(16, 16, seed=i)
            fields = {"image_raw": image, "slide": path.stem, "loc_x": 64 * (i % 10), "loc_y": 64 * (i // 10),
                      "label": label_of(i), "score": float(i % 13)}
            f.write(frame_record(make_example(fields)))
            written.append(fields)
    create_index(path)
    return written


def open_and_wait(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(path)
    qtbot.waitUntil(lambda: bool(window.browser.selected_files), timeout=10_000)
    qtbot.waitUntil(lambda: window.fields.field("label") is not None, timeout=10_000)


def choose_field(qtbot, window, name: str):
    """Pick the field in the filter bar's "Add filter" menu."""
    action = window.filter_panel.field_action(name)
    assert action is not None and window.filter_panel.field_choice.isEnabled()
    with qtbot.waitSignal(window.fields.valuesReady, timeout=10_000,
                          check_params_cb=lambda n, _v: n == name):
        action.trigger()
    return window.filter_panel.sections[name]


def toggle_class(section, name: str) -> None:
    """Click the class's row and press Space: its check box flips."""
    classes = section.classes
    row = next(i for i in range(classes.count()) if classes.item(i).data(Qt.ItemDataRole.UserRole) == name)
    rect = classes.visualItemRect(classes.item(row))
    QTest.mouseClick(classes.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.keyClick(classes, Qt.Key.Key_Space)


def shown_rows(window) -> np.ndarray:
    return window.browser.tile_model.rows.copy()


def test_filter_by_a_string_label_field(qtbot, window, tmp_path):
    written = write_labelled(tmp_path / "slide_a.tfrecords", 90)
    open_and_wait(qtbot, window, tmp_path / "slide_a.tfrecords")
    section = choose_field(qtbot, window, "label")
    expected = Counter(r["label"] for r in written)
    texts = [section.classes.item(i).text() for i in range(section.classes.count())]
    assert texts == [f"{name} ({expected[name]:,})" for name in sorted(expected)]

    subsets = []
    window.browser.subsetChanged.connect(subsets.append)
    for name in ("stroma", "necrosis"):  # only tumor left checked
        toggle_class(section, name)
    tumor = [i for i, r in enumerate(written) if r["label"] == "tumor"]
    assert shown_rows(window).tolist() == tumor
    assert subsets[-1].tolist() == tumor
    assert window.grid_label.text() == f"Showing {len(tumor):,} of 90 tiles (label = tumor)"
    assert window.grid.currentIndex().row() == 0  # the grid starts at the top of the subset
    assert window.browser.current_all_row() == tumor[0]

    # AND the map rectangle: the rows of the rectangle that are tumor
    region = np.arange(20, 60)
    window.browser.apply_region(region)
    both = [i for i in tumor if 20 <= i < 60]
    assert shown_rows(window).tolist() == both and subsets[-1].tolist() == both
    assert window.grid_label.text() == f"Showing {len(both)} of 90 tiles (label = tumor; map area)"

    # "Show all tiles" clears everything, the filter bar too
    QTest.mouseClick(window.clear_map_filter, Qt.MouseButton.LeftButton)
    assert len(shown_rows(window)) == 90 and subsets[-1] is None
    assert not window.filter_panel.sections
    assert window.grid_label.text().startswith("90 tiles")


def test_numeric_range_filter(qtbot, window, tmp_path):
    written = write_labelled(tmp_path / "slide_a.tfrecords", 70)
    open_and_wait(qtbot, window, tmp_path / "slide_a.tfrecords")
    qtbot.waitUntil(lambda: window.fields.field("score") is not None)
    assert window.fields.field("score").kind == "numeric"
    section = choose_field(qtbot, window, "score")
    assert section.span.text() == "0 … 12"
    QTest.keyClicks(section.low, "3")
    QTest.keyClick(section.low, Qt.Key.Key_Return)
    QTest.keyClicks(section.high, "5.5")
    QTest.keyClick(section.high, Qt.Key.Key_Return)
    expected = [i for i, r in enumerate(written) if 3 <= r["score"] <= 5.5]
    assert shown_rows(window).tolist() == expected
    assert window.grid_label.text() == f"Showing {len(expected)} of 70 tiles (3 ≤ score ≤ 5.5)"
    assert window.filter_panel.clear_button.isEnabled()
    QTest.mouseClick(window.filter_panel.clear_button, Qt.MouseButton.LeftButton)
    assert len(shown_rows(window)) == 70
    assert not window.filter_panel.sections and not window.filter_panel.clear_button.isEnabled()


def test_filter_by_an_annotations_column(qtbot, window, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    sizes = {"s1": 30, "s2": 20, "s3": 15}
    for slide, n in sizes.items():
        write_labelled(folder / f"{slide}.tfrecords", n)
    notes = tmp_path / "annotations.csv"
    notes.write_text("patient,slide,diagnosis,age\np1,s1,LUAD,61\np2,s2,LUSC,70\np1,s1,LUSC,1\n", encoding="utf-8")
    open_and_wait(qtbot, window, folder)
    with qtbot.waitSignal(window.fields.annotationsLoaded, timeout=10_000):
        window.fields.load_annotations(str(notes))
    assert "listed twice" in window.statusBar().currentMessage()
    window.browser.select_files([0, 1, 2])
    qtbot.waitUntil(lambda: window.fields.field("diagnosis") is not None, timeout=10_000)
    assert window.fields.field("diagnosis").source == "annotation"
    assert window.fields.field("age").kind == "numeric"
    section = choose_field(qtbot, window, "diagnosis")
    # s1 -> LUAD (first row wins), s2 -> LUSC, s3 has no row: missing
    texts = [section.classes.item(i).text() for i in range(section.classes.count())]
    assert texts == ["LUAD (30)", "LUSC (20)"]
    values = window.fields.values("diagnosis")
    assert (values.codes[50:] == -1).all()
    toggle_class(section, "LUAD")
    assert shown_rows(window).tolist() == list(range(30, 50))
    assert window.grid_label.text() == "Showing 20 of 65 tiles (diagnosis = LUSC)"


def test_annotations_from_the_command_line(qtbot, window, tmp_path, monkeypatch):
    from tfr_viewer import cli
    from tfr_viewer.gui import app

    write_labelled(tmp_path / "s1.tfrecords", 12)
    notes = tmp_path / "annotations.csv"
    notes.write_text("slide,grade\ns1,high\n", encoding="utf-8")
    asked = {}
    monkeypatch.setattr(app, "run_gui", lambda paths, **kw: asked.update(paths=paths, **kw) or 0)
    assert cli.main(["--annotations", str(notes), str(tmp_path / "s1.tfrecords")]) == 0
    assert asked["annotations"] == str(notes) and asked["paths"] == [str(tmp_path / "s1.tfrecords")]
    assert cli.main(["--annotations", str(tmp_path / "none.csv"), str(tmp_path)]) != 0

    with qtbot.waitSignals([window.loaded, window.fields.annotationsLoaded], timeout=10_000):
        app.open_at_start(window, asked["paths"], annotations=asked["annotations"])
    qtbot.waitUntil(lambda: bool(window.browser.selected_files), timeout=10_000)
    qtbot.waitUntil(lambda: window.fields.field("grade") is not None, timeout=10_000)
    choose_field(qtbot, window, "grade")
    assert window.fields.values("grade").counts.tolist() == [12]


@pytest.mark.parametrize("content, message", [
    ("patient,label\np1,x\n", "no 'slide' column"),
    (b"slide,label\n\xff\xfe,x\n", "not UTF-8"),
])
def test_a_bad_annotations_file_is_said_and_changes_nothing(qtbot, window, tmp_path, content, message):
    write_labelled(tmp_path / "s1.tfrecords", 5)
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = [f.name for f in window.fields.fields()]
    window.fields.load_annotations(str(bad))
    qtbot.waitUntil(lambda: message in window.statusBar().currentMessage(), timeout=10_000)
    assert str(bad) in window.statusBar().currentMessage()
    assert [f.name for f in window.fields.fields()] == before


def test_show_only_broken_tiles(qtbot, window, tmp_path):
    write_labelled(tmp_path / "s1.tfrecords", 40, broken={3, 17})
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    # the grid shows all 40 tiles at 96 px: every thumbnail is tried, two fail
    qtbot.waitUntil(lambda: len(window.browser.broken_rows()) == 2, timeout=15_000)
    window.commands.actions["view.broken_only"].trigger()
    assert window.filter_panel.broken.isChecked()
    assert shown_rows(window).tolist() == [3, 17]
    assert window.grid_label.text() == "Showing 2 of 40 tiles (broken tiles)"
    window.commands.actions["view.broken_only"].trigger()
    assert len(shown_rows(window)) == 40


def test_values_are_kept_per_selection_and_stale_answers_dropped(qtbot, window, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    a = write_labelled(folder / "a.tfrecords", 40)
    write_labelled(folder / "b.tfrecords", 25)
    open_and_wait(qtbot, window, folder)
    store = window.fields
    answers = []
    store.valuesReady.connect(lambda name, values: answers.append((name, values.size)))
    store.request("label")
    window.browser.select_files([1])  # before the answer for file a comes: it must be dropped
    qtbot.waitUntil(lambda: store.field("label") is not None and not window.jobs.busy(), timeout=10_000)
    assert answers == []
    with qtbot.waitSignal(store.valuesReady, timeout=10_000):
        store.request("label")
    assert answers == [("label", 25)]
    store.request("label")  # known: answered at once, nothing read
    assert answers == [("label", 25)] * 2 and not window.jobs.busy()
    window.browser.select_files([0])
    qtbot.waitUntil(lambda: store.field("label") is not None and not window.jobs.busy(), timeout=10_000)
    assert store.values("label") is None
    with qtbot.waitSignal(store.valuesReady, timeout=10_000):
        store.request("label")
    assert [store.values("label").names[c] for c in store.values("label").codes] == [r["label"] for r in a]


def test_labels_from_files_show_as_plain_text(qtbot, window, tmp_path):
    path = tmp_path / "s1.tfrecords"
    with open(path, "wb") as f:
        for i in range(6):
            label = "<b>bold</b>&amp;" if i % 2 else "<img src=x>"
            f.write(frame_record(make_example({"image_raw": make_jpeg(8, 8, seed=i), "slide": "s1", "label": label})))
    create_index(path)
    open_and_wait(qtbot, window, path)
    section = choose_field(qtbot, window, "label")
    assert [section.classes.item(i).text() for i in range(2)] == ["<b>bold</b>&amp; (3)", "<img src=x> (3)"]
    toggle_class(section, "<img src=x>")
    assert window.grid_label.text() == "Showing 3 of 6 tiles (label = <b>bold</b>&amp;)"
    assert window.grid_label.textFormat() == Qt.TextFormat.PlainText


def test_esc_clears_the_filters(qtbot, window, tmp_path):
    write_labelled(tmp_path / "s1.tfrecords", 30)
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    section = choose_field(qtbot, window, "label")
    toggle_class(section, "tumor")
    assert window.browser.tile_model.is_filtered()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=20_000)  # else Esc stops the work first
    window.grid.setFocus()
    QTest.keyClick(window.grid, Qt.Key.Key_Escape)
    assert not window.browser.tile_model.is_filtered() and not window.filter_panel.sections
    assert window.grid_label.text().startswith("30 tiles")
