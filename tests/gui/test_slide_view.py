"""The slide view driven like a user: slides side by side, zoom until the tiles' own images show,
click a tile of the second slide, a rectangle that stays, the map's own menu, export, outliers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from tfr_viewer.gui.widgets.map_export import render_map
from tfr_viewer.gui.widgets.slide_colours import PALETTE, palette_colour

from .slide_data import LABELS, STEP, tile_colour, write_slide

RING = (214, 39, 40)  # the current tile's ring and the selection rectangle


def open_slides(qtbot, window, root: Path, file_ids: list[int]) -> None:
    with qtbot.waitSignals([window.loaded, window.mapFilled], timeout=15_000):
        window.open_path(str(root))
    if file_ids != [0]:
        with qtbot.waitSignal(window.mapFilled, timeout=10_000):
            window.browser.select_files(file_ids)


def send_mouse(widget, kind, pos: QPointF, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers))


def click(widget, pos: QPointF, button=Qt.MouseButton.LeftButton) -> None:
    send_mouse(widget, QEvent.Type.MouseButtonPress, pos, button, button)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton)


def wheel(widget, pos: QPointF, notches: int) -> None:
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def pixel(image: QImage, pos: QPointF) -> tuple[int, int, int]:
    colour = QColor(image.pixel(round(pos.x()), round(pos.y())))
    return colour.red(), colour.green(), colour.blue()


def near(a, b, tolerance: int = 4) -> bool:
    return all(abs(int(x) - int(y)) <= tolerance for x, y in zip(a, b))


@pytest.fixture
def three_slides(tmp_path: Path) -> Path:
    root = tmp_path / "slides"
    root.mkdir()
    write_slide(root / "alpha.tfrecords", 0, 12, 8)
    write_slide(root / "beta.tfrecords", 1, 10, 10)
    write_slide(root / "gamma.tfrecords", 2, 8, 12)
    return root


def test_zooming_in_shows_each_tiles_own_image(qtbot, window, tmp_path: Path) -> None:
    write_slide(tmp_path / "big.tfrecords", 0, 40, 30)
    open_slides(qtbot, window, tmp_path, [0])
    panel, view = window.map_panel, window.map_panel.map
    qtbot.waitUntil(lambda: view.slide_items()[0].has_overview(), timeout=20_000)
    view.menu_actions["overlay:Off"].trigger()  # the tiles' own colours, no dot overlay
    assert view.overlay_opacity == 0.0 and panel.overlay.value() == 0
    i = 17 * 40 + 23  # column 23, row 17
    x, y = STEP * 23 + STEP // 2, STEP * 17 + STEP // 2
    viewport = view.viewport()
    zoomed_out = viewport.grab().toImage()
    assert not len(view.visible_tiles()[0])  # zoomed out: the overview, no thumbnails
    for _ in range(12):
        if len(view.visible_tiles()[0]):
            break
        wheel(viewport, QPointF(view.view_point_to_widget(x, y)), 1)
    rows, size = view.visible_tiles()
    assert i in rows.tolist() and len(rows) < 1200 and size >= 64
    qtbot.waitUntil(lambda: view.tile_images.get(i) is not None, timeout=10_000)
    image = viewport.grab().toImage()
    for k in (i, i + 1, i - 40):  # the tile and its neighbours, each in its own colour
        kx, ky = STEP * (k % 40) + STEP // 2, STEP * (k // 40) + STEP // 2
        assert near(pixel(image, view.view_point_to_widget(kx, ky)), tile_colour(0, k)), k
    assert view.tile_images.get(i).width() == 32  # the tile's own pixels (32 px tiles never upscale)
    assert zoomed_out != image


def test_a_click_on_the_second_of_three_slides_makes_its_tile_current(qtbot, window, three_slides: Path) -> None:
    open_slides(qtbot, window, three_slides, [0, 1, 2])
    view = window.map_panel.map
    items = view.slide_items()
    assert view.slide_titles() == ["alpha", "beta", "gamma"]
    boxes = [item.frame.placed_bounds for item in items]
    for a in range(3):  # never overlapped
        for b in range(a + 1, 3):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0
    assert window.map_panel.legend.texts() == ["alpha (96)", "beta (100)", "gamma (96)"]
    beta = items[1]
    k = 34  # beta's record 34
    x, y = beta.xy[k]
    click(view.viewport(), QPointF(view.view_point_to_widget(x, y)))
    all_row = 96 + k
    qtbot.waitUntil(lambda: window.browser.current_all_row() == all_row, timeout=5000)
    assert window.browser.tile_model.key(window.grid.currentIndex().row()) == (1, 34)
    qtbot.waitUntil(lambda: "beta" in window.metadata.text(), timeout=5000)
    assert f"loc_x\tint64\t1\t{STEP * 4 + STEP // 2}" in window.metadata.text()
    assert view.highlighted_xy() == (x, y)
    # every slide's tiles answer clicks, not only the last one drawn
    for item, first in zip(items, (0, 96, 196)):
        click(view.viewport(), QPointF(view.view_point_to_widget(*item.xy[5])))
        qtbot.waitUntil(lambda first=first: window.browser.current_all_row() == first + 5, timeout=5000)


def test_the_rectangle_stays_until_cleared(qtbot, window, three_slides: Path) -> None:
    open_slides(qtbot, window, three_slides, [0])
    view, viewport = window.map_panel.map, window.map_panel.map.viewport()
    start = QPointF(view.view_point_to_widget(0, 0))
    end = QPointF(view.view_point_to_widget(STEP * 3.5 + 40, STEP * 1.5 + 40))  # columns 0-3, rows 0-1
    shift = Qt.KeyboardModifier.ShiftModifier
    left = Qt.MouseButton.LeftButton
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, left, left, shift)
    for t in np.linspace(0.1, 1.0, 8):
        send_mouse(viewport, QEvent.Type.MouseMove, start + (end - start) * float(t), Qt.MouseButton.NoButton, left, shift)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton, shift)
    qtbot.waitUntil(window.browser.tile_model.is_filtered, timeout=5000)
    assert window.browser.tile_model.rowCount() == 8
    qtbot.wait(0)
    assert view.band_rect() is not None  # still drawn after the release
    image = view.grab().toImage()
    assert near(pixel(image, QPointF(view.view_point_to_widget(STEP * 3.5 + 40, STEP))), RING, 40)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)  # else Esc cancels the jobs first
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.band_rect() is None and not window.browser.tile_model.is_filtered()
    # drawn again, then cleared from the grid's "Show all tiles": the map follows
    view.show_band(view.getPlotItem().getViewBox().viewRect())
    window.map_panel.regionSelected.emit(np.arange(4))
    window.clear_map_filter.click()
    assert view.band_rect() is None


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard", "does not support raise")  # offscreen popups
def test_the_maps_own_context_menu(qtbot, window, three_slides: Path, monkeypatch, tmp_path: Path) -> None:
    open_slides(qtbot, window, three_slides, [0, 1])
    view = window.map_panel.map
    assert not view.getPlotItem().getViewBox().menuEnabled()  # not pyqtgraph's
    click(view.viewport(), QPointF(view.viewport().rect().center()), Qt.MouseButton.RightButton)
    qtbot.waitUntil(view.menu.isVisible, timeout=2000)
    texts = [a.text() for a in view.menu.actions() if a.text()]
    assert texts[:4] == ["Reset view", "Select area", "Show these tiles", "Show outliers (fit all)"]
    assert "Export…" in texts and not any("FFT" in t or "Log" in t for t in texts)
    view.menu.hide()
    view.menu_actions["dots"].trigger()
    assert not view.mosaic and window.map_panel.view_mode.currentData() is False
    assert not any(item.isVisible() for item in view.slide_items())
    view.menu_actions["mosaic"].trigger()
    assert view.mosaic and all(item.isVisible() for item in view.slide_items())
    view.getPlotItem().getViewBox().scaleBy((0.2, 0.2))
    view.menu_actions["show_these"].trigger()
    model = window.browser.tile_model
    assert model.is_filtered() and 0 < model.rowCount() < 196
    view.menu_actions["reset"].trigger()
    assert not model.is_filtered()
    view.menu_actions["select"].trigger()
    assert view.getPlotItem().getViewBox().select_mode and window.commands.actions["view.select_area"]
    out = tmp_path / "menu.png"
    monkeypatch.setattr("tfr_viewer.gui.tools.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    monkeypatch.setattr("tfr_viewer.gui.tools.QInputDialog.getInt", lambda *a, **k: (800, True))
    with qtbot.waitSignal(window.tools.mapExported, timeout=10_000):
        view.menu_actions["export"].trigger()
    assert Image.open(out).size[0] == 800


def test_export_at_4000_px_has_title_and_legend_and_no_ring(qtbot, window, three_slides: Path, monkeypatch,
                                                            tmp_path: Path) -> None:
    open_slides(qtbot, window, three_slides, [0, 1, 2])
    view = window.map_panel.map
    qtbot.waitUntil(lambda: all(item.has_overview() for item in view.slide_items()), timeout=20_000)
    view.menu_actions["overlay:Off"].trigger()
    window.browser.select_all_row(100)
    qtbot.waitUntil(lambda: view.highlighted_xy() is not None, timeout=5000)
    view.show_band(view.getPlotItem().getViewBox().viewRect().adjusted(100, 100, -100, -100))
    on_screen = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    shown = np.frombuffer(on_screen.constBits(), np.uint8).reshape(on_screen.height(), on_screen.bytesPerLine())
    assert (shown[:, : on_screen.width() * 3].reshape(on_screen.height(), -1, 3) == RING).all(axis=2).any()
    out = tmp_path / "map.png"
    monkeypatch.setattr("tfr_viewer.gui.tools.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    monkeypatch.setattr("tfr_viewer.gui.tools.QInputDialog.getInt", lambda *a, **k: (4000, True))
    with qtbot.waitSignal(window.tools.mapExported, timeout=30_000):
        window.commands.actions["file.export_map"].trigger()
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape[1] == 4000 and 1000 < pixels.shape[0] < 4000
    assert not (pixels == RING).all(axis=2).any()  # neither the ring nor the rectangle
    bottom = pixels[-pixels.shape[0] // 10 :]
    for group in (0, 1, 2):  # the legend's swatches
        colour = QColor(palette_colour(group))
        assert (bottom == (colour.red(), colour.green(), colour.blue())).all(axis=2).sum() > 100
    # the tiles themselves are in the image: beta's tile 0 colour somewhere in the middle
    assert (np.abs(pixels.astype(int) - tile_colour(1, 0)).max(axis=2) <= 4).any()
    assert view.band_rect() is not None and view.highlighted_xy() is not None  # the view keeps them


def test_a_huge_export_is_capped_and_says_so(qtbot, window, three_slides: Path) -> None:
    open_slides(qtbot, window, three_slides, [0])
    image, note = render_map(window.map_panel.map, 100_000)
    assert image.width() <= 16384 and image.width() * image.height() <= 2**26
    assert "too big" in note and f"{image.width():,}" in note


def test_one_stray_tile_does_not_squeeze_the_slide(qtbot, window, tmp_path: Path) -> None:
    write_slide(tmp_path / "stray.tfrecords", 0, 10, 10, stray_at=(STEP // 2, 10**9))
    open_slides(qtbot, window, tmp_path, [0])
    view = window.map_panel.map
    (x0, x1), (y0, y1) = view.getPlotItem().getViewBox().viewRange()
    assert y1 - y0 < 40 * STEP and x1 - x0 < 40 * STEP  # the 10 x 10 tiles fill the view, not the stray at 1e9
    assert view.outlier_count() == 1
    view.menu_actions["outliers"].trigger()
    (_, _), (y0, y1) = view.getPlotItem().getViewBox().viewRange()
    assert y1 > 10**9  # "Show outliers" frames the stray too
    view.menu_actions["outliers"].trigger()
    (_, _), (y0, y1) = view.getPlotItem().getViewBox().viewRange()
    assert y1 - y0 < 40 * STEP


def test_a_broken_tile_is_marked_and_named(qtbot, window, tmp_path: Path) -> None:
    write_slide(tmp_path / "cracked.tfrecords", 0, 6, 6, broken=(7,))
    open_slides(qtbot, window, tmp_path, [0])
    panel, view = window.map_panel, window.map_panel.map
    view.menu_actions["overlay:Off"].trigger()
    qtbot.waitUntil(lambda: panel.tile_note.isVisibleTo(window), timeout=20_000)
    assert "cracked.tfrecords" in panel.tile_note.text() and "record 7" in panel.tile_note.text()
    assert (str(tmp_path / "cracked.tfrecords"), 7) in window.problems.tile_problems()  # a line that leads to it
    x, y = STEP + STEP // 2, STEP + STEP // 2  # tile 7: column 1, row 1
    qtbot.waitUntil(lambda: view.slide_items()[0].has_overview(), timeout=10_000)
    red = pixel(view.viewport().grab().toImage(), QPointF(view.view_point_to_widget(x + STEP / 4, y)))
    assert red[0] > 150 and red[1] < 80 and red[2] < 80
    assert near(pixel(view.viewport().grab().toImage(), QPointF(view.view_point_to_widget(x + STEP, y))), tile_colour(0, 8), 12)


def test_colour_by_a_label_field_and_show_the_filtered_tiles(qtbot, window, tmp_path: Path) -> None:
    write_slide(tmp_path / "labelled.tfrecords", 0, 6, 5, labelled=True)  # 30 tiles: 10 of each label
    open_slides(qtbot, window, tmp_path, [0])
    panel, view = window.map_panel, window.map_panel.map
    qtbot.waitUntil(lambda: panel.color_by.findData("class:label") >= 0, timeout=10_000)
    panel.color_by.setCurrentIndex(panel.color_by.findData("class:label"))
    names = sorted(LABELS)  # the classes in the legend, markup shown as text
    qtbot.waitUntil(lambda: panel.legend.texts() == [f"{name} (10)" for name in names], timeout=10_000)
    assert panel.color_by.findData("class:slide") < 0 and panel.color_by.itemData(0) == "slide"
    assert panel.color_legend.text() == "label: 3 classes" and view.overlay_opacity > 0  # the dots show the classes
    view.menu_actions["dots"].trigger()
    image = view.viewport().grab().toImage()
    for i in range(3):  # tile i has label LABELS[i], coloured by its class
        x, y = STEP * i + STEP // 2, STEP // 2
        expected = QColor(PALETTE[names.index(LABELS[i])]).getRgb()[:3]
        assert near(pixel(image, QPointF(view.view_point_to_widget(x, y))), expected, 12), i
    window.filters.filter_by("label", {"tumor"})  # the grid's subset: the map shows the same tiles
    qtbot.waitUntil(lambda: window.browser.tile_model.rowCount() == 10, timeout=10_000)
    assert view.nearest_row(STEP // 2, STEP // 2) == 0  # a tumor tile answers clicks
    assert view.nearest_row(STEP + STEP // 2, STEP // 2) is None  # a stroma tile is hidden
    window.browser.clear_filters()
    assert view.nearest_row(STEP + STEP // 2, STEP // 2) == 1


def test_slide_names_that_look_like_markup_are_titled_as_text(qtbot, window, tmp_path: Path) -> None:
    names = ["<img src=x onerror=y>", "<b>bold<b> & <i>"]  # file names: the slide is named by its file
    for k, name in enumerate(names):
        write_slide(tmp_path / f"{name}.tfrecords", k, 3, 3)
    open_slides(qtbot, window, tmp_path, [0, 1])
    view = window.map_panel.map
    shown = sorted(view.slide_titles())
    assert shown == sorted(names)
    assert sorted(window.map_panel.legend.texts()) == sorted(f"{name} (9)" for name in names)
    image = view.viewport().grab().toImage()  # drawn as text: the title's row is not empty
    x0, y0, _, _ = view.slide_items()[0].frame.placed_bounds
    corner = view.view_point_to_widget(x0, y0)
    ink = [image.pixelColor(corner.x() + dx, corner.y() - dy).lightness() for dx in range(4, 120) for dy in range(3, 14)]
    assert min(ink) < 100  # dark text on the light background


def test_drawing_the_overviews_shows_progress_and_stops(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    import threading

    from tfr_viewer.gui import mosaic_workers

    release = threading.Event()
    build = mosaic_workers.load_or_build_overview

    def held(*args, progress=None, **kwargs):  # the build waits after its first report until Stop is pressed
        def report(step):
            progress(step)
            release.wait(10)
        return build(*args, progress=report, **kwargs)

    monkeypatch.setattr(mosaic_workers, "load_or_build_overview", held)
    write_slide(tmp_path / "wide.tfrecords", 0, 20, 20)  # 400 tiles: a cancel check after the first 256
    open_slides(qtbot, window, tmp_path, [0])
    panel, view = window.map_panel, window.map_panel.map
    qtbot.waitUntil(lambda: panel.overview_row.isVisibleTo(window), timeout=10_000)
    assert panel.overview_note.text().startswith("Drawing the slide overview of wide.tfrecords: 0 of 400 tiles")
    with qtbot.waitSignal(panel.overviewsStopped, timeout=10_000):
        qtbot.mouseClick(panel.stop_overviews, Qt.MouseButton.LeftButton)
        release.set()
    assert not panel.overview_row.isVisibleTo(window) and not view.slide_items()[0].has_overview()
    assert view._points.isVisible()  # the tiles stay shown as dots, and clickable
    click(view.viewport(), QPointF(view.view_point_to_widget(STEP * 2.5, STEP * 3.5)))
    qtbot.waitUntil(lambda: window.browser.current_all_row() == 3 * 20 + 2, timeout=5000)
