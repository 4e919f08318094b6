"""The window decodes record images with the allow-listed decoders only: PostScript in a record
never reaches Ghostscript, neither through a thumbnail nor through the tile viewer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index

from ..core.test_hostile_images import EPS, _mutate, _open_only_headers, _sample, _saved_formats, fake_gs
from ..helpers import make_jpeg
from .test_hostile_window import _example, open_and_settle, select_row_and_wait

HOSTILE = {
    1: EPS,  # encapsulated PostScript
    2: b"\xc5\xd0\xd3\xc6" + b"\0" * 28 + EPS,  # the binary EPS header
    3: b"%PDF-1.4\n%%EOF\n",
}


def test_postscript_records_never_reach_ghostscript(qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker, path = fake_gs(tmp_path / "bin")
    monkeypatch.setenv("PATH", path)
    tfrecord = tmp_path / "ps.tfrecords"
    images = [HOSTILE.get(i, make_jpeg(32, 32, seed=i)) for i in range(5)]
    with open(tfrecord, "wb") as f:
        for i, image in enumerate(images):
            f.write(frame_record(_example(image, i)))
    create_index(tfrecord)

    open_and_settle(qtbot, window, tfrecord)  # every thumbnail asked for and answered
    model = window.browser.tile_model
    for row in (0, 4):
        assert model.has_thumbnail(row)
    for row in HOSTILE:
        assert not model.has_thumbnail(row)
        tip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
        assert "not a JPEG, PNG" in tip, tip
        select_row_and_wait(qtbot, window, row)  # the viewer's full decode refuses it too
        assert not window.viewer.has_image()
        assert f"record {row}" in window.viewer.title.text()
    select_row_and_wait(qtbot, window, 4)
    assert window.viewer.has_image()
    assert not marker.exists(), marker.read_text()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Pillow deprecates writing some formats
def test_every_pillow_format_through_the_window_workers(qtbot, window, tmp_path: Path) -> None:
    """Each format Pillow writes or opens, whole and mutated, as a record's image: every tile
    ends as a thumbnail (allow-listed formats only) or a broken tile with a reason, and both
    request workers (thumbnails, the tile viewer) go on serving."""
    rng = random.Random(20261203)
    seeds = [data for fmt in _saved_formats() if (data := _sample(fmt, rng)) is not None] + _open_only_headers()
    images = seeds + [_mutate(data, rng) for data in seeds] + [make_jpeg(32, 32, seed=1)]
    tfrecord = tmp_path / "formats.tfrecords"
    with open(tfrecord, "wb") as f:
        for i, image in enumerate(images):
            f.write(frame_record(_example(image, i)))
    create_index(tfrecord)

    open_and_settle(qtbot, window, tfrecord)
    model = window.browser.tile_model
    assert model.rowCount() == len(images)
    broken = [row for row in range(len(images)) if not model.has_thumbnail(row)]
    assert broken and len(broken) < len(images)
    for row in broken:
        assert "⚠" in model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
    for row in range(1, len(images) - 1, 7):  # the viewer's full decode of a sample
        select_row_and_wait(qtbot, window, row)
    select_row_and_wait(qtbot, window, len(images) - 1)
    assert window.viewer.has_image()
    assert window.browser.thumbs.thread.isRunning() and window.browser.reader.thread.isRunning()


WINDOW_THEN_WAIT = """
import os, sys
from PySide6.QtWidgets import QApplication
from tfr_viewer.gui.main_window import MainWindow
from tfr_viewer.gui.settings import Settings
from tfr_viewer.core import index_pool

app = QApplication([])
window = MainWindow(Settings(fresh=True), dialogs=False)
window.show()
pool_pid = index_pool.index_pool().submit(os.getpid).result(timeout=60)
print(pool_pid, flush=True)
app.exec()
"""


def test_the_indexing_process_ends_with_a_killed_window(tmp_path: Path) -> None:
    """A window killed outright (no close, no atexit) takes its indexing process along."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tfr_viewer.core.processes import pid_alive

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TFR_VIEWER_CONFIG_DIR": str(tmp_path / "config")}
    window = subprocess.Popen([sys.executable, "-c", WINDOW_THEN_WAIT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        pool_pid = int(window.stdout.readline())
        assert pid_alive(pool_pid)
    finally:
        window.send_signal(signal.SIGKILL)
        window.wait(timeout=30)
    deadline = time.monotonic() + 15
    while pid_alive(pool_pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the process to end, bounded by the deadline
    assert not pid_alive(pool_pid), "the indexing process outlived its window"
