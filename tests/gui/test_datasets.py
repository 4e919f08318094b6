"""The dataset controller on its own: opening, Recent, background indexing, files that change."""

from __future__ import annotations

from pathlib import Path

from tfr_viewer.gui.widgets.problems import ProblemsPanel

from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


def test_opening_a_folder_lists_its_files_and_remembers_it(qtbot, parts, folder: Path) -> None:
    notes = []
    parts.datasets.opened.connect(notes.append)
    parts.open(qtbot, folder)
    assert notes == [""]
    assert [Path(e.path).name for e in parts.datasets.entries] == ["slide_a.tfrecords", "slide_b.tfrecords"]
    assert [e.count for e in parts.datasets.entries] == [60, 25]
    assert parts.datasets.first_file_to_show() == 0
    assert parts.datasets.file_id_of(str(folder / "slide_b.tfrecords")) == 1
    assert parts.settings.get("recent/paths") == [str(folder)]
    assert parts.datasets.index_job is None  # every index was there


def test_a_folder_without_tfrecords_says_so(qtbot, parts, tmp_path: Path) -> None:
    notes = []
    parts.datasets.opened.connect(notes.append)
    parts.open(qtbot, tmp_path)
    assert notes == ["No .tfrecords files found"]
    assert parts.datasets.first_file_to_show() is None


def test_a_path_that_is_gone_is_reported_and_leaves_recent(qtbot, parts, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    parts.settings.add_recent(str(gone))
    gone.rmdir()
    parts.open(qtbot, gone)
    assert parts.errors.history
    assert str(gone) not in parts.settings.get("recent/paths")


def test_a_url_no_storage_serves_is_said_plainly(qtbot, parts) -> None:
    url = "nosuchscheme://bucket/slides"
    parts.open(qtbot, url)
    said = f"{url}: nosuchscheme:// URLs are not supported yet (local paths only)"
    model = parts.datasets.tree_model
    assert [model.item(i).text() for i in range(model.rowCount())] == [said]  # no "ValueError:" prefix
    assert said in str(parts.errors.history[-1])
    assert url not in parts.settings.get("recent/paths")


def test_files_without_an_index_are_indexed_in_the_background(qtbot, parts, tmp_path: Path) -> None:
    write_tiles(tmp_path / "ready.tfrecords", 5)
    write_tiles(tmp_path / "fresh.tfrecords", 7, index=False)
    indexed = []
    parts.datasets.fileIndexed.connect(indexed.append)
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        parts.open(qtbot, tmp_path)
    fresh = parts.datasets.file_id_of(str(tmp_path / "fresh.tfrecords"))
    assert indexed == [fresh]
    assert parts.datasets.entries[fresh].state == "indexed" and parts.datasets.entries[fresh].count == 7
    assert (tmp_path / "fresh.index.npz").exists()
    assert parts.datasets.index_job is None


def test_a_deleted_file_is_noticed_on_refresh(qtbot, parts, folder: Path) -> None:
    parts.open(qtbot, folder)
    (folder / "slide_b.tfrecords").unlink()
    with qtbot.waitSignal(parts.datasets.filesChanged, timeout=10_000) as changed:
        parts.datasets.refresh_files()
    assert changed.args == [[1]]
    assert parts.datasets.entries[1].state == "missing"
    assert "deleted or moved" in parts.problems.list.item(0).text()
    assert parts.problems.label.text() == "Problems (1)"


def test_a_file_that_grew_is_indexed_again(qtbot, parts, tmp_path: Path) -> None:
    write_tiles(tmp_path / "growing.tfrecords", 4)
    parts.open(qtbot, tmp_path)
    write_tiles(tmp_path / "growing.tfrecords", 9)
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        parts.datasets.refresh_files()
    assert parts.datasets.entries[0].count == 9


def test_a_newer_opening_wins_over_an_older_one(qtbot, parts, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_tiles(first / "a.tfrecords", 3)
    write_tiles(second / "b.tfrecords", 3)
    parts.datasets.open_paths([str(first)])
    parts.open(qtbot, second)
    assert [Path(e.path).name for e in parts.datasets.entries] == ["b.tfrecords"]
    assert parts.settings.get("recent/paths") == [str(second)]


def test_the_problems_panel_keeps_the_latest_word_per_file(qtbot) -> None:
    panel = ProblemsPanel()
    qtbot.addWidget(panel)
    activated = []
    panel.problemActivated.connect(lambda path, record: activated.append((path, record)))
    panel.set_problems("/a", ["/a: record 3 is cut", "/a: record 4 is cut"])
    panel.set_problems("/b", ["/b: bad"])
    assert panel.label.text() == "Problems (3)"
    panel.set_problems("/a", ["/a: fine now but one"])
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["/b: bad", "/a: fine now but one"]
    panel.list.itemActivated.emit(panel.list.item(1))
    assert activated == [("/a", -1)]
    panel.set_problems("/a", [])
    assert not panel.has_problems("/a") and panel.has_problems("/b")
    panel.clear()
    assert panel.label.text() == "Problems: none"
