"""The conversion wizard driven page by page on real image folders, through the writer worker."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

import tfr_viewer as sf
from tfr_viewer.core.scan_images import iter_scan_source
from tfr_viewer.core.progress import run_job

from ..helpers import make_jpeg, make_png


def _images(folder: Path, n: int, start: int = 0, junk: bool = True) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i in range(start, start + n):
        name = f"tile_{i * 64}-{(i % 3) * 64}." + ("png" if i % 4 == 0 else "jpg")
        data = make_png(seed=i) if name.endswith("png") else make_jpeg(seed=i)
        (folder / name).write_bytes(data)
        written[name] = data
    if junk:
        (folder / "notes.txt").write_text("not an image")
        (folder / "empty.jpg").write_bytes(b"")
        (folder / "broken.png").write_bytes(b"garbage")
    return written


@pytest.fixture
def wizard(qtbot):
    from tfr_viewer.gui.wizard import ConvertWizard

    opened: list[str] = []
    w = ConvertWizard(open_in_viewer=opened.append)
    w.opened = opened
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def _to_run(qtbot, wizard, source: Path, dest: Path, setup_options=None, existing: int = 0) -> None:
    with qtbot.waitSignal(wizard.source_page.scanned, timeout=10_000):
        wizard.source_page.set_source(str(source))
    qtbot.waitUntil(lambda: not wizard._jobs, timeout=10_000)  # the scan job has ended too
    assert wizard.source_page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.options_page
    if setup_options:
        setup_options(wizard.options_page)
    assert wizard.options_page.isComplete()
    wizard.next()
    wizard.destination_page.path.setText(str(dest))
    wizard.destination_page.existing.setCurrentIndex(existing)


def test_scan_reports_layout_and_junk(tmp_path: Path) -> None:
    _images(tmp_path / "single", 5)
    os.mkfifo(tmp_path / "single" / "pipe.jpg")
    (tmp_path / "single" / "._tile_0-0.jpg").write_bytes(make_jpeg())  # a macOS resource copy
    (tmp_path / "single" / "sub").mkdir()
    scan = run_job(iter_scan_source(tmp_path / "single"))
    assert scan.layout == "single" and scan.images == 5
    assert {Path(s.path).name: s.reason for s in scan.skipped} == {
        "notes.txt": "not an image file (unknown extension)",
        "empty.jpg": "zero-byte file",
        "broken.png": "not a JPEG or PNG despite its extension",
        "pipe.jpg": "not a regular file (a pipe, a device or a broken link)",
        "._tile_0-0.jpg": "hidden file (its name starts with a dot)",
        "sub": "a folder inside the slide folder (its files are not read)",
    }
    report = sf.io.write_tfrecords_single(tmp_path / "single", tmp_path / "out", "single", "single")
    assert {Path(s.path).name for s in report.skipped} == {Path(s.path).name for s in scan.skipped}  # as previewed
    _images(tmp_path / "nested" / "A", 2, junk=False)
    _images(tmp_path / "nested" / "B", 3, junk=False)
    (tmp_path / "nested" / "loose.jpg").write_bytes(make_jpeg())
    nested = run_job(iter_scan_source(tmp_path / "nested"))
    assert nested.layout == "nested" and [(s.name, s.images) for s in nested.slides] == [("A", 2), ("B", 3)]


def test_single_folder_conversion_page_by_page(qtbot, wizard, tmp_path: Path) -> None:
    originals = _images(tmp_path / "slide_7", 6)
    dest = tmp_path / "out"
    _to_run(qtbot, wizard, tmp_path / "slide_7", dest)
    assert wizard.options_page.slide.text() == "slide_7"
    assert "3 file(s) will be skipped" in wizard.source_page.summary.text()
    assert wizard.destination_page.isComplete()
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        wizard.next()
    assert wizard.run_page.outcome == "done"
    wizard.next()
    assert wizard.currentPage() is wizard.result_page
    tfr = sf.TFRecord(dest / "slide_7.tfrecords")
    assert (dest / "slide_7.index.npz").is_file()
    names = sorted(originals, key=lambda n: int(n.split("_")[1].split("-")[0]))
    assert [tfr[i]["image_raw"] for i in range(len(tfr))] == [originals[n] for n in names]
    assert tfr.locations == [(i * 64, (i % 3) * 64) for i in range(6)]
    assert wizard.result_page.skipped.rowCount() == 3
    wizard.result_page.save_report(str(tmp_path / "report.csv"))
    rows = list(csv.reader(open(tmp_path / "report.csv")))
    assert rows[1][:4] == ["written", str(dest / "slide_7.tfrecords"), "slide_7", "6"]
    wizard.result_page.open_in_viewer()
    assert wizard.opened == [str(dest)]


def test_nested_folders_with_custom_pattern(qtbot, wizard, tmp_path: Path) -> None:
    for slide in ("A", "B"):
        folder = tmp_path / "nested" / slide
        folder.mkdir(parents=True)
        for i in range(3):
            (folder / f"r{i}c{i + 1}.jpg").write_bytes(make_jpeg(seed=i))
        (folder / "odd.jpg").write_bytes(make_jpeg(seed=9))

    def options(page) -> None:
        page.locations.setCurrentIndex(3)  # custom
        page.regex.setText(r"r(?P<y>\d+)c(?P<x>\d+)")
        assert page.preview.item(0, 1).text() == "no match → (0, 0), reported as a warning"  # odd.jpg sorts first
        assert page.preview.item(1, 1).text() == "x 1, y 0"
        page.regex.setText(r"(\d+)")
        assert not page.isComplete()  # no x/y groups
        page.regex.setText(r"r(?P<y>\d+)c(?P<x>\d+)")

    dest = tmp_path / "out"
    _to_run(qtbot, wizard, tmp_path / "nested", dest, options)
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        wizard.next()
    report = wizard.run_page.report
    assert [w.slide for w in report.written] == ["A", "B"]
    assert any("did not match" in w for w in report.warnings)
    assert sf.TFRecord(dest / "B.tfrecords").locations == [(0, 0), (1, 0), (2, 1), (3, 2)]


def test_an_invalid_pattern_is_shown_as_typed(qtbot, wizard, tmp_path: Path) -> None:
    """A pattern the user typed comes back in the error exactly as typed (no doubled
    backslashes, no markup), and the page cannot go on."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    _images(tmp_path / "s", 2, junk=False)
    with qtbot.waitSignal(wizard.source_page.scanned, timeout=10_000):
        wizard.source_page.set_source(str(tmp_path / "s"))
    qtbot.waitUntil(lambda: not wizard._jobs, timeout=10_000)
    wizard.next()
    page = wizard.options_page
    page.locations.setCurrentIndex(3)  # custom
    page.regex.clear()
    typed = r"<b>_(?P<x>\d+)_(?P<y>\d+"
    QTest.keyClicks(page.regex, typed)
    assert page.regex.text() == typed
    shown = page.preview.item(0, 1).text()
    assert f"'{typed}'" in shown and "\\\\" not in shown, shown
    assert page.preview.item(0, 1).data(Qt.ItemDataRole.DisplayRole) == shown  # an item's text: never rich text
    assert not page.isComplete()


