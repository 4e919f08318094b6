"""One naming rule: file name in the grid and viewer, `slide` field in the record panel; a
difference between the two is said, as text."""

from __future__ import annotations

from pathlib import Path

from .conftest import write_tiles


def test_a_file_whose_slide_field_differs_says_so(qtbot, window, tmp_path: Path) -> None:
    write_tiles(tmp_path / "flipped.tfrecords", 5, slide="slideB")
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(tmp_path / "flipped.tfrecords")
    header = window.metadata.header
    assert "Names differ: file flipped, slide field slideB" in header.text()
    assert "slide field slideB" in header.toolTip() and "export" in header.toolTip()
    assert window.viewer.title.text().startswith("flipped · record 0")
    slide_rows = [r for r in window.metadata._rows if r[0] == "slide"]
    assert slide_rows and slide_rows[0][3] == "slideB"


def test_matching_names_add_nothing_and_markup_stays_text(qtbot, window, tmp_path: Path) -> None:
    write_tiles(tmp_path / "same.tfrecords", 3, slide="same")
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(tmp_path / "same.tfrecords")
    assert "Names differ" not in window.metadata.header.text() and window.metadata.header.toolTip() == ""
    write_tiles(tmp_path / "odd.tfrecords", 3, slide="<b>bold</b>")
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(tmp_path / "odd.tfrecords")
    assert "slide field <b>bold</b>" in window.metadata.header.text()
    assert "&lt;b&gt;" in window.metadata.header.toolTip()  # escaped: shown as typed


def test_export_names_tiles_by_the_slide_field(qtbot, window, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    write_tiles(source / "flipped.tfrecords", 2, slide="slideB")
    with qtbot.waitSignal(window.recordShown, timeout=10_000):
        window.open_path(source / "flipped.tfrecords")
    out = tmp_path / "out"
    window.tools.export_tiles([(0, 0), (0, 1)], str(out))
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)  # a fast job may end before a wait starts
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 and all(name.startswith("slideB_") for name in written), written
