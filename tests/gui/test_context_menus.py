"""Right-click menus on tiles and files, Ctrl+C copying the tile's image, and a random sample of
the selection, driven through real context-menu and key events on the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QContextMenuEvent, QDesktopServices, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

import tfr_viewer as sf
from tfr_viewer.gui.context_menus import sample_rows

from .test_main_window import open_and_wait

# a popped-up menu on the offscreen platform: it cannot raise windows or grab the keyboard
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing)")


def _right_click(widget, pos: QPoint) -> None:
    """What a right click sends the widget: a context-menu event at `pos`."""
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)


def _action(menu, text: str):
    found = [a for a in menu.actions() if a.text() == text]
    assert found, [a.text() for a in menu.actions()]
    return found[0]


def _tile_pos(window, row: int) -> QPoint:
    window.grid.scrollTo(window.browser.tile_model.index(row))
    return window.grid.visualRect(window.browser.tile_model.index(row)).center()


def test_tile_menu_copies_path_and_record_and_shows_on_map(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        _right_click(window.grid.viewport(), _tile_pos(window, 7))
    menu = window.context_menus.menu
    assert menu is not None and menu.isVisible()
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Export…", "Copy image", "Copy path and record", "Show on map", "Random sample…"]
    assert window.grid.currentIndex().row() == 7  # the tile clicked became current
    _action(menu, "Copy path and record").trigger()
    assert QGuiApplication.clipboard().text() == f"{folder / 'slide_a.tfrecords'}, record 7"
    window.map_panel.map.getPlotItem().getViewBox().setRange(xRange=(0, 100), yRange=(0, 100), padding=0)
    _right_click(window.grid.viewport(), _tile_pos(window, 7))
    _action(window.context_menus.menu, "Show on map").trigger()
    x, y = sf.TFRecord(folder / "slide_a.tfrecords").locations[7]
    (x0, x1), (y0, y1) = window.map_panel.map.getPlotItem().getViewBox().viewRange()
    assert window.map_panel.map.highlighted_xy() == (x, y)
    assert abs((x0 + x1) / 2 - x) < 1 and abs((y0 + y1) / 2 - y) < 1


def test_ctrl_c_copies_the_tile_image_decoded_on_a_worker(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.grid.setFocus()
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(4))
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(window.jobs.idle, timeout=10_000):
        QTest.keyClick(window.grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    image = QGuiApplication.clipboard().image()
    pixels = sf.io.decode_image(sf.TFRecord(folder / "slide_a.tfrecords")[4]["image_raw"])
    assert (image.width(), image.height()) == (pixels.shape[1], pixels.shape[0])
    for x, y in ((0, 0), (5, 9), (pixels.shape[1] - 1, pixels.shape[0] - 1)):
        colour = image.pixelColor(x, y)
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(v) for v in pixels[y, x])
    assert "Copied the image of slide_a.tfrecords, record 4" in window.statusBar().currentMessage()


def test_tile_menu_export_opens_the_export_dialog(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.grid.selectAll()
    _right_click(window.grid.viewport(), _tile_pos(window, 2))
    action = _action(window.context_menus.menu, "Export 60 tile(s)…")
    action.trigger()
    dialog = window.tools.export_dialog
    assert dialog.isVisible() and dialog.summary.text().startswith("60 tile(s) from 1 TFRecord(s)")
    dialog.reject()


def test_file_menu_verify_copy_path_and_file_manager(qtbot, window, folder: Path, monkeypatch) -> None:
    open_and_wait(qtbot, window, folder)
    window.tree.expandAll()
    index = window.browser.tree_index(1)
    with qtbot.waitSignal(window.browser.filesShown, timeout=10_000):
        _right_click(window.tree.viewport(), window.tree.visualRect(index).center())
    assert window.browser.selected_files == [1]  # the file right-clicked is the one acted on
    menu = window.context_menus.menu
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Verify", "Rebuild index", "Copy path", "Show in the file manager"]
    _action(menu, "Copy path").trigger()
    assert QGuiApplication.clipboard().text() == str(folder / "slide_b.tfrecords")
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    _action(menu, "Show in the file manager").trigger()
    assert [u.toLocalFile() for u in opened] == [str(folder)]
    with qtbot.waitSignal(window.jobs.idle, timeout=20_000):
        _action(menu, "Verify").trigger()
    assert window.statusBar().currentMessage() == "Verify: 1 of 1 file(s) OK"
    indexed: list[int] = []
    window.datasets.fileIndexed.connect(indexed.append)
    with qtbot.waitSignal(window.datasets.indexingFinished, timeout=20_000):
        _action(menu, "Rebuild index").trigger()
    assert indexed == [1]


def test_random_sample_of_the_selection_is_seeded(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.browser.select_files([0, 1])
    qtbot.waitUntil(lambda: window.browser.tile_model.rowCount() == 85)
    window.grid.selectAll()
    window.commands.actions["tools.random_sample"].trigger()
    dialog = window.context_menus.sample_dialog
    assert dialog.isVisible() and dialog.count.maximum() == 85
    dialog.count.setValue(10)
    dialog.seed.setValue(7)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    model = window.browser.tile_model
    assert model.rowCount() == 10
    expected = sample_rows(np.arange(85), 10, 7)
    assert [model.all_row(r) for r in range(10)] == expected.tolist()
    assert window.clear_map_filter.isVisible()
    assert window.statusBar().currentMessage().startswith("Random sample: 10 of 85 tiles (seed 7)")
    assert sample_rows(np.arange(85), 10, 7).tolist() == expected.tolist()  # the same seed, the same tiles
    assert sample_rows(np.arange(85), 10, 8).tolist() != expected.tolist()
    qtbot.mouseClick(window.clear_map_filter, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 85


@pytest.mark.parametrize("n", [1, 5])
def test_sample_rows_are_distinct_members(n: int) -> None:
    source = np.array([3, 9, 11, 40, 41, 77])
    rows = sample_rows(source, n, 0)
    assert len(rows) == n and len(set(rows.tolist())) == n and set(rows.tolist()) <= set(source.tolist())
    assert list(rows) == sorted(rows)


def test_copying_a_tile_that_does_not_decode_names_file_and_record(qtbot, window, tmp_path: Path) -> None:
    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.index import create_index
    from tfr_viewer.core.records import make_example

    from ..helpers import make_jpeg

    root = tmp_path / "bad"
    root.mkdir()
    with open(root / "x.tfrecords", "wb") as f:
        for i, image in enumerate([make_jpeg(32, 32, seed=1), b"\xff\xd8\xff not a whole jpeg"]):
            f.write(frame_record(make_example({"image_raw": image, "slide": "x", "loc_x": i, "loc_y": 0})))
    create_index(root / "x.tfrecords")  # no indexing after the opening to reset the grid's current tile
    open_and_wait(qtbot, window, root)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(1))
    QGuiApplication.clipboard().setText("before")
    window.context_menus.copy_image()
    qtbot.waitUntil(lambda: len(window.errors.history) > 0, timeout=10_000)
    assert window.errors.history[-1] == f"{root / 'x.tfrecords'}, record 1: image bytes do not decode (no marker found)"
    assert QGuiApplication.clipboard().text() == "before"  # nothing half-copied
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(0))
    window.context_menus.copy_image()  # the next copy works
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().image().width() == 32, timeout=10_000)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
