"""Files that change under the open window: grow, get truncated, disappear."""

from __future__ import annotations

import os
from pathlib import Path

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg
from .conftest import write_tiles


def _open(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(path))


def _open_live_file(qtbot, window, root: Path, n: int) -> Path:
    """A folder with one file of n tiles, opened in the window."""
    root.mkdir()
    path = root / "live.tfrecords"
    write_tiles(path, n)
    _open(qtbot, window, root)
    return path


def _append(path: Path, first: int, last: int) -> None:
    """What another process writing the file does: records `first`..`last - 1` appended."""
    with open(path, "ab") as f:
        for i in range(first, last):
            f.write(frame_record(make_example({"image_raw": make_jpeg(32, 32, seed=i), "slide": "live", "loc_x": i, "loc_y": 0})))


def test_file_growing_while_open_shows_new_tiles(qtbot, window, tmp_path: Path) -> None:
    path = _open_live_file(qtbot, window, tmp_path / "growing", 10)
    assert window.browser.tile_model.rowCount() == 10
    _append(path, 10, 15)
    qtbot.waitUntil(lambda: window.datasets.entries[0].count == 15 and window.datasets.entries[0].state == "indexed", timeout=20_000)
    qtbot.waitUntil(lambda: window.browser.tile_model.rowCount() == 15 and window.map_panel.map.point_count() == 15, timeout=5000)


def test_file_truncated_while_open_is_a_clear_problem(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "trunc"
    root.mkdir()
    path = root / "cut.tfrecords"
    write_tiles(path, 12)
    _open(qtbot, window, root)
    data = path.read_bytes()
    with open(path, "r+b") as f:
        f.truncate(len(data) * 2 // 3)
    window.datasets.refresh_files()
    qtbot.waitUntil(lambda: window.datasets.entries[0].state == "damaged", timeout=20_000)
    entry = window.datasets.entries[0]
    assert 0 < entry.count < 12
    assert "cut.tfrecords" in entry.error and "record" in entry.error
    assert any("cut.tfrecords" in window.problems.list.item(i).text() for i in range(window.problems.list.count()))
    qtbot.waitUntil(lambda: window.browser.tile_model.rowCount() == entry.count, timeout=5000)


def test_file_deleted_while_open_is_marked_missing(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "gone"
    root.mkdir()
    write_tiles(root / "a.tfrecords", 5)
    write_tiles(root / "b.tfrecords", 6)
    _open(qtbot, window, root)
    os.remove(root / "a.tfrecords")
    qtbot.waitUntil(lambda: window.datasets.entries[0].state == "missing", timeout=20_000)
    assert "deleted or moved" in window.datasets.entries[0].error
    assert window.browser.tile_model.rowCount() == 0  # the selected file is gone; nothing stale is shown
    window.browser.select_files([1])
    assert window.browser.tile_model.rowCount() == 6


def test_manifest_counts_list_files_before_their_index(qtbot, window, tmp_path: Path) -> None:
    import tfr_viewer as sf

    root = tmp_path / "listed"
    root.mkdir()
    for i in range(3):
        write_tiles(root / f"s{i}.tfrecords", 7 + i, index=False)
    sf.Dataset(root).manifest()  # writes manifest.json, no index
    assert not list(root.glob("*.index.npz"))
    from tfr_viewer.core.catalog import open_dataset_job
    from tfr_viewer.core.progress import CancelToken, run_job

    opened = run_job(open_dataset_job([str(root)])(CancelToken()))
    assert [e.listed_count for e in opened.files] == [7, 8, 9]
    assert all(e.state == "pending" for e in opened.files)


def _problem_lines(window) -> list[str]:
    return [window.problems.list.item(i).text() for i in range(window.problems.list.count())]


def test_problems_hold_the_latest_word_on_each_file(qtbot, window, tmp_path: Path) -> None:
    """Truncated twice, then restored: no stale lines; Verify twice: one set of lines, not two."""
    root = tmp_path / "flip"
    root.mkdir()
    path = root / "cut.tfrecords"
    write_tiles(path, 12)
    whole = path.read_bytes()
    _open(qtbot, window, root)
    for keep in (len(whole) * 2 // 3, len(whole) // 3):
        path.write_bytes(whole[:keep])
        window.datasets.refresh_files()
        qtbot.waitUntil(lambda keep=keep: window.datasets.entries[0].state == "damaged" and window.datasets.entries[0].size == keep,
                        timeout=20_000)
        qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=20_000)
        assert len(_problem_lines(window)) == 1 and "cut.tfrecords" in _problem_lines(window)[0]
    for _ in range(2):
        window.tools.verify_selected()
        qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=20_000)
        lines = _problem_lines(window)
        assert len(lines) == 1 and lines[0].startswith(str(path)), lines
    assert window.statusBar().currentMessage() == "Verify: 0 of 1 file(s) OK"  # the result stays shown
    path.write_bytes(whole)
    window.datasets.refresh_files()
    qtbot.waitUntil(lambda: window.datasets.entries[0].state == "indexed" and window.datasets.entries[0].count == 12, timeout=20_000)
    assert _problem_lines(window) == []
    assert window.problems.label.text() == "Problems: none"


def test_the_current_tile_stays_when_its_file_grows(qtbot, window, tmp_path: Path) -> None:
    path = _open_live_file(qtbot, window, tmp_path / "grow", 10)
    window.grid.setCurrentIndex(window.browser.tile_model.index(7))
    assert window.browser.tile_model.key(window.grid.currentIndex().row()) == (0, 7)
    _append(path, 10, 13)
    window.datasets.refresh_files()
    qtbot.waitUntil(lambda: window.browser.tile_model.rowCount() == 13, timeout=20_000)
    assert window.browser.tile_model.key(window.grid.currentIndex().row()) == (0, 7)
    qtbot.waitUntil(lambda: "loc_x\tint64\t1\t480" in window.metadata.text(), timeout=5000)  # record 7's x


def test_an_unreadable_sub_folder_is_listed_in_problems(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    """(Listing is refused in this process: tests may run as root, where permissions do not refuse.)"""
    root = tmp_path / "partly"
    (root / "locked").mkdir(parents=True)
    write_tiles(root / "open.tfrecords", 5)
    write_tiles(root / "locked" / "hidden.tfrecords", 5)
    real = os.scandir

    def scandir(path="."):
        if Path(path) == root / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    _open(qtbot, window, root)
    assert [Path(e.path).name for e in window.datasets.entries] == ["open.tfrecords"]
    texts = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert texts == [f"{root / 'locked'}: cannot read folder (Permission denied); its TFRecords are left out"]


def test_a_folder_opened_under_two_spellings_lists_each_file_once(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "twice"
    (root / "sub").mkdir(parents=True)
    write_tiles(root / "a.tfrecords", 3)
    write_tiles(root / "sub" / "b.tfrecords", 3)
    (tmp_path / "link").symlink_to(root)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_paths([str(root), str(root / ".." / "twice"), str(tmp_path / "link"), str(root / "sub")])
    assert sorted(Path(e.path).name for e in window.datasets.entries) == ["a.tfrecords", "b.tfrecords"]
