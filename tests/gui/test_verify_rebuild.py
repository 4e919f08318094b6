"""Verify reports the whole run's progress; Rebuild indexes says what it changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfr_viewer.core.index import load_index

from .conftest import write_tiles


def test_verify_progress_runs_once_over_all_files(qtbot, window, tmp_path: Path) -> None:
    sizes = []
    for name, n in (("a", 300), ("b", 40), ("c", 500)):
        write_tiles(tmp_path / f"{name}.tfrecords", n)
        sizes.append((tmp_path / f"{name}.tfrecords").stat().st_size)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(tmp_path)
    window.browser.select_files([0, 1, 2])
    qtbot.waitUntil(lambda: window.browser.selected_files == [0, 1, 2])
    seen: list[tuple[int, int, str]] = []
    original = window.jobs.progress.set_progress
    window.jobs.progress.set_progress = lambda done, total, label="": (seen.append((done, total, label)),
                                                                        original(done, total, label))
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.commands.actions["tools.verify"].trigger()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=30_000)
    runs = [(done, total) for done, total, label in seen if label.startswith("Verifying") and total > 0]
    assert runs, seen
    assert {total for _, total in runs} == {sum(sizes)}  # one total: all the files' bytes
    dones = [done for done, _ in runs]
    assert dones == sorted(dones)  # never back to 0 % for the next file
    assert dones[-1] == sum(sizes)
    assert any("file 3 of 3" in m for m in messages), messages
    assert window.statusBar().currentMessage() == "Verify: 3 of 3 file(s) OK"


def test_rebuild_indexes_counts_what_it_changed(qtbot, window, tmp_path: Path) -> None:
    for i in range(7):
        write_tiles(tmp_path / f"s{i}.tfrecords", 10 + i)
    for i in (2, 5):  # a valid index of offsets only (an older writer's): rebuilding adds the locations
        path = tmp_path / f"s{i}.index.npz"
        offsets = load_index(tmp_path / f"s{i}.tfrecords")
        np.savez(path, offsets)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(tmp_path)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    window.browser.select_files(list(range(7)))
    qtbot.waitUntil(lambda: window.browser.selected_files == list(range(7)))
    with qtbot.waitSignal(window.datasets.rebuildFinished, timeout=30_000) as finished:
        window.commands.actions["tools.rebuild_indexes"].trigger()
    assert finished.args == [2, 5, 0]
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    assert window.statusBar().currentMessage() == "Rebuilt 2, 5 were already valid"
    with np.load(tmp_path / "s2.index.npz") as rebuilt:
        assert "locations" in rebuilt.files


def test_rebuild_counts_a_file_it_cannot_index_as_an_error(qtbot, window, tmp_path: Path) -> None:
    write_tiles(tmp_path / "good.tfrecords", 10)
    write_tiles(tmp_path / "bad.tfrecords", 10)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(tmp_path)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    data = bytearray((tmp_path / "bad.tfrecords").read_bytes())
    (tmp_path / "bad.tfrecords").write_bytes(bytes(data[: len(data) // 2]))  # cut short
    window.browser.select_files([0, 1])
    qtbot.waitUntil(lambda: window.browser.selected_files == [0, 1])
    with qtbot.waitSignal(window.datasets.rebuildFinished, timeout=30_000) as finished:
        window.commands.actions["tools.rebuild_indexes"].trigger()
    assert finished.args[1:] == [1, 1]
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=10_000)
    assert "1 could not be indexed" in window.statusBar().currentMessage()
