"""Theme, thumbnail size, captions and layout, kept in settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QSplitter

from tfr_viewer.gui.appearance import LEFT_SIZES, Appearance
from tfr_viewer.gui.settings import Settings

from .parts import parts  # noqa: F401  (fixture)


def make_appearance(parts) -> Appearance:
    panel = parts.add_map_panel()
    splitters = {name: QSplitter(Qt.Orientation.Vertical) for name in ("main", "right", "left")}
    for name, splitter in splitters.items():
        for _ in range(2 if name == "left" else 3):
            splitter.addWidget(QSplitter())
    return Appearance(parts.settings, parts.host, splitters, parts.grid, parts.browser.tile_model, panel.map, parts.datasets)


def test_dark_theme_recolours_the_app_and_the_problems(qtbot, parts) -> None:
    appearance = make_appearance(parts)
    parts.problems.set_problems("/a", ["/a: broken"])
    light_red = parts.problems.list.item(0).foreground().color()
    try:
        appearance.set_theme("dark")
        assert QApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
        assert parts.problems.list.item(0).foreground().color() != light_red
        assert parts.settings.get("view/theme") == "dark"
    finally:
        appearance.set_theme("light")
    assert parts.problems.list.item(0).foreground().color() == light_red


def test_a_new_thumbnail_size_keeps_the_current_tile(qtbot, parts, folder: Path) -> None:
    appearance = make_appearance(parts)
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    parts.browser.select_all_row(7)
    appearance.set_thumb_size(64)
    assert parts.browser.tile_model.thumb_size == 64 and parts.settings.get("view/thumb_size") == 64
    assert parts.browser.current_all_row() == 7
    appearance.set_captions(True)
    assert parts.browser.tile_model.show_captions and parts.settings.get("view/captions")


def test_layout_and_view_settings_come_back(qtbot, parts) -> None:
    appearance = make_appearance(parts)
    parts.host.show()
    appearance.splitters["left"].setSizes([100, 300])
    saved = appearance.splitters["left"].sizes()
    parts.settings.set("view/thumb_size", 128)
    appearance.save()
    again = Appearance(Settings(), parts.host, appearance.splitters, parts.grid,
                       parts.browser.tile_model, appearance.map, parts.datasets)
    appearance.reset_layout()
    assert appearance.splitters["left"].sizes() != saved
    again.restore()
    assert appearance.splitters["left"].sizes() == saved
    assert parts.browser.tile_model.thumb_size == 128
    again.reset_layout()
    top, bottom = appearance.splitters["left"].sizes()
    assert abs(top / bottom - LEFT_SIZES[0] / LEFT_SIZES[1]) < 0.1  # the default proportions again
