"""A folder with no TFRecord: the window says what it holds instead, offers to convert it, and
does not remember it in Recent; the status line never keeps an older opening's note."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWizard

from ..helpers import make_jpeg
from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


def slide_folders(root: Path, counts: list[int]) -> None:
    for s, n in enumerate(counts):
        folder = root / f"slide{s + 1}"
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"tile_{i * 64}-0.jpg").write_bytes(make_jpeg(16, 16, seed=i))


def test_a_folder_of_slide_folders_shows_its_images_and_converts_on_a_click(qtbot, window, tmp_path: Path) -> None:
    images = tmp_path / "images"
    slide_folders(images, [4, 2, 1201 - 6 - 1194])
    (images / "slide3" / "extra").mkdir()
    for i in range(1194):  # 1,201 images in all
        (images / "slide3" / f"more_{i}_0-{i}.jpg").write_bytes(make_jpeg(8, 8, seed=i % 7))
    with qtbot.waitSignal(window.datasets.imagesCounted, timeout=60_000):
        window.open_path(images)
    page = window.empty_folder
    assert window.stack.currentWidget() is page
    assert page.message.text() == (f"No TFRecords here.\n{images}\n"
                                   "This folder holds 1,201 images in 3 slide folders: convert them to TFRecords?")
    assert page.message.textFormat() == Qt.TextFormat.PlainText
    assert window.settings.get("recent/paths") == []
    assert window.status_label.text() == "No TFRecords found"
    QTest.mouseClick(page.convert_button, Qt.MouseButton.LeftButton)
    wizard = window.findChild(QWizard, "convertWizard")
    assert wizard is not None and wizard.isVisible()
    assert wizard.source_page.path.text() == str(images)
    qtbot.waitUntil(lambda: not wizard._jobs, timeout=10_000)
    wizard.reject()


def test_an_empty_folder_says_there_is_nothing_to_convert(qtbot, window, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with qtbot.waitSignal(window.datasets.imagesCounted, timeout=10_000):
        window.open_path(tmp_path)
    assert "holds no images to convert either" in window.empty_folder.message.text()
    assert not window.empty_folder.convert_button.isVisible()


def test_the_status_line_forgets_the_note_of_the_last_opening(qtbot, window, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(window.datasets.imagesCounted, timeout=10_000):
        window.open_path(empty)
    assert window.status_label.text() == "No TFRecords found"
    full = tmp_path / "full"
    full.mkdir()
    write_tiles(full / "a.tfrecords", 30)
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(full)
    assert window.status_label.text() == ""
    assert window.stack.currentWidget() is window.splitter
    assert window.grid.model().rowCount() == 30
    assert window.settings.get("recent/paths") == [str(full)]



def test_a_folder_gone_before_its_count_ends_the_count_with_nothing(qtbot, parts, tmp_path: Path) -> None:
    with qtbot.waitSignal(parts.datasets.imagesCounted, timeout=10_000) as counted:
        parts.datasets.count_images(str(tmp_path / "gone"))
    assert counted.args == [str(tmp_path / "gone"), 0, 0]
