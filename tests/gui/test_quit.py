"""Quitting while a conversion or indexing runs asks first; Cancel keeps it running, Stop ends it."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QWizard

from tfr_viewer.core.progress import Progress

from ..helpers import make_jpeg


def question_box(qtbot, window) -> QMessageBox:
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "quitQuestion") is not None
                    and window.findChild(QMessageBox, "quitQuestion").isVisible())
    return window.findChild(QMessageBox, "quitQuestion")


def click(box: QMessageBox, text: str) -> None:
    button = next(b for b in box.buttons() if b.text().replace("&", "") == text)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def held_conversion(started: threading.Event, stopped: threading.Event):
    """A conversion that reports 7 of 40 images and then waits to be cancelled."""
    def job(token):
        yield Progress(7, 40, "slide07")
        started.set()
        pause = threading.Event()
        while not token.cancelled:
            pause.wait(0.02)
        stopped.set()
        token.raise_if_cancelled()
    return job


def test_quit_during_a_conversion_asks_cancel_keeps_it_stop_ends_it(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    from tfr_viewer.gui.wizard import ConvertWizard

    started, stopped = threading.Event(), threading.Event()
    monkeypatch.setattr(ConvertWizard, "make_job", lambda self, report=None: held_conversion(started, stopped))
    source = tmp_path / "images"
    source.mkdir()
    for i in range(2):
        (source / f"tile_{i}-0.jpg").write_bytes(make_jpeg(seed=i))
    window.ask_before_quit = True
    window.commands.actions["tools.convert"].trigger()
    wizard = window.findChild(QWizard, "convertWizard")
    try:
        stop_a_held_conversion(qtbot, window, wizard, source, tmp_path, started, stopped)
    finally:
        wizard.shutdown()


def stop_a_held_conversion(qtbot, window, wizard, source, tmp_path, started, stopped) -> None:
    with qtbot.waitSignal(wizard.source_page.scanned, timeout=10_000):
        wizard.source_page.set_source(str(source))
    qtbot.waitUntil(lambda: not wizard._jobs, timeout=10_000)
    wizard.next()
    wizard.next()
    wizard.destination_page.path.setText(str(tmp_path / "out"))
    wizard.next()
    qtbot.waitUntil(started.is_set, timeout=10_000)
    qtbot.waitUntil(lambda: wizard.run_page.overall.value() == 7)

    window.commands.actions["file.quit"].trigger()  # Ctrl+Q
    box = question_box(qtbot, window)
    assert box.text() == "A conversion is running (7 of 40 images written). Stop it and quit?"
    assert box.textFormat() == Qt.TextFormat.PlainText
    click(box, "Cancel")
    assert window.isVisible() and wizard.run_page.job is not None and not stopped.is_set()

    window.close()  # the close button asks the same
    box = question_box(qtbot, window)
    with qtbot.waitSignal(wizard.run_page.finished, timeout=10_000):
        click(box, "Stop and quit")
    assert stopped.is_set() and wizard.run_page.outcome == "cancelled"
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not wizard.isVisible()


def test_quit_during_indexing_names_its_progress(qtbot, window, tmp_path: Path) -> None:
    from tfr_viewer.gui.workers import JobWorker

    release = threading.Event()

    def indexing(token):
        yield Progress(3, 12, "")
        release.wait(10)
        token.raise_if_cancelled()

    window.ask_before_quit = True
    job = window.jobs.run(JobWorker(indexing, "Indexing", window), "Indexing 12 file(s)",
                          quit_question="Indexing is running ({done:,} of {total:,} files indexed).")
    try:
        qtbot.waitUntil(lambda: job.last_progress == (3, 12))
        window.activateWindow()
        qtbot.waitActive(window)
        QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
        box = question_box(qtbot, window)
        assert box.text() == "Indexing is running (3 of 12 files indexed). Stop it and quit?"
        click(box, "Cancel")
        assert window.isVisible() and window.jobs.busy()
    finally:
        release.set()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    window.close()  # nothing runs: closes at once
    assert not window.isVisible()
