"""SequenceExample records: the metadata panel shows their context and their feature lists."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tfr_viewer.core.example_pb2 import SequenceExample
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg
from .parts import parts  # noqa: F401  (fixture)


def sequence_payload(seed: int) -> bytes:
    """A SequenceExample made by the protobuf runtime: a tile in its context, three lists."""
    sequence = SequenceExample()
    context = sequence.context.feature
    context["image_raw"].bytes_list.value.append(make_jpeg(32, 32, seed=seed))
    context["slide"].bytes_list.value.append(b"seq_slide")
    context["loc_x"].int64_list.value.append(10)
    context["loc_y"].int64_list.value.append(20)
    lists = sequence.feature_lists.feature_list
    for step in ([1, 2], [3]):
        lists["tokens"].feature.add().int64_list.value.extend(step)
    for step in ([b"alpha", b"beta"], [b"<b>bold</b>"]):
        lists["words"].feature.add().bytes_list.value.extend(step)
    lists["scores"].feature.add().float_list.value.append(0.5)
    return sequence.SerializeToString()


def test_the_panel_shows_context_and_feature_lists(qtbot, parts, tmp_path: Path) -> None:
    root = tmp_path / "seq"
    root.mkdir()
    plain = make_example({"image_raw": make_jpeg(32, 32, seed=9), "slide": "seq_slide", "loc_x": 30, "loc_y": 20})
    (root / "s.tfrecords").write_bytes(frame_record(sequence_payload(1)) + frame_record(plain))
    browser = parts.add_browser()
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        parts.open(qtbot, root)
    text = parts.metadata.text()
    assert "SequenceExample: 4 context feature(s), 3 feature list(s)" in text
    rows = text.splitlines()
    assert "scores\tfloat list\t1 step\t[0.5]" in rows
    assert "tokens\tint64 list\t2 steps\t[1, 2], [3]" in rows
    assert "words\tbytes list\t2 steps\t[alpha, beta], [<b>bold</b>]" in rows  # as typed, no markup
    assert any(row.startswith("slide\tbytes\t9\tseq_slide") for row in rows)
    table = parts.metadata.table
    words = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "words")
    assert table.item(words, 3).text() == "[alpha, beta], [<b>bold</b>]"
    assert parts.viewer.has_image()  # the context's tile shows

    parts.grid.setFocus()
    with qtbot.waitSignal(browser.recordShown, timeout=10_000):
        QTest.keyClick(parts.grid, Qt.Key.Key_Right)  # the next record: a plain Example
    assert "record 1" in parts.metadata.text()
    assert "SequenceExample" not in parts.metadata.text() and "list\t" not in parts.metadata.text()
