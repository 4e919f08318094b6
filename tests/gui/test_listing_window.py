"""The window's tree lists TFRecords of every spelling folder discovery accepts."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


def test_the_tree_lists_tfrecord_tfr_gzip_and_zlib_files(qtbot, parts, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    write_tiles(root / "a.tfrecord", 3, index=False)
    write_tiles(root / "b.TFR", 4, index=False)
    write_tiles(tmp_path / "c.tmp", 5, index=False)
    (root / "c.tfrecords.gz").write_bytes(gzip.compress((tmp_path / "c.tmp").read_bytes()))
    write_tiles(tmp_path / "d.tmp", 6, index=False)
    (root / "d.tfrecords").write_bytes(zlib.compress((tmp_path / "d.tmp").read_bytes()))  # TensorFlow's ZLIB
    (root / "notes.txt").write_text("not listed")
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        parts.open(qtbot, root)
    names = ["a.tfrecord", "b.TFR", "c.tfrecords.gz", "d.tfrecords"]
    assert [Path(e.path).name for e in parts.datasets.entries] == names
    assert [e.count for e in parts.datasets.entries] == [3, 4, 5, 6]
    model = parts.datasets.tree_model
    folder = model.item(0)
    shown = [folder.child(i).text() for i in range(folder.rowCount())]
    assert all(any(name in text for text in shown) for name in names), shown
