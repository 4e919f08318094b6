"""The window against hostile and broken data: bad records become broken tiles with a reason,
workers survive any error, text from the data is shown as text, shutdown is clean."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, QThread, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from tfr_viewer.core.example_pb2 import Example
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index

from ..helpers import make_jpeg
from .conftest import write_tiles

GOOD_ROWS = (0, 5, 7)
BAD_ROWS = {1: "empty list", 2: "float", 3: "DDS", 4: "no image_raw", 6: "garbage"}


def _example(image: object, i: int, slide: str = "hostile") -> bytes:
    """An Example whose image_raw is `image`: bytes, a float, [] (an empty bytes list) or None (absent)."""
    ex = Example()
    features = ex.features.feature
    if isinstance(image, bytes):
        features["image_raw"].bytes_list.value.append(image)
    elif isinstance(image, float):
        features["image_raw"].float_list.value.append(image)
    elif image == []:
        features["image_raw"].bytes_list.SetInParent()
    features["slide"].bytes_list.value.append(slide.encode())
    features["loc_x"].int64_list.value.append(64 * i)
    features["loc_y"].int64_list.value.append(0)
    return ex.SerializeToString()


def write_bad_records(path: Path) -> None:
    """Good tiles at GOOD_ROWS, broken ones at BAD_ROWS (all framed soundly, with a valid index)."""
    rng = np.random.default_rng(15)
    dds = b"DDS " + struct.pack("<7I", 124, 0x1007, 60000, 60000, 0, 0, 1) + rng.bytes(400)
    images: list[object] = [make_jpeg(32, 32, seed=0), [], 1.5, dds, None, make_jpeg(32, 32, seed=5),
                            rng.bytes(300), make_jpeg(32, 32, seed=7)]
    with open(path, "wb") as f:
        for i, image in enumerate(images):
            f.write(frame_record(_example(image, i)))
    create_index(path)


def open_and_settle(qtbot, window, path: Path) -> None:
    """Open, then wait until every tile of the first file has its thumbnail or its broken tile."""
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(path))
    model = window.browser.tile_model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=10_000)
    window.browser.thumbs.MARGIN = 10**9  # every tile wanted, also those below the grid's visible rows
    for row in range(model.rowCount()):  # ask for every tile, as painting would
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.thumbnail_settled(r) for r in range(model.rowCount())), timeout=15_000)


def select_row_and_wait(qtbot, window, row: int) -> None:
    """Make a tile current and wait until the viewer and the record panel show its answer."""
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.grid.setCurrentIndex(window.browser.tile_model.index(row))


class _Collector(QObject):
    """Receives a worker's answers on the GUI thread (a queued connection: it lives here)."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple] = []

    @Slot(int, object)
    def take(self, generation: int, result: object) -> None:
        self.got.append((generation, result))


