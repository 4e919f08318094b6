"""The window's tree lists TFRecords of every spelling folder discovery accepts."""

from __future__ import annotations

import gzip
from pathlib import Path

from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


def test_the_tree_lists_tfrecord_tfr_and_gzip_files(qtbot, parts, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    write_tiles(root / "a.tfrecord", 3, index=False)
    write_tiles(root / "b.TFR", 4, index=False)
    write_tiles(tmp_path / "c.tmp", 5, index=False)
    (root / "c.tfrecords.gz").write_bytes(gzip.compress((tmp_path / "c.tmp").read_bytes()))
    (root / "notes.txt").write_text("not listed")
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        parts.open(qtbot, root)
    assert [Path(e.path).name for e in parts.datasets.entries] == ["a.tfrecord", "b.TFR", "c.tfrecords.gz"]
    assert [e.count for e in parts.datasets.entries] == [3, 4, 5]
    model = parts.datasets.tree_model
    folder = model.item(0)
    shown = [folder.child(i).text() for i in range(folder.rowCount())]
    assert all(any(name in text for text in shown) for name in ("a.tfrecord", "b.TFR", "c.tfrecords.gz")), shown
