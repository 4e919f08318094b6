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
    assert column(dialog, 5) == ["", "", ""]
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
    problems = column(dialog, 5)
    assert problems[0] == "" and problems[1] == "" and problems[2] != ""
    table = dialog.table
    first = table.visualRect(dialog.proxy.index(0, 0)).center()
    second = table.visualRect(dialog.proxy.index(1, 0)).center()
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=first)
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, second)
    qtbot.waitUntil(lambda: window.browser.selected_files == [0, 1])
    assert window.grid.model().rowCount() == 30
    dialog.close()