def test_bad_records_are_broken_tiles_and_the_workers_go_on(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "bad.tfrecords"
    write_bad_records(path)
    open_and_settle(qtbot, window, path)
    model = window.browser.tile_model
    assert model.rowCount() == 8
    for row in GOOD_ROWS:
        assert model.has_thumbnail(row), row
    for row, what in BAD_ROWS.items():
        assert not model.has_thumbnail(row), what
        tip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
        assert "⚠" in tip and f"record {row}" in tip and "bad.tfrecords" in tip, (what, tip)
    assert "empty list" in model.data(model.index(1), Qt.ItemDataRole.ToolTipRole)
    assert "float" in model.data(model.index(2), Qt.ItemDataRole.ToolTipRole)
    assert "no image_raw" in model.data(model.index(4), Qt.ItemDataRole.ToolTipRole)
    assert window.browser.thumbs.thread.isRunning() and window.browser.reader.thread.isRunning()

    for row in BAD_ROWS:  # the viewer says why; the record panel still lists the fields
        select_row_and_wait(qtbot, window, row)
        assert not window.viewer.has_image()
        assert f"record {row}" in window.viewer.title.text()
        assert "⚠" in window.metadata.header.text()
        select_row_and_wait(qtbot, window, 7)  # a good tile afterwards: the reader is alive
        assert window.viewer.has_image() and window.viewer.image_size() == (32, 32)
    assert window.browser.reader.thread.isRunning()


class _Boom:
    """Raises a different unexpected error type on each call, then lets the real function run."""

    def __init__(self, real, errors) -> None:
        self.real, self.errors = real, list(errors)

    def __call__(self, *args, **kwargs):
        if self.errors:
            raise self.errors.pop(0)
        return self.real(*args, **kwargs)


def test_unexpected_errors_in_request_workers_do_not_kill_them(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    from tfr_viewer.core import thumb_decode
    from tfr_viewer.gui import request_workers

    path = tmp_path / "good.tfrecords"
    write_tiles(path, 6)
    monkeypatch.setattr(thumb_decode, "decode_draft", _Boom(thumb_decode.decode_draft, [ZeroDivisionError("thumb"), RuntimeError("thumb")]))
    open_and_settle(qtbot, window, path)
    model = window.browser.tile_model
    tips = [model.data(model.index(r), Qt.ItemDataRole.ToolTipRole) for r in range(6)]
    broken = [r for r in range(6) if not model.has_thumbnail(r)]
    assert 1 <= len(broken) <= 2  # the tile(s) that took the two errors, with the reason
    assert all("Error: thumb" in tips[r] and "good.tfrecords, record" in tips[r] for r in broken)
    model.forget_file(0)  # ask again: the same thread decodes them all now
    for row in range(6):
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.has_thumbnail(r) for r in range(6)), timeout=10_000)

    qtbot.waitUntil(window.viewer.has_image, timeout=10_000)  # the first tile's record is shown
    monkeypatch.setattr(request_workers, "field_order", _Boom(request_workers.field_order, [RuntimeError("fields")]))
    monkeypatch.setattr(request_workers, "decode_image", _Boom(request_workers.decode_image, [ZeroDivisionError("image")]))
    select_row_and_wait(qtbot, window, 2)
    assert "good.tfrecords, record 2: RuntimeError: fields" in window.viewer.title.text()
    assert "RuntimeError: fields" in window.metadata.header.text()
    select_row_and_wait(qtbot, window, 3)
    assert "good.tfrecords, record 3: ZeroDivisionError: image" in window.viewer.title.text()
    assert "slide\tbytes" in window.metadata.text()  # the fields still show
    select_row_and_wait(qtbot, window, 4)
    assert window.viewer.has_image()
    assert window.browser.thumbs.thread.isRunning() and window.browser.reader.thread.isRunning()


def test_an_error_outside_the_request_guard_is_answered_and_served_on(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    """The loop's own guard: an error in the worker's bookkeeping answers the batch as broken."""
    from tfr_viewer.gui import request_workers

    path = tmp_path / "good.tfrecords"
    write_bad_records(path)
    calls = {"n": 0}
    real = request_workers.ThumbnailLoader._still_wanted

    def flaky(self, request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("bookkeeping")
        return real(self, request)

    monkeypatch.setattr(request_workers.ThumbnailLoader, "_still_wanted", flaky)
    open_and_settle(qtbot, window, path)
    model = window.browser.tile_model
    assert window.browser.thumbs.failures == 1
    assert any("KeyError" in model.data(model.index(r), Qt.ItemDataRole.ToolTipRole) for r in range(8))
    model.forget_file(0)
    for row in range(8):
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.has_thumbnail(r) for r in GOOD_ROWS), timeout=10_000)


def test_map_builder_and_jobs_report_unexpected_errors(qtbot, window) -> None:
    from tfr_viewer.core.progress import Progress
    from tfr_viewer.gui.request_workers import ArrayBuilder, BuildRequest
    from tfr_viewer.gui.workers import JobWorker

    builder: ArrayBuilder = window.map_panel.builder
    collector = _Collector()
    builder.ready.connect(collector.take)
    builder.submit([BuildRequest(1, lambda: 1 / 0)])
    qtbot.waitUntil(lambda: len(collector.got) == 1, timeout=5000)
    assert isinstance(collector.got[0][1], ZeroDivisionError)
    builder.submit([BuildRequest(2, lambda: 42)])
    qtbot.waitUntil(lambda: len(collector.got) == 2, timeout=5000)
    assert collector.got[1] == (2, 42)

    def job(_token):
        yield Progress(0, 1, "")
        raise MemoryError()

    worker = JobWorker(job, "Failing", window)
    with qtbot.waitSignal(window.errors.reported, timeout=5000) as got:
        window.jobs.run(worker, "Failing")
    assert got.args[0] == "not enough memory"
    assert "Traceback" not in window.statusBar().currentMessage()


