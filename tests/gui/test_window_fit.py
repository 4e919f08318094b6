"""The window fits the screen it opens on, and its grid fills the width at any size."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect

from tfr_viewer.gui.settings import Settings
from tfr_viewer.gui.workers import active_threads


def new_window(qtbot, settings: Settings):
    from tfr_viewer.gui.main_window import MainWindow

    window = MainWindow(settings, dialogs=False)
    qtbot.addWidget(window)
    return window


def close(qtbot, window) -> None:
    window.close()
    qtbot.waitUntil(lambda: not active_threads(), timeout=10_000)


def test_the_default_size_fits_the_available_screen(qtbot) -> None:
    window = new_window(qtbot, Settings(fresh=True))
    area = window.screen().availableGeometry()
    assert area.width() < 1440 or area.height() < 900  # the offscreen screen is smaller than the old default
    assert area.contains(window.geometry())
    assert window.width() >= area.width() * 0.8 and window.height() >= area.height() * 0.8
    close(qtbot, window)


def test_a_geometry_saved_on_a_larger_screen_is_clamped_to_this_one(qtbot) -> None:
    first = new_window(qtbot, Settings(fresh=True))
    first.setGeometry(QRect(1500, 1200, 2400, 1600))  # a window on a big monitor, now unplugged
    first.show()
    qtbot.waitExposed(first)
    close(qtbot, first)  # saves the geometry
    again = new_window(qtbot, Settings())
    area = again.screen().availableGeometry()
    assert area.contains(again.geometry()), (area, again.geometry())
    close(qtbot, again)


def test_the_grid_spreads_its_columns_over_the_width(qtbot, window, folder: Path) -> None:
    window.resize(1024, 700)
    window.appearance.reset_layout()
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(folder)
    grid = window.grid
    for width in (1024, 1280, 1100):
        window.resize(width, 700)
        qtbot.waitUntil(lambda: grid.gridSize().width() * max(1, grid.viewport().width() // grid.gridSize().width())
                        > grid.viewport().width() - max(1, grid.viewport().width() // grid.gridSize().width()))
        cell = grid.gridSize().width()
        columns = grid.viewport().width() // cell
        assert columns >= 2 and cell >= grid.iconSize().width() + 8
        assert grid.viewport().width() - columns * cell < columns  # no gutter wider than rounding
        first, second = grid.visualRect(grid.model().index(0, 0)), grid.visualRect(grid.model().index(1, 0))
        assert second.left() - first.left() == cell  # tiles sit one cell apart


def test_at_1024x700_the_tile_viewer_is_not_the_smallest_pane_and_the_record_panel_reads(qtbot, window, folder) -> None:
    window.resize(1024, 700)
    window.appearance.reset_layout()
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(folder)
    qtbot.waitUntil(lambda: window.metadata.table.rowCount() > 0)
    map_h, viewer_h, record_h = window.right_splitter.sizes()
    assert viewer_h > min(map_h, record_h)
    table = window.metadata.table
    assert table.viewport().height() >= 3 * table.rowHeight(0)  # several fields visible at once
    tree, grid, right = window.splitter.sizes()
    assert grid > tree and right >= 300


SCALED_PROBE = """
import sys
from tfr_viewer.gui.app import make_app
from tfr_viewer.gui.main_window import MainWindow
from tfr_viewer.gui.settings import Settings
if __name__ == "__main__":
    app = make_app()
    window = MainWindow(Settings(fresh=True), dialogs=False)
    area, geometry = window.screen().availableGeometry(), window.geometry()
    print(area.width(), area.height(), geometry.x(), geometry.y(), geometry.width(), geometry.height())
    window.close()
"""


def test_at_scale_factor_2_the_window_still_fits(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(SCALED_PROBE)
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen", "TFR_VIEWER_CONFIG_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, check=True)
    area_w, area_h, x, y, w, h = map(int, out.stdout.split())
    assert area_w <= 800 // 2 + 1  # logical pixels: the screen is half as large
    assert 0 <= x and 0 <= y and x + w <= area_w and y + h <= area_h
