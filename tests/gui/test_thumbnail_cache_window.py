"""Windows and the persistent thumbnail cache; the window's start-up imports."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example
from tfr_viewer.core.thumb_decode import ThumbnailDecoder

TILES = 12


def write_colored(path: Path, colors: list[tuple[int, int, int]]) -> None:
    """One flat-coloured 64 px JPEG tile per colour, with its index."""
    with open(path, "wb") as f:
        for i, color in enumerate(colors):
            buf = io.BytesIO()
            Image.new("RGB", (64, 64), color).save(buf, format="JPEG", quality=95)
            f.write(frame_record(make_example({"image_raw": buf.getvalue(), "slide": "s", "loc_x": 32 + 64 * i, "loc_y": 32})))
    create_index(path)


GRID_SIZE = 96  # the grid's default thumbnail size; the zoomed-in slide view asks for 64, 128 or 256


def counting_decodes(monkeypatch) -> list[int]:
    """Patch the decoder (every decode passes through it, in this process or its pool) and count
    the tiles decoded at the grid's size (the slide view beside it decodes its own sizes)."""
    counted: list[int] = []
    real = ThumbnailDecoder.decode

    def decode(self, items):
        counted.append(sum(1 for _, size in items if size == GRID_SIZE))
        return real(self, items)

    monkeypatch.setattr(ThumbnailDecoder, "decode", decode)
    return counted


def open_window(qtbot, path: Path):
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    win = MainWindow(Settings(fresh=True), dialogs=False)  # closed and deleted by close_window
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.open_path(path)
    model = win.browser.tile_model
    qtbot.waitUntil(lambda: model.rowCount() == TILES, timeout=20_000)
    win.grid.viewport().repaint()
    qtbot.waitUntil(lambda: all(model.thumbnail_settled(r) for r in range(TILES)), timeout=20_000)
    return win


def close_window(qtbot, win) -> None:
    from PySide6.QtCore import QCoreApplication, QEvent

    from tfr_viewer.gui.workers import active_threads

    win.close()
    qtbot.waitUntil(lambda: not active_threads(), timeout=10_000)
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def thumbnail_colors(win) -> list[tuple[int, int, int]]:
    model = win.browser.tile_model
    out = []
    for row in range(TILES):
        icon = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
        image = icon.pixmap(icon.availableSizes()[0]).toImage()
        color = image.pixelColor(image.width() // 2, image.height() // 2)
        out.append((color.red(), color.green(), color.blue()))
    return out


def near(a: list[tuple[int, int, int]], b: list[tuple[int, int, int]]) -> bool:
    return bool(np.abs(np.array(a, int) - np.array(b, int)).max() <= 6)


def test_a_second_window_shows_cached_thumbnails_without_decoding(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "tiles.tfrecords"
    first_colors = [(20 * i, 255 - 20 * i, 100) for i in range(TILES)]
    write_colored(path, first_colors)
    decodes = counting_decodes(monkeypatch)

    win = open_window(qtbot, path)
    assert sum(decodes) == TILES and near(thumbnail_colors(win), first_colors)
    close_window(qtbot, win)

    decodes.clear()
    win = open_window(qtbot, path)  # the same file again: every thumbnail from the cache
    assert sum(decodes) == 0 and near(thumbnail_colors(win), first_colors)
    close_window(qtbot, win)

    other_colors = [(100, 20 * i, 250 - 20 * i) for i in range(TILES)]
    write_colored(path, other_colors)  # rewritten with other pixels (same size, new mtime)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    win = open_window(qtbot, path)
    assert sum(decodes) == TILES  # decoded anew
    assert near(thumbnail_colors(win), other_colors)  # never the old thumbnails
    close_window(qtbot, win)


def run_python(code: str) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=True).stdout


def test_the_window_module_imports_neither_pyqtgraph_nor_numpy() -> None:
    out = run_python("import sys, tfr_viewer, tfr_viewer.gui.app, tfr_viewer.gui.main_window\n"
                     "print(sorted(m for m in ('pyqtgraph', 'numpy', 'google.protobuf', 'PIL') if m in sys.modules))")
    assert out.strip() == "[]"


def test_the_window_paints_before_the_panels_are_built_then_the_thumbnails_then_the_map(tmp_path: Path) -> None:
    path = tmp_path / "tiles.tfrecords"
    write_colored(path, [(10, 10, 10)] * TILES)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TFR_VIEWER_STARTUP_PROBE="1",
               TFR_VIEWER_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-m", "tfr_viewer", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["first-paint", "assembled", "first-screen", "map-ready"]


def test_the_slide_view_and_the_grid_share_the_cache(qtbot, tmp_path: Path, monkeypatch) -> None:
    """A tile the grid decoded at a size is not decoded again when the zoomed-in slide view
    asks for it at that size: both loaders go through the same per-user cache."""
    from tfr_viewer.gui.mosaic_workers import TileImageLoader, TileRequest
    from tfr_viewer.gui.workers import active_threads

    path = tmp_path / "tiles.tfrecords"
    colors = [(20 * i, 255 - 20 * i, 100) for i in range(TILES)]
    write_colored(path, colors)
    decodes = counting_decodes(monkeypatch)
    win = open_window(qtbot, path)
    size, entry = win.browser.tile_model.thumb_size, win.datasets.entries[0]
    assert size == GRID_SIZE and sum(decodes) == TILES
    close_window(qtbot, win)  # the grid's loader writes what it decoded as it stops

    decodes.clear()
    from tfr_viewer.core.tfrecord import TFRecord

    reads: list[int] = []
    real_read = TFRecord.read_raw
    monkeypatch.setattr(TFRecord, "read_raw", lambda self, i: reads.append(i) or real_read(self, i))
    loader = TileImageLoader()
    answers: list = []
    loader.ready.connect(answers.extend)
    try:
        loader.want(1, [TileRequest(1, record, entry, record, size) for record in range(TILES)])
        qtbot.waitUntil(lambda: len(answers) == TILES, timeout=20_000)
    finally:  # a failure here must not leave the thread to the next tests
        loader.stop()
        qtbot.waitUntil(lambda: not active_threads(), timeout=10_000)
    assert sum(decodes) == 0 and reads == []  # not even read: every tile from the cache
    for _generation, row, image, error in answers:
        assert error is None
        color = image.pixelColor(image.width() // 2, image.height() // 2)
        assert near([(color.red(), color.green(), color.blue())], [colors[row]])
