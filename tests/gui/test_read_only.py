"""Read-only mode writes nothing beside the user's files; "not verified" until Verify said so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core.index import create_index
from tfr_viewer.core.read_only import READ_ONLY_ENV, read_only

from .conftest import write_tiles


@pytest.fixture
def restore_mode(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(READ_ONLY_ENV, "0")  # whatever a test switches is undone after it


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_read_only_mode_puts_indexes_and_manifests_in_the_cache(tmp_path: Path, private_cache: Path, restore_mode) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    write_tiles(folder / "a.tfrecords", 12, index=False)
    write_tiles(folder / "b.tfrecords", 7, index=False)
    os.environ[READ_ONLY_ENV] = "1"
    info = create_index(folder / "a.tfrecords")
    assert Path(info.path).is_relative_to(private_cache) and Path(info.path).is_file()
    dataset = sf.Dataset(str(folder))
    assert dataset.num_tiles == 19
    assert dataset.manifest()[str(folder / "b.tfrecords")]["total"] == 7
    assert listing(folder) == ["a.tfrecords", "b.tfrecords"]  # nothing written beside them
    assert list(private_cache.rglob("manifest.json"))
    assert len(sf.TFRecord(str(folder / "a.tfrecords"))) == 12  # reads through the cached index
    os.environ[READ_ONLY_ENV] = "0"
    create_index(folder / "b.tfrecords")
    assert "b.index.npz" in listing(folder)  # the usual place again


def test_the_window_toggle_indexes_into_the_cache_and_is_remembered(qtbot, window, tmp_path: Path, restore_mode) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    write_tiles(folder / "a.tfrecords", 20, index=False)
    action = window.commands.actions["tools.read_only"]
    assert not action.isChecked()
    action.trigger()
    assert read_only() and window.settings.get("files/read_only")
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(folder)
    assert window.datasets.entries[0].count == 20
    assert listing(folder) == ["a.tfrecords"]  # the indexing process wrote into the cache
    action.trigger()
    assert not read_only() and not window.settings.get("files/read_only")


def tooltip(window, file_id: int) -> str:
    return window.datasets.tree_model.index_of_file(file_id).data(0x03)  # Qt.ToolTipRole


def test_a_file_is_not_verified_until_verify_passes_and_that_is_remembered(qtbot, window, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_tiles(folder / "a.tfrecords", 10)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(folder)
    assert "not verified" in tooltip(window, 0)
    window.browser.select_files([0])
    with qtbot.waitSignal(window.datasets.tree_model.dataChanged, timeout=20_000):
        window.commands.actions["tools.verify"].trigger()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=20_000)
    assert "not verified" not in tooltip(window, 0)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(folder)  # opened again: verify's word is kept for these very bytes
    assert window.datasets.entries[0].verified and "not verified" not in tooltip(window, 0)
    with open(folder / "a.tfrecords", "ab") as f:  # other bytes: verify's word no longer holds
        f.write(b"\0" * 8)
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(folder)
    assert not window.datasets.entries[0].verified