def test_an_index_that_raises_anything_is_that_files_problem(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    """find_index raising an unforeseen error (as a corrupt .npz may) leaves the rest of the folder open."""
    from tfr_viewer.core import catalog

    write_tiles(tmp_path / "a.tfrecords", 5)
    write_tiles(tmp_path / "b.tfrecords", 7)
    real = catalog.find_index

    def find_index(path, *args, **kwargs):
        if str(path).endswith("a.tfrecords"):
            raise MemoryError()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(catalog, "find_index", find_index)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(tmp_path))
    assert [e.state for e in window.datasets.entries] == ["error", "indexed"]
    lines = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert lines == [f"{tmp_path / 'a.tfrecords'}: not enough memory"]
    window.browser.select_files([1])
    assert window.browser.tile_model.rowCount() == 7


def test_excepthooks_hand_errors_to_the_gui_thread(qtbot, window, monkeypatch) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    window.errors.install_excepthook()
    seen: list[tuple[str, bool]] = []
    window.errors.reported.connect(lambda m: seen.append((m, QThread.currentThread() is QApplication.instance().thread())))

    thread = threading.Thread(target=lambda: 1 / 0)
    with qtbot.waitSignal(window.errors.reported, timeout=5000):
        thread.start()
    thread.join()
    try:
        raise ValueError("<b>bold</b>\nsecond line")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen[0] == ("Unexpected error: ZeroDivisionError: division by zero", True)
    assert seen[1] == ("Unexpected error: ValueError: <b>bold</b>", True)


# --- text from the data is shown as text --------------------------------------------------------

SPOOF = "<h1><font color=red>ALL TILES VERIFIED OK"
IMG_FIFO = "<img src=p>"
IMG_ZERO = '<img src="/dev/zero">'

HOVER_SCRIPT = textwrap.dedent(
    r'''
    import json, resource, sys, time
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QLabel, QToolTip


    def main():
        app = QApplication([])
        from tfr_viewer.gui.main_window import MainWindow
        from tfr_viewer.gui.settings import Settings

        def wait(cond, seconds=20.0):
            end = time.monotonic() + seconds
            while not cond():
                if time.monotonic() > end:
                    raise SystemExit("timed out waiting")
                app.processEvents()
                time.sleep(0.005)

        def hover(view, index):
            """What a mouse resting on the item does: the view shows the model's tooltip."""
            view.scrollTo(index)
            pos = view.visualRect(index).center()
            event = QHelpEvent(QHelpEvent.Type.ToolTip, pos, view.viewport().mapToGlobal(pos))
            QApplication.sendEvent(view.viewport(), event)
            deadline = time.monotonic() + 5  # a busy machine may show the tip a few passes later
            app.processEvents()
            while not QToolTip.isVisible() and time.monotonic() < deadline:
                app.processEvents()
            shown = QToolTip.text() if QToolTip.isVisible() else ""
            QToolTip.hideText()
            return shown

        window = MainWindow(Settings(fresh=True), dialogs=False)
        window.resize(1400, 900)
        window.show()
        try:
            drive(app, window, wait, hover)
        finally:
            window.close()  # stop the workers before the window goes


    def drive(app, window, wait, hover):
        shown = {"n": 0}
        window.recordShown.connect(lambda: shown.__setitem__("n", shown["n"] + 1))
        loaded = {"n": 0}
        window.loaded.connect(lambda: loaded.__setitem__("n", 1))
        window.open_path(sys.argv[1])
        wait(lambda: loaded["n"] and shown["n"])
        out = {"title": window.windowTitle(), "files": []}
        for file_id in range(len(window.datasets.entries)):
            if file_id:  # the first file is shown on open
                shown["n"] = 0
                window.browser.select_files([file_id])
                wait(lambda: shown["n"] > 0)
            model = window.browser.tile_model
            model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
            wait(lambda: model.thumbnail_settled(0))
            table = window.metadata.table
            slide_row = [r for r in range(table.rowCount()) if table.item(r, 0).text() == "slide"][0]
            tree_index = window.browser.tree_index(file_id)
            out["files"].append({
                "viewer_title": window.viewer.title.text(),
                "metadata_header": window.metadata.header.text(),
                "tile_tooltip": hover(window.grid, window.browser.tile_model.index(0)),
                "value_tooltip": hover(table, table.model().index(slide_row, 3)),
                "value_text": table.item(slide_row, 3).text(),
                "tree_tooltip": hover(window.tree, tree_index),
            })
        out["rich_labels"] = [label.text() for label in window.findChildren(QLabel)
                              if label.textFormat() != Qt.TextFormat.PlainText and label.text()
                              and label.metaObject().className() != "QTipLabel"  # shows escaped text
                              and label is not window.welcome.findChild(QLabel)]  # the app's own heading
        shot = sys.argv[2] if len(sys.argv) > 2 else ""
        if shot:
            window.grab().save(shot)
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))


    if __name__ == "__main__":
        main()
    '''
)


