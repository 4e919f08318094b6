"""The window decodes record images with the allow-listed decoders only: PostScript in a record
never reaches Ghostscript, neither through a thumbnail nor through the tile viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index

from ..core.test_hostile_images import EPS, fake_gs
from ..helpers import make_jpeg
from .test_hostile_window import _example, open_and_settle, select_row_and_wait

HOSTILE = {
    1: EPS,  # encapsulated PostScript
    2: b"\xc5\xd0\xd3\xc6" + b"\0" * 28 + EPS,  # the binary EPS header
    3: b"%PDF-1.4\n%%EOF\n",
}


def test_postscript_records_never_reach_ghostscript(qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker, path = fake_gs(tmp_path / "bin")
    monkeypatch.setenv("PATH", path)
    tfrecord = tmp_path / "ps.tfrecords"
    images = [HOSTILE.get(i, make_jpeg(32, 32, seed=i)) for i in range(5)]
    with open(tfrecord, "wb") as f:
        for i, image in enumerate(images):
            f.write(frame_record(_example(image, i)))
    create_index(tfrecord)

    open_and_settle(qtbot, window, tfrecord)  # every thumbnail asked for and answered
    model = window.tile_model
    for row in (0, 4):
        assert model.has_thumbnail(row)
    for row in HOSTILE:
        assert not model.has_thumbnail(row)
        tip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
        assert "not a JPEG, PNG" in tip, tip
        select_row_and_wait(qtbot, window, row)  # the viewer's full decode refuses it too
        assert not window.viewer.has_image()
        assert f"record {row}" in window.viewer.title.text()
    select_row_and_wait(qtbot, window, 4)
    assert window.viewer.has_image()
    assert not marker.exists(), marker.read_text()
