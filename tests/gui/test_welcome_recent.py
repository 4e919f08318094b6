"""The welcome page: Recent opens on one click, says so when empty, names the demo "demo";
the demo's first run reports real progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import tfr_viewer as sf
from tfr_viewer.core.progress import CancelToken, Cancelled
from tfr_viewer.demo import demo_dataset_dir, generate_demo_dataset, iter_generate_demo_dataset

from .conftest import write_tiles


def test_nothing_opened_yet_says_so_instead_of_an_empty_list(qtbot, window) -> None:
    assert window.stack.currentWidget() is window.welcome
    assert window.welcome.no_recent.isVisible() and "Nothing opened yet" in window.welcome.no_recent.text()
    assert not window.welcome.recent.isVisible()


def test_a_recent_entry_opens_on_one_click(qtbot, window, folder: Path) -> None:
    window.settings.add_recent(str(folder))
    window.welcome.show_recent(window.settings.get("recent/paths"))
    recent = window.welcome.recent
    assert recent.isVisible() and not window.welcome.no_recent.isVisible()
    rect = recent.visualItemRect(recent.item(0))
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        QTest.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.stack.currentWidget() is window.splitter
    assert len(window.datasets.entries) == 2


def test_the_demo_is_called_demo_in_recent_and_the_title(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(tmp_path / "cache"))
    demo = demo_dataset_dir()
    generate_demo_dataset(demo, slides=1, tile_px=32)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(demo)
    assert window.windowTitle() == "tfr-viewer — demo"
    assert window.settings.get("recent/paths") == [str(demo)]  # the place is kept, the name is shown
    window.close_dataset()
    assert window.welcome.recent.item(0).text() == "demo"
    menu = window.commands.menus["&File/&Recent"]
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions()] == ["demo"]


def test_demo_generation_reports_progress_per_tile_and_stops_when_cancelled(tmp_path: Path) -> None:
    reports = []
    job = iter_generate_demo_dataset(tmp_path / "demo", slides=2, tile_px=32)
    try:
        while True:
            reports.append(next(job))
    except StopIteration as end:
        written = end.value
    assert len(written) == 2 and all(len(sf.TFRecord(p)) > 50 for p in written)
    dones = [r.done for r in reports]
    assert dones == sorted(dones) and len(set(dones)) > 10  # moves, not 0 % until the end
    assert {r.total for r in reports} == {2000} and dones[-1] == 2000
    assert any(r.message.startswith("demo_slide_02:") and "(slide 2 of 2)" in r.message for r in reports)

    token = CancelToken()
    job = iter_generate_demo_dataset(tmp_path / "cancelled", slides=2, tile_px=32, cancel=token)
    next(job)
    next(job)
    token.cancel()
    try:
        while True:
            next(job)
    except Cancelled:
        pass
    assert not list((tmp_path / "cancelled").glob("*.tfrecords"))  # no slide half written
