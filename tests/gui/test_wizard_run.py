"""The conversion wizard's run and result, driven through its real buttons: no way back from the
result, progress in words, what a cancel kept (open, delete), the destination's other TFRecords,
the running count of a long scan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QWizard

import tfr_viewer as sf
from tfr_viewer.gui.wizard_run import progress_text

from ..helpers import make_jpeg
from .test_wizard import _images, _to_run, wizard  # noqa: F401 (the fixture)


def _click(qtbot, wizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isVisible() and button.isEnabled(), which
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_back_does_nothing_on_the_result_page(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "s", 5, junk=False)
    _to_run(qtbot, wizard, tmp_path / "s", tmp_path / "out")
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Convert"  # Alt+C
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        _click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    assert wizard.run_page.isCommitPage()
    _click(qtbot, wizard, QWizard.WizardButton.CommitButton)  # "Show result"
    assert wizard.currentPage() is wizard.result_page
    back = wizard.button(QWizard.WizardButton.BackButton)
    assert not (back.isVisible() and back.isEnabled())
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)  # the real button: nothing happens
    assert wizard.currentPage() is wizard.result_page
    assert len(sf.TFRecord(tmp_path / "out" / "s.tfrecords")) == 5


def test_alt_c_starts_the_conversion(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "s", 3, junk=False)
    _to_run(qtbot, wizard, tmp_path / "s", tmp_path / "out")
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow, timeout=5_000)
    with qtbot.waitSignal(wizard.run_page.finished, timeout=30_000):
        QTest.keyClick(wizard, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert wizard.run_page.outcome == "done"


def test_progress_says_images_slide_and_skipped() -> None:
    assert progress_text(5064, 100_000, "slide02", [f"slide{i:02}" for i in range(40)], 0) == (
        "5,064 of 100,000 images, now slide02 (3 of 40)")
    assert progress_text(64, 90, "only", ["only"], 3) == "64 of 90 images, now only; 3 files skipped"


def test_the_quit_question_counts_slides_of_a_conversion_of_several(qtbot, wizard, tmp_path: Path) -> None:
    """Quitting asks "A conversion is running (2 of 3 slides written)" when folders become
    slides: the run page's own progress says which slide is being written."""
    _nested(tmp_path / "nested", {"s1": 2, "s2": 2, "s3": 2})
    _to_run(qtbot, wizard, tmp_path / "nested", tmp_path / "out")
    page = wizard.run_page
    page._slide_names = ["s1", "s2", "s3"]  # as the scan named them
    page._on_progress(5, 6, "s3\t1")  # the writer's progress while it writes the third slide
    assert page.written_summary() == "2 of 3 slides written"
    page._slide_names = ["only"]
    page._on_progress(7, 40, "only\t0")
    assert page.written_summary() == "7 of 40 images written"


def _nested(root: Path, sizes: dict[str, int]) -> None:
    for slide, n in sizes.items():
        folder = root / slide
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"t_{i}-{i}.jpg").write_bytes(make_jpeg(seed=i % 7))
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")  # skipped while writing


def test_cancel_lists_the_kept_files_and_deletes_only_them(qtbot, wizard, tmp_path: Path) -> None:
    _nested(tmp_path / "src", {"A": 70, "B": 3000})
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("not the run's")
    _to_run(qtbot, wizard, tmp_path / "src", dest)
    page = wizard.run_page
    _click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(lambda: "now B" in page.current.text(), timeout=60_000)
    text = page.current.text()
    assert re.fullmatch(r"[\d,]+ of 3,07[02] images, now B \(2 of 2\); [12] files? skipped", text), text
    with qtbot.waitSignal(page.finished, timeout=60_000):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    if page.outcome != "cancelled":
        pytest.skip("the run finished before the cancel reached it")
    assert page.current.text().startswith("Cancelled while writing B: its partial file was removed")
    assert [page.kept.item(i).text() for i in range(page.kept.count())] == [str(dest / "A.tfrecords")]
    assert page.kept.isVisible() and page.delete_kept.isVisible()
    assert len(sf.TFRecord(dest / "A.tfrecords")) == 70  # complete, kept
    assert sorted(p.name for p in dest.iterdir()) == ["A.index.npz", "A.tfrecords", "mine.txt"]

    qtbot.mouseClick(page.delete_kept, Qt.MouseButton.LeftButton)
    box = page.confirm_box
    assert box is not None and box.isVisible() and "A.tfrecords" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert (dest / "A.tfrecords").exists()  # Cancel deletes nothing

    qtbot.mouseClick(page.delete_kept, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.confirm_box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.kept.isVisible(), timeout=10_000)
    assert sorted(p.name for p in dest.iterdir()) == ["mine.txt"]
    assert "deleted 1 TFRecord" in page.current.text()


