"""Start-up builds the slide view (pyqtgraph) after the first screen of thumbnails: the window
shows a placeholder meanwhile, then the map catches up with what the browser shows; commands
that need the map build it at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfr_viewer.gui.map_later import visible_thumbnails_ready

from .conftest import close_and_check_threads, shown_window, write_tiles


@pytest.fixture
def late_window(qtbot, monkeypatch):
    """A window shell; `.assemble(map_later=True)` as `run_gui` does it: the map after the first
    screen (on a busy machine too: the fallback that builds it anyway after a few seconds is put
    off). The welcome page counts as a first screen: open a path right after assembling."""
    from tfr_viewer.gui import map_later

    monkeypatch.setattr(map_later, "GIVE_UP_MS", 600_000)
    win = shown_window(qtbot, assemble=False, size=(1280, 800))
    yield win
    close_and_check_threads(qtbot, win)


@pytest.fixture
def two_slides(tmp_path: Path) -> Path:
    root = tmp_path / "slides"
    root.mkdir()
    write_tiles(root / "slide_a.tfrecords", 120, px=16)
    write_tiles(root / "slide_b.tfrecords", 30, px=16)
    return root


def test_the_map_is_built_after_the_first_screen_and_shows_the_open_file(qtbot, late_window, two_slides) -> None:
    window = late_window
    at_loaded, at_ready = [], []
    window.loaded.connect(lambda: at_loaded.append(window.map_panel))
    window.mapPanelReady.connect(lambda: at_ready.append(visible_thumbnails_ready(window)))
    with qtbot.waitSignal(window.mapPanelReady, timeout=20_000):
        window.assemble(map_later=True)
        window.open_path(two_slides)
    assert at_loaded == [None]  # the grid's first screen came without the map
    assert window.right_splitter.indexOf(window.map_placeholder) == -1
    assert at_ready == [True]  # built once every visible thumbnail was there
    panel = window.map_panel
    assert window.right_splitter.widget(0) is panel
    qtbot.waitUntil(lambda: panel.map.point_count() == 120, timeout=10_000)  # slide_a, shown first
    assert window.commands.actions["view.select_area"].isEnabled()


def test_the_map_built_late_takes_the_dark_theme_and_follows_new_selections(qtbot, late_window, two_slides) -> None:
    window = late_window
    with qtbot.waitSignal(window.mapPanelReady, timeout=20_000):
        window.assemble(map_later=True)
        window.appearance.set_theme("dark")  # before the map exists
        window.open_path(two_slides)
    assert window.map_panel.map.dark
    qtbot.waitUntil(lambda: window.map_panel.map.point_count() == 120, timeout=10_000)  # caught up: slide_a
    window.browser.select_files([1])
    qtbot.waitUntil(lambda: window.map_panel.map.point_count() == 30, timeout=10_000)


def test_selecting_an_area_before_the_map_is_built_builds_it_at_once(qtbot, late_window) -> None:
    window = late_window
    window.assemble(map_later=True)
    assert window.map_panel is None  # the welcome page: the build waits for the next poll
    window.commands.actions["view.select_area"].trigger()
    assert window.map_panel is not None
    assert window.map_panel.map._viewbox.select_mode
    assert window.right_splitter.widget(0) is window.map_panel


def test_the_welcome_page_gets_its_map_without_a_dataset(qtbot, late_window) -> None:
    with qtbot.waitSignal(late_window.mapPanelReady, timeout=20_000):
        late_window.assemble(map_later=True)
    assert late_window.map_panel.map.point_count() == 0


def test_once_the_map_is_built_the_startup_objects_are_out_of_the_collectors_sight(qtbot, late_window) -> None:
    """A full collection walked every module-level object (~50 ms of the GUI thread at a
    time); after the first slide view is built they are frozen and only newer objects are walked."""
    import gc

    from tfr_viewer.gui.map_panel import MapPanel

    late_window.assemble(map_later=True)
    late_window.ensure_map_panel()
    assert gc.get_freeze_count() > 10_000  # the modules, classes and Qt enums imported so far
    assert not any(obj is MapPanel for obj in gc.get_objects())  # frozen: no collection walks it
