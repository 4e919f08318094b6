"""The tile viewer in the window: arrow keys step through the tiles, the zoom level is shown,
Fit and 100% are toggles (buttons and a double-click)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from .test_main_window import open_and_wait


def _viewer_focused(qtbot, window, row: int) -> None:
    window.grid.setFocus()
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(row))
    QTest.keyClick(window.grid, Qt.Key.Key_Return)  # Enter: to the viewer
    assert window.viewer.view.hasFocus()


def test_arrow_keys_step_through_tiles_in_the_viewer(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    _viewer_focused(qtbot, window, 5)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        QTest.keyClick(window.viewer.view, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 6
    assert window.viewer.title.text().startswith("slide_a · record 6")
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        QTest.keyClick(window.viewer.view, Qt.Key.Key_Left)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        QTest.keyClick(window.viewer.view, Qt.Key.Key_Left)
    assert window.grid.currentIndex().row() == 4
    assert window.viewer.view.hasFocus()  # still in the viewer: the next arrow steps again


def test_arrows_in_the_grid_still_move_in_the_grid(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.grid.setFocus()
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(3))
    QTest.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 4 and window.grid.hasFocus()


def test_zoom_level_shown_and_fit_100_toggles(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    _viewer_focused(qtbot, window, 1)
    viewer = window.viewer
    fit, actual = viewer.buttons["Fit"], viewer.buttons["100%"]
    assert fit.isChecked() and not actual.isChecked()
    assert viewer.zoom_label.text() == f"{viewer.zoom_factor() * 100:.0f}%" and viewer.zoom_factor() > 1  # a 32 px tile
    qtbot.mouseClick(actual, Qt.MouseButton.LeftButton)
    assert viewer.zoom_label.text() == "100%" and actual.isChecked() and not fit.isChecked()
    qtbot.mouseClick(viewer.buttons["+"], Qt.MouseButton.LeftButton)
    assert viewer.zoom_label.text() == "125%" and not actual.isChecked() and not fit.isChecked()
    QTest.mouseDClick(viewer.view.viewport(), Qt.MouseButton.LeftButton)
    assert fit.isChecked() and viewer.zoom_label.text() != "125%"
    QTest.mouseDClick(viewer.view.viewport(), Qt.MouseButton.LeftButton)
    assert actual.isChecked() and viewer.zoom_label.text() == "100%"
    viewer.show_message("record 3: the image does not decode")
    assert viewer.zoom_label.text() == ""
