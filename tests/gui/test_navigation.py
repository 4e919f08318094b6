"""Go to… (Ctrl+G) by record and by x/y, and a Problems line that takes you to its tile."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from .test_filters import open_and_wait, write_labelled


def activate(view, rect) -> None:
    """Click a line, then Enter: the view's `activated`, as a user's keyboard gives it."""
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.keyClick(view, Qt.Key.Key_Return)


def go_to(qtbot, window, record: str = "", x: str = "", y: str = "") -> None:
    """Ctrl+G's action, then the dialog filled with keys and accepted with Enter."""
    window.commands.actions["view.go_to"].trigger()
    dialog = window.goto.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    if record:
        QTest.keyClicks(dialog.record, record)
        QTest.keyClick(dialog.record, Qt.Key.Key_Return)
    else:
        QTest.keyClicks(dialog.x, x)
        QTest.keyClicks(dialog.y, y)
        QTest.keyClick(dialog.y, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)


def test_go_to_has_ctrl_g(qtbot, window):
    assert window.commands.actions["view.go_to"].shortcut().toString() == "Ctrl+G"


def test_go_to_a_record_makes_it_current_everywhere(qtbot, window, tmp_path):
    write_labelled(tmp_path / "s1.tfrecords", 120)
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    rings = []
    window.browser.currentTileChanged.connect(rings.append)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        go_to(qtbot, window, record="97")
    assert window.browser.current_all_row() == 97 and rings[-1] == 97
    assert window.grid.viewport().rect().intersects(window.grid.visualRect(window.grid.currentIndex()))
    assert window.viewer.title.text().startswith("s1 · record 97 · ")
    assert window.statusBar().currentMessage() == "s1: record 97"
    assert "record 97" in window.metadata.text()
    go_to(qtbot, window, record="500")
    assert window.statusBar().currentMessage() == "s1 has no record 500 (records 0 to 119)"
    assert window.browser.current_all_row() == 97


def test_go_to_x_y_takes_the_nearest_tile_and_says_so(qtbot, window, tmp_path):
    written = write_labelled(tmp_path / "s1.tfrecords", 60)
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    exact = 37
    x, y = written[exact]["loc_x"], written[exact]["loc_y"]
    go_to(qtbot, window, x=str(x), y=str(y))
    assert window.browser.current_all_row() == exact
    assert window.statusBar().currentMessage() == f"s1: record {exact} at x {x}, y {y}"
    go_to(qtbot, window, x=str(x + 20), y=str(y - 25))  # nearer to record 37 than to any other
    assert window.browser.current_all_row() == exact
    assert window.statusBar().currentMessage().endswith(f"(nearest to x {x + 20}, y {y - 25})")


def test_go_to_a_tile_the_filters_hide_clears_them(qtbot, window, tmp_path):
    written = write_labelled(tmp_path / "s1.tfrecords", 50)
    open_and_wait(qtbot, window, tmp_path / "s1.tfrecords")
    window.browser.apply_region([1, 2, 3])
    hidden = next(i for i in range(50) if i not in (1, 2, 3))
    go_to(qtbot, window, record=str(hidden))
    assert window.browser.current_all_row() == hidden and not window.browser.tile_model.is_filtered()
    assert written[hidden]["label"]


def test_a_problems_line_goes_to_its_broken_tile(qtbot, window, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    write_labelled(folder / "a.tfrecords", 30)
    write_labelled(folder / "b.tfrecords", 80, broken={66})
    open_and_wait(qtbot, window, folder)
    assert window.browser.selected_files == [0]
    # the broken tile is read (its record) and named in Problems with its file and record
    window.browser.select_files([1])
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.browser.go_to_record(66)
    problems = window.problems.list
    qtbot.waitUntil(lambda: problems.count() >= 1, timeout=10_000)
    line = next(problems.item(i) for i in range(problems.count()) if "record 66" in problems.item(i).text())
    assert str(folder / "b.tfrecords") in line.text()

    window.browser.select_files([0])  # elsewhere: another file, another tile
    qtbot.waitUntil(lambda: window.browser.current_all_row() == 0)
    rings = []
    window.browser.currentTileChanged.connect(rings.append)
    rect = problems.visualItemRect(line)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        activate(problems, rect)
    assert window.browser.selected_files == [1]
    assert window.browser.current_all_row() == 66 and rings[-1] == 66
    assert window.grid.viewport().rect().intersects(window.grid.visualRect(window.grid.currentIndex()))
    assert "record 66" in window.viewer.title.text() and not window.viewer.has_image()  # the error, no image
    assert "record 66" in window.metadata.text()
    assert window.browser.broken_rows().tolist() == [66]


def test_a_file_level_problems_line_selects_its_file(qtbot, window, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    write_labelled(folder / "a.tfrecords", 10)
    write_labelled(folder / "b.tfrecords", 10)
    open_and_wait(qtbot, window, folder)
    window.problems.set_problems(str(folder / "b.tfrecords"), [f"{folder / 'b.tfrecords'}: something"])
    item = window.problems.list.item(0)
    rect = window.problems.list.visualItemRect(item)
    activate(window.problems.list, rect)
    assert window.browser.selected_files == [1]


def test_problem_lines_carry_their_file_and_record(qtbot):
    from tfr_viewer.gui.widgets.problems import ProblemsPanel

    panel = ProblemsPanel()
    qtbot.addWidget(panel)
    activated = []
    panel.problemActivated.connect(lambda path, record: activated.append((path, record)))
    panel.set_problems("/a", ["/a, record 3: bad CRC", "/a: cut short"], [3, -1])
    panel.add_tile_problem("/a", 9, "/a, record 9: not an image")
    panel.add_tile_problem("/a", 9, "/a, record 9: not an image")  # said once
    panel.add_tile_problem("/b", 0, "/b, record 0: not an image")
    assert panel.tile_problems() == [("/a", 3), ("/a", 9), ("/b", 0)]
    assert panel.label.text() == "Problems (4)"
    for row in range(panel.list.count()):
        panel.list.itemActivated.emit(panel.list.item(row))
    assert activated == [("/a", 3), ("/a", -1), ("/a", 9), ("/b", 0)]
    panel.set_problems("/a", [])  # the file reads well again: its lines go, tiles too
    assert panel.tile_problems() == [("/b", 0)] and panel.list.count() == 1