def test_existing_files_stop_unless_skip_or_overwrite(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "s", 2, junk=False)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "s.tfrecords").write_bytes(b"keep me")
    _to_run(qtbot, wizard, tmp_path / "s", dest)
    assert not wizard.destination_page.isComplete()
    wizard.destination_page.existing.setCurrentIndex(2)  # overwrite
    assert wizard.destination_page.isComplete()
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        wizard.next()
    assert len(sf.TFRecord(dest / "s.tfrecords")) == 2


def test_cancel_midway_leaves_nothing(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "big", 1500, junk=False)
    dest = tmp_path / "out"
    _to_run(qtbot, wizard, tmp_path / "big", dest)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.run_page.overall.value() > 0, timeout=30_000)
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        wizard.run_page.cancel()
    assert wizard.run_page.outcome == "cancelled"
    assert not wizard.run_page.isComplete()
    assert not dest.exists() or list(dest.iterdir()) == []


def test_no_way_back_once_converting(qtbot, wizard, tmp_path: Path) -> None:
    """Back from a run would leave its job writing while a second run starts: the destination
    page commits, so Back is gone during and after the run and one job writes the file.

    Deterministic: between `next()` and the checks no event is processed, so the run's job is
    still listed however fast it ends; the end of the run is awaited as the condition itself
    (the run page drops its job), not as a signal that may come before the wait begins. Only
    writer jobs are counted: what the commit guarantees is one writer, not that no scan of the
    source is still finishing beside it."""
    from tfr_viewer.gui.workers import TFRecordWriterJob

    _images(tmp_path / "many", 400, junk=False)
    dest = tmp_path / "out"
    _to_run(qtbot, wizard, tmp_path / "many", dest)
    assert wizard.destination_page.isCommitPage()
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Convert"
    wizard.next()
    assert wizard.currentPage() is wizard.run_page
    run = wizard.run_page.job
    back = wizard.button(QWizard.WizardButton.BackButton)
    assert not (back.isVisible() and back.isEnabled())
    wizard.back()
    assert wizard.currentPage() is wizard.run_page
    assert run is not None and [job for job in wizard._jobs if isinstance(job, TFRecordWriterJob)] == [run]
    wizard.run_page.cancel()
    qtbot.waitUntil(lambda: wizard.run_page.job is None and run not in wizard._jobs, timeout=60_000)
    if wizard.run_page.outcome == "cancelled":  # the usual case
        assert not dest.exists() or list(dest.iterdir()) == []
    else:  # the run beat the cancel: one whole file, written once
        assert wizard.run_page.outcome == "done"
        assert sorted(p.name for p in dest.iterdir()) == ["many.index.npz", "many.tfrecords"]
        assert len(sf.TFRecord(dest / "many.tfrecords")) == 400


def test_an_output_name_with_folders_is_refused_before_the_run(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "s", 2, junk=False)
    with qtbot.waitSignal(wizard.source_page.scanned, timeout=10_000):
        wizard.source_page.set_source(str(tmp_path / "s"))
    wizard.next()
    page = wizard.options_page
    for bad in ("../escaped", "a/b", ".."):
        page.filename.setText(bad)
        assert not page.isComplete()
        assert "plain name" in page.name_problem.text()
    page.filename.setText("fine_name")
    assert page.isComplete() and page.name_problem.text() == ""


def test_a_failed_run_says_failed(qtbot, wizard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A destination that turns out unwritable: the run page says Failed, not Finished."""
    _images(tmp_path / "s", 3, junk=False)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the destination folder should be")
    _to_run(qtbot, wizard, tmp_path / "s", blocker / "out")
    monkeypatch.setattr(wizard.destination_page, "isComplete", lambda: True)  # free space probe passes
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        wizard.next()
    assert wizard.run_page.outcome == "failed"
    assert wizard.run_page.current.text().startswith("Failed")
    assert wizard.run_page.errors.count() == 1
    assert not wizard.run_page.isComplete()


def test_opened_from_the_main_window_menu(qtbot, tmp_path: Path) -> None:
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    window = MainWindow(Settings(fresh=True), dialogs=False)
    qtbot.addWidget(window)
    window.commands.actions["tools.convert"].trigger()
    found = window.findChild(QWizard, "convertWizard")
    assert found is not None and found.isVisible()
    found.reject()
    window.close()
