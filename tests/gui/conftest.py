"""Window fixtures: real TFRecords in tmp folders, fresh settings, no worker left running."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg


def write_tiles(path: Path, n: int, slide: str | None = None, index: bool = True, px: int = 32) -> list[tuple[int, int]]:
    """A TFRecord of n JPEG tiles on a 20-wide grid; returns the locations."""
    slide = slide or path.stem
    locations = [(64 * (i % 20) + 32, 64 * (i // 20) + 32) for i in range(n)]
    with open(path, "wb") as f:
        for i, (x, y) in enumerate(locations):
            f.write(frame_record(make_example({"image_raw": make_jpeg(px, px, seed=i), "slide": slide, "loc_x": x, "loc_y": y})))
    if index:
        create_index(path)
    return locations


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFR_VIEWER_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


def shown_window(qtbot, assemble: bool = True, size: tuple[int, int] = (1400, 900)):
    """A main window with fresh settings, shown and exposed (`assemble=False`: the shell only)."""
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    win = MainWindow(Settings(fresh=True), dialogs=False, assemble=assemble)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def close_and_check_threads(qtbot, win) -> None:
    """Close the window; every worker thread must end."""
    from tfr_viewer.gui.workers import active_threads

    win.close()
    qtbot.waitUntil(lambda: not active_threads(), timeout=10_000)
    assert not active_threads(), "a worker thread was left running"


@pytest.fixture
def window(qtbot):
    win = shown_window(qtbot)
    yield win
    close_and_check_threads(qtbot, win)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "slides"
    root.mkdir()
    write_tiles(root / "slide_a.tfrecords", 60)
    write_tiles(root / "slide_b.tfrecords", 25)
    return root


def pixmap_is_placeholder(pixmap) -> bool:
    from PySide6.QtGui import QIcon

    if isinstance(pixmap, QIcon):
        pixmap = pixmap.pixmap(pixmap.availableSizes()[0])
    image = pixmap.toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2).name() == "#e4e4e8"


def nonzero(a) -> np.ndarray:
    return np.nonzero(a)[0]