def write_hostile_folder(root: Path) -> None:
    """Files named like markup, a FIFO named as one of them points to, records with markup values."""
    root.mkdir()
    write_tiles(root / f"{IMG_FIFO}.tfrecords", 3)
    write_tiles(root / f"{SPOOF}.tfrecords", 3, slide=IMG_ZERO)
    os.mkfifo(root / "p")


def run_script(tmp_path: Path, script: str, *args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(script)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, str(path), *args], cwd=cwd or tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_names_and_values_that_look_like_markup_show_as_text(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_hostile_folder(root)
    shot = tmp_path / "hostile.png"
    # cwd = the folder: a label rendering `<img src=p>` would open the FIFO and block for good
    done = run_script(tmp_path, HOVER_SCRIPT, str(root), str(shot), cwd=root, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rich_labels"] == []
    assert out["maxrss_mb"] < 600  # /dev/zero never read
    assert out["title"] == "tfr-viewer — data"
    by_name = {f["metadata_header"].split("\n")[0].rsplit("/", 1)[-1]: f for f in out["files"]}
    fifo, spoof = by_name[f"{IMG_FIFO}.tfrecords"], by_name[f"{SPOOF}.tfrecords"]
    assert fifo["viewer_title"].startswith(f"{IMG_FIFO} · record 0")
    assert spoof["viewer_title"].startswith(f"{SPOOF} · record 0")
    assert spoof["value_text"] == IMG_ZERO
    assert "&lt;img src=&quot;/dev/zero&quot;&gt;" in spoof["value_tooltip"]
    assert "&lt;img src=p&gt;" in fifo["tile_tooltip"] and "&lt;h1&gt;&lt;font color=red&gt;" in spoof["tile_tooltip"]
    assert "&lt;img src=p&gt;.tfrecords" in fifo["tree_tooltip"]
    assert shot.stat().st_size > 0


# --- a record with many fields; closing while work runs ------------------------------------------

MANY_FIELDS = 40_000


def write_many_fields(path: Path) -> None:
    """One tile record with MANY_FIELDS extra int features (~0.6 MB), then an ordinary one."""
    from tfr_viewer.core.records import make_example

    fields: dict = {"image_raw": make_jpeg(32, 32, seed=1), "slide": "many", "loc_x": 0, "loc_y": 0}
    fields.update({f"f{i:05d}": i for i in range(MANY_FIELDS)})
    with open(path, "wb") as f:
        f.write(frame_record(make_example(fields)))
        f.write(frame_record(make_example({"image_raw": make_jpeg(32, 32, seed=2), "slide": "many", "loc_x": 64, "loc_y": 0})))
    create_index(path)


def test_a_record_with_40k_fields_shows_at_once_capped(qtbot, window, tmp_path: Path) -> None:
    from tfr_viewer.gui.request_workers import MAX_SHOWN_FIELDS

    path = tmp_path / "many.tfrecords"
    write_many_fields(path)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(path))
    started = time.monotonic()
    qtbot.waitUntil(lambda: "many.tfrecords" in window.metadata.header.text(), timeout=10_000)
    assert time.monotonic() - started < 5  # was 22 s: a list membership test per field
    table = window.metadata.table
    assert table.rowCount() == MAX_SHOWN_FIELDS + 1
    more = MANY_FIELDS + 4 - MAX_SHOWN_FIELDS
    assert table.item(MAX_SHOWN_FIELDS, 0).text() == f"… and {more:,} more fields"
    assert window.viewer.has_image()
    select_row_and_wait(qtbot, window, 1)  # and the next record is read as usual
    assert window.metadata.table.rowCount() == 4


CLOSE_SCRIPT = textwrap.dedent(
    r'''
    import sys, threading, time
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication


    def main():
        app = QApplication([])
        from tfr_viewer.core.progress import Progress
        from tfr_viewer.gui import main_window, workers
        from tfr_viewer.gui.settings import Settings

        main_window.SHUTDOWN_WAIT_S = 1.0
        release = threading.Event()

        def stuck(_token):  # a read the OS does not interrupt (a FIFO, a hung disk): ignores cancel
            yield Progress(0, 1, "")
            release.wait(30)
            return None

        window = main_window.MainWindow(Settings(fresh=True), dialogs=False)
        window.show()
        loaded = []
        window.loaded.connect(lambda: loaded.append(1))
        window.open_path(sys.argv[1])
        end = time.monotonic() + 20
        while not loaded and time.monotonic() < end:
            app.processEvents()
        window.jobs.run(workers.JobWorker(stuck, "Stuck", window), "Stuck")
        for row in (0, 1, 0):  # the record reader busy with the 40k-field record
            window.grid.setCurrentIndex(window.browser.tile_model.index(row))
            app.processEvents()
        started = time.monotonic()
        window.close()
        print(f"closed in {time.monotonic() - started:.2f} s", flush=True)
        window.deleteLater()  # the window and its children go: a running thread among them would abort
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        del window
        release.set()
        print("orphans ended:", workers.wait_for_orphans(10_000), flush=True)


    if __name__ == "__main__":
        main()
    '''
)


def test_closing_while_work_runs_ends_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "many.tfrecords"
    write_many_fields(path)
    done = run_script(tmp_path, CLOSE_SCRIPT, str(path), timeout=60)
    assert "QThread: Destroyed" not in done.stderr
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "orphans ended: True"
    assert float(lines[-2].split()[2]) < 3  # bounded by SHUTDOWN_WAIT_S, not by the stuck job


# --- memory the window keeps --------------------------------------------------------------------


def write_gzip_tiles(path: Path, n: int, padding: int) -> None:
    """A gzip TFRecord of n tiles, each with `padding` zero bytes: small on disk, big inflated."""
    from tfr_viewer.core.records import make_example

    raw = b"".join(
        frame_record(make_example({"image_raw": make_jpeg(16, 16, seed=i), "slide": path.stem, "loc_x": 32 * i,
                                   "loc_y": 0, "padding": bytes(padding)}))
        for i in range(n)
    )
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    create_index(path)


def test_inflated_gzip_files_kept_are_bounded_by_bytes(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    from tfr_viewer.gui import request_workers

    bound = 10 * 2**20  # shared by the thumbnail loader and the record reader
    monkeypatch.setattr(request_workers, "MAX_CACHED_BYTES", bound)
    for name in "abcdef":
        write_gzip_tiles(tmp_path / f"{name}.tfrecords", 4, 2**19)  # ~2 MiB inflated, ~10 KB on disk
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(tmp_path))
    held = []
    for file_id in range(6):
        if file_id:
            with qtbot.waitSignal(window.recordShown, timeout=10_000):
                window.browser.select_files([file_id])
        else:
            qtbot.waitUntil(window.viewer.has_image, timeout=10_000)
        assert window.viewer.has_image()
        held.append(window.browser.reader.cached_bytes())
    assert held[0] >= 2 * 2**20  # the inflated file is counted
    assert max(held) <= bound / 2  # and no more than its share of the bound is kept
    assert len(window.browser.reader._files) == 2
    assert window.browser.reader.cached_bytes() + window.browser.thumbs.cached_bytes() <= bound


def test_the_viewer_keeps_no_image_bigger_than_the_screen(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    from tfr_viewer.gui import request_workers

    screen = window.screen().size()
    side = max(screen.width(), screen.height())
    wide = QImage(3 * side, 40, QImage.Format.Format_RGB888)
    wide.fill(0x336699)
    window.viewer.show_image(wide, "wide")
    assert window.viewer.image_size() == (side, round(40 * side / (3 * side)))

    monkeypatch.setattr(request_workers, "MAX_VIEWER_SIDE", 16)  # the reader scales before handing it over
    write_tiles(tmp_path / "t.tfrecords", 2, px=32)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(tmp_path / "t.tfrecords"))
    qtbot.waitUntil(window.viewer.has_image, timeout=10_000)
    assert window.viewer.image_size() == (16, 16)


def test_the_wizard_shows_folder_and_file_names_as_text(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QLabel

    from tfr_viewer.gui.wizard import ConvertWizard

    root = tmp_path / SPOOF
    (root / IMG_FIFO).mkdir(parents=True)
    (root / IMG_FIFO / "tile_0-0.jpg").write_bytes(make_jpeg(16, 16))
    (root / IMG_FIFO / "<b>junk.txt").write_text("not an image")
    wizard = ConvertWizard(open_in_viewer=lambda _path: None)
    qtbot.addWidget(wizard)
    wizard.show()
    try:
        page = wizard.source_page
        with qtbot.waitSignal(page.scanned, timeout=10_000):
            page.set_source(str(root))
        assert page.slides.item(0, 0).text() == IMG_FIFO
        assert page.skipped.item(0, 0).text() == f"{IMG_FIFO}/<b>junk.txt"
        assert "&lt;b&gt;junk.txt" in page.skipped.item(0, 0).toolTip()
        assert "&lt;img src=p&gt;" in page.slides.item(0, 0).toolTip()
        page.set_source(str(tmp_path / f"{SPOOF} missing"))  # a scan that fails names the folder
        qtbot.waitUntil(lambda: page.summary.text().startswith("⚠"), timeout=10_000)
        assert f"{SPOOF} missing" in page.summary.text()
        labels = [label for label in wizard.findChildren(QLabel) if label.metaObject().className() == "QLabel"]
        assert page.summary.textFormat() == Qt.TextFormat.PlainText
        assert [label.text() for label in labels if "<" in label.text()  # data shown: as text
                and label.textFormat() != Qt.TextFormat.PlainText] == []
    finally:
        wizard.shutdown()


def test_garbage_holding_widgets_is_collected_in_the_gui_thread(qtbot, window) -> None:
    """Python's collector runs where an allocation trips it; a cycle holding a widget freed in a
    worker thread deletes the widget there, which deadlocked the window (seen in this suite).
    With the window up, such garbage is collected by the GUI thread only."""
    import weakref

    from PySide6.QtWidgets import QLabel

    class Cycle:
        pass

    freed_in_gui_thread: list[bool] = []
    cycle = Cycle()
    cycle.widget, cycle.itself = QLabel("garbage"), cycle
    weakref.finalize(cycle, lambda: freed_in_gui_thread.append(threading.current_thread() is threading.main_thread()))
    del cycle

    kept: list[list[int]] = []

    def allocate() -> None:
        """Containers that stay alive: the collector's count (allocations less frees) passes
        every threshold, so a collection is due, here or in the GUI thread."""
        for i in range(200_000):
            kept.append([i])

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(freed_in_gui_thread), timeout=10_000)
    assert freed_in_gui_thread == [True]
    del kept[:]


def test_a_long_text_value_cut_inside_a_character_still_shows_as_text() -> None:
    from tfr_viewer.gui.widgets.metadata_panel import describe_value

    shown = describe_value({"kind": "bytes", "values": [("a" + "é" * 1000).encode()]})
    assert shown.startswith("aéé") and "bytes" not in shown
    assert describe_value({"kind": "bytes", "values": [b"\xff\xfe binary"]}) == "9 bytes"
