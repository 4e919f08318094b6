"""View -> Slides: a row per file with tiles, size, tile px, format and problems; sortable;
selecting rows shows those files' tiles."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from .conftest import write_tiles


def open_slides(qtbot, window, folder: Path, readable: int = 3) -> QDialog:
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(folder)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    window.commands.actions["view.slides"].trigger()
    dialog = window.findChild(QDialog, "slidesTable")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: len(dialog.model.first_tiles) == readable, timeout=10_000)
    return dialog


def column(dialog, c: int) -> list[str]:
    proxy = dialog.proxy
    return [proxy.index(r, c).data() for r in range(proxy.rowCount())]


def test_the_table_lists_each_slide_and_sorts_by_value(qtbot, window, tmp_path: Path) -> None:
    write_tiles(tmp_path / "alpha.tfrecords", 1200, px=48)
    write_tiles(tmp_path / "beta.tfrecords", 30, px=32)
    write_tiles(tmp_path / "gamma.tfrecords", 250, px=32)
    dialog = open_slides(qtbot, window, tmp_path)
    assert column(dialog, 0) == ["alpha", "beta", "gamma"]
    assert column(dialog, 1) == ["1,200", "30", "250"]
    assert column(dialog, 3) == ["48×48", "32×32", "32×32"]
    assert column(dialog, 4) == ["JPEG", "JPEG", "JPEG"]
    assert column(dialog, 5) == ["", "", ""]  # no label field read
    assert column(dialog, 6) == ["", "", ""]  # no problem
    header = dialog.table.horizontalHeader()
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=_centre(header, 1))
    assert column(dialog, 1) in (["30", "250", "1,200"], ["1,200", "250", "30"])  # by number, not text
    sizes = [dialog.proxy.index(r, 2).data(Qt.ItemDataRole.UserRole + 10) for r in range(3)]
    assert sizes == sorted(sizes) or sizes == sorted(sizes, reverse=True)
    dialog.close()


def _centre(header, section: int):
    from PySide6.QtCore import QPoint

    return QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)


def test_selecting_rows_selects_the_files_and_a_bad_file_shows_its_problem(qtbot, window, tmp_path: Path) -> None:
    write_tiles(tmp_path / "a.tfrecords", 10)
    write_tiles(tmp_path / "b.tfrecords", 20)
    (tmp_path / "c.tfrecords").write_bytes(b"not a tfrecord at all")
    dialog = open_slides(qtbot, window, tmp_path, readable=2)
    problems = column(dialog, 6)
    assert problems[0] == "" and problems[1] == "" and problems[2] != ""
    table = dialog.table
    first = table.visualRect(dialog.proxy.index(0, 0)).center()
    second = table.visualRect(dialog.proxy.index(1, 0)).center()
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=first)
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, second)
    qtbot.waitUntil(lambda: window.browser.selected_files == [0, 1])
    assert window.grid.model().rowCount() == 30
    dialog.close()


def test_label_counts_per_slide_once_a_label_field_is_read(qtbot, window, tmp_path: Path) -> None:
    """The Labels column counts each slide's classes of a categorical field read for the shown
    tiles (here through the filter bar), most frequent first."""
    from collections import Counter

    from .test_filters import choose_field, write_labelled

    written = {name: write_labelled(tmp_path / f"{name}.tfrecords", n) for name, n in (("a", 40), ("b", 25))}
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(tmp_path)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    window.browser.select_files([0, 1])
    qtbot.waitUntil(lambda: window.fields.field("label") is not None, timeout=10_000)
    choose_field(qtbot, window, "label")
    window.commands.actions["view.slides"].trigger()
    dialog = window.findChild(QDialog, "slidesTable")
    qtbot.waitUntil(lambda: column(dialog, 5)[0] != "", timeout=10_000)
    assert dialog.proxy.headerData(5, Qt.Orientation.Horizontal) == "Labels (label)"
    for row, name in enumerate(("a", "b")):
        counts = Counter(fields["label"] for fields in written[name]).most_common()
        assert column(dialog, 5)[row] == ", ".join(f"{label} {n:,}" for label, n in counts)
    dialog.close()