def test_open_in_viewer_after_a_cancel(qtbot, wizard, tmp_path: Path) -> None:
    _nested(tmp_path / "src", {"A": 70, "B": 3000})
    dest = tmp_path / "out"
    _to_run(qtbot, wizard, tmp_path / "src", dest)
    page = wizard.run_page
    _click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(lambda: "now B" in page.current.text(), timeout=60_000)
    with qtbot.waitSignal(page.finished, timeout=60_000):
        page.cancel()
    if page.outcome != "cancelled":
        pytest.skip("the run finished before the cancel reached it")
    qtbot.mouseClick(page.open_kept, Qt.MouseButton.LeftButton)
    assert wizard.opened == [str(dest)]
    assert not wizard.isVisible()


def test_destination_with_other_tfrecords_proposes_a_folder_of_its_own(qtbot, wizard, tmp_path: Path) -> None:
    _images(tmp_path / "slide_9", 2, junk=False)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "other.tfrecords").write_bytes(b"")
    with qtbot.waitSignal(wizard.source_page.scanned, timeout=10_000):
        wizard.source_page.set_source(str(tmp_path / "slide_9"))
    _click(qtbot, wizard, QWizard.WizardButton.NextButton)
    _click(qtbot, wizard, QWizard.WizardButton.NextButton)
    page = wizard.destination_page
    assert page.path.text() == str(tmp_path / "slide_9_tfrecords")  # proposed from the start
    assert not page.others.isVisible()
    page.path.setText(str(shared))
    assert page.others.isVisible() and "1 other TFRecord(s), e.g. other.tfrecords" in page.others.text()
    assert page.use_own_folder.text() == "Use slide_9_tfrecords"
    qtbot.mouseClick(page.use_own_folder, Qt.MouseButton.LeftButton)
    assert page.path.text() == str(tmp_path / "slide_9_tfrecords")
    assert not page.others.isVisible()


def test_scanning_shows_a_running_count(qtbot, wizard, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    data = make_jpeg()
    for i in range(2500):
        (folder / f"t_{i}-0.jpg").write_bytes(data)
    seen: list[str] = []
    page = wizard.source_page
    original = page.summary.setText
    page.summary.setText = lambda text: (seen.append(text), original(text))
    with qtbot.waitSignal(page.scanned, timeout=30_000):
        page.set_source(str(folder))
    running = [t for t in seen if "files so far" in t]
    assert [re.search(r": ([\d,]+) files", t).group(1) for t in running] == ["1,000", "2,000"]
    assert "2,500 images" in page.summary.text()


def test_a_failed_run_lists_what_it_completed_before_failing(qtbot, wizard, tmp_path: Path) -> None:
    _nested(tmp_path / "src", {"A": 5, "B": 5})
    dest = tmp_path / "out"
    (dest / "B.tfrecords").mkdir(parents=True)  # a folder where B's file would go: B cannot be written
    (dest / "B.tfrecords" / "keep.txt").write_text("x")
    _to_run(qtbot, wizard, tmp_path / "src", dest, existing=2)  # overwrite
    page = wizard.run_page
    with qtbot.waitSignal(page.finished, timeout=60_000):
        _click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    assert page.outcome == "failed" and page.errors.count() == 1
    assert page.kept_label.text() == "1 complete TFRecord(s) were written before the failure and kept:"
    assert [page.kept.item(i).text() for i in range(page.kept.count())] == [str(dest / "A.tfrecords")]
    assert len(sf.TFRecord(dest / "A.tfrecords")) == 5
    assert (dest / "B.tfrecords" / "keep.txt").read_text() == "x"
