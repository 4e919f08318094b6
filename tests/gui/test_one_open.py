"""The window and `tfr-viewer summary` open a folder through the same core function."""

from __future__ import annotations

from pathlib import Path

from tfr_viewer import cli
from tfr_viewer.core import catalog

from .conftest import write_tiles


def test_window_and_summary_open_through_the_catalog(qtbot, window, tmp_path: Path, monkeypatch, capsys) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    write_tiles(root / "a.tfrecords", 4)
    calls: list[tuple[list[str], bool]] = []
    real = catalog.open_catalog

    def open_catalog(paths, cancel=None, load_indexes=True):
        calls.append(([str(p) for p in paths], load_indexes))
        return (yield from real(paths, cancel, load_indexes))

    monkeypatch.setattr(catalog, "open_catalog", open_catalog)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(root))
    assert calls == [([str(root)], True)]
    assert [e.count for e in window.datasets.entries] == [4]

    assert cli.main(["summary", str(root), "--json"]) == 0
    assert calls[1:] == [([str(root)], False)]  # a Dataset counts through its manifest, not the indexes
    assert '"num_tiles": 4' in capsys.readouterr().out
