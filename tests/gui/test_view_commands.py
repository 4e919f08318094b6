"""F11, Reset layout, thumbnail size keys, File -> Close and Help -> Keyboard shortcuts, through
their keys and menu actions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from tfr_viewer.gui.actions import shortcut_table
from tfr_viewer.gui.appearance import MAIN_SIZES


def press(qtbot, window, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    window.activateWindow()
    qtbot.waitActive(window)
    QTest.keyClick(window, key, modifiers)


def test_f11_toggles_full_screen(qtbot, window) -> None:
    press(qtbot, window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen)
    assert window.commands.actions["view.full_screen"].isChecked()
    press(qtbot, window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not window.isFullScreen())
    press(qtbot, window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen)
    press(qtbot, window, Qt.Key.Key_Escape)  # Esc leaves it too
    qtbot.waitUntil(lambda: not window.isFullScreen())
    assert not window.commands.actions["view.full_screen"].isChecked()


def test_reset_layout_brings_back_the_default_proportions(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(folder)  # the panes show (the welcome page hides them)
    window.resize(1024, 700)  # the smallest window the layout is made for
    qtbot.waitUntil(lambda: sum(window.splitter.sizes()) > 900)  # laid out at the new width
    window.splitter.setSizes([900, 100, 400])
    window.commands.actions["view.reset_layout"].trigger()
    tree, grid, right = window.splitter.sizes()
    assert abs(grid / tree - MAIN_SIZES[1] / MAIN_SIZES[0]) < 0.1
    assert abs(right / tree - MAIN_SIZES[2] / MAIN_SIZES[0]) < 0.1


def test_ctrl_plus_and_minus_step_through_the_thumbnail_sizes(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(folder)
    window.grid.setFocus()
    assert window.browser.tile_model.thumb_size == 96
    press(qtbot, window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.browser.tile_model.thumb_size == 128 and window.grid.iconSize().width() == 128
    assert window.commands.actions["view.thumb_size.128"].isChecked()
    assert window.settings.get("view/thumb_size") == 128
    for expected in (96, 64, 64):  # the smallest size is where it stops
        press(qtbot, window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
        assert window.browser.tile_model.thumb_size == expected
    assert window.commands.actions["view.thumb_size.64"].isChecked()
    press(qtbot, window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)  # Ctrl++ (Shift or keypad)
    assert window.browser.tile_model.thumb_size == 96


def test_file_close_goes_back_to_the_welcome_page(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(folder)
    assert window.grid.model().rowCount() == 60
    press(qtbot, window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.welcome
    assert window.datasets.entries == [] and window.grid.model().rowCount() == 0
    assert window.datasets.tree_model.rowCount() == 0
    assert window.windowTitle() == "tfr-viewer"
    assert window.welcome.recent.count() == 1  # the closed folder is in Recent, one click away
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)


def test_help_lists_every_shortcut_of_the_command_table(qtbot, window) -> None:
    window.commands.actions["help.shortcuts"].trigger()
    dialog = window.findChild(QDialog, "shortcutsDialog")
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows()
    assert rows == shortcut_table()
    native = QKeySequence.SequenceFormat.NativeText
    for expected in [("Full screen", "F11"), ("Quit", QKeySequence("Ctrl+Q").toString(native)),
                     ("Larger thumbnails", QKeySequence("Ctrl+=").toString(native)),
                     ("Close dataset", QKeySequence("Ctrl+W").toString(native))]:
        assert expected in rows
    dialog.close()
