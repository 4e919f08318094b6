"""The seams of the tile writer: folder listings through storage, input checks shared by the
writer and the wizard's preview, scratch files of the writer pool."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core import local_storage, storage, tile_inputs
from tfr_viewer.core.scan_images import iter_scan_source
from tfr_viewer.core.progress import run_job
from tfr_viewer.core.tile_encoding import read_source
from tfr_viewer.core.write_report import SkipImage

from ..helpers import make_jpeg


def test_list_folder_tells_kinds_from_the_listing(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "a.jpg")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    kinds = {e.name: e.kind for e in storage.LOCAL.list_folder(str(tmp_path))}
    assert kinds == {"sub": "dir", "a.jpg": "file", "link.jpg": "file", "broken.jpg": "other", "pipe.jpg": "other"}
    assert {e.path for e in storage.LOCAL.list_folder(str(tmp_path))} == {str(tmp_path / n) for n in kinds}


def test_folder_entries_natural_order_hidden_and_a_named_error(tmp_path: Path) -> None:
    for name in ("t_10.jpg", "t_2.jpg", ".hidden.jpg", "T_1.jpg"):
        (tmp_path / name).write_bytes(b"x")
    assert [e.name for e in tile_inputs.folder_entries(tmp_path)] == ["T_1.jpg", "t_2.jpg", "t_10.jpg"]
    assert [e.name for e in tile_inputs.folder_entries(tmp_path, hidden=True)][0] == ".hidden.jpg"
    with pytest.raises(OSError, match=f"cannot read folder {tmp_path / 'missing'}: No such file") as info:
        tile_inputs.folder_entries(tmp_path / "missing")
    assert info.value.errno == errno.ENOENT


def _junk_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "good_0-0.jpg").write_bytes(make_jpeg(seed=1))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("x")
    (folder / "._good_0-0.jpg").write_bytes(b"resource fork")
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / "inner").mkdir()
    os.mkfifo(folder / "pipe.png")


def test_preview_and_writer_skip_the_same_entries_for_the_same_reasons(tmp_path: Path) -> None:
    _junk_folder(tmp_path / "src")
    scan = run_job(iter_scan_source(tmp_path / "src"))
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "s", "s")
    previewed = sorted((Path(s.path).name, s.reason) for s in scan.skipped)
    written = sorted((Path(s.path).name, s.reason) for s in report.skipped)
    assert previewed == written == sorted([
        ("empty.jpg", tile_inputs.ZERO_BYTE_REASON),
        ("notes.txt", "not an image file (unknown extension)"),
        ("._good_0-0.jpg", tile_inputs.HIDDEN_REASON),
        ("inner", tile_inputs.SUBFOLDER_REASON),
        ("pipe.png", tile_inputs.NOT_REGULAR_REASON),
    ])
    assert scan.images == report.tiles == 1


def test_a_slide_folder_name_that_is_not_text_is_skipped_by_preview_and_writer(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "ok").mkdir(parents=True)
    (src / "ok" / "t_0-0.jpg").write_bytes(make_jpeg())
    bad = Path(os.fsdecode(os.fsencode(src) + b"/caf\xe9"))
    bad.mkdir()
    (bad / "t_0-0.jpg").write_bytes(make_jpeg())
    expected = [(str(bad), tile_inputs.NOT_TEXT_REASON)]
    scan = run_job(iter_scan_source(src))
    report = sf.io.write_tfrecords_multi(src, tmp_path / "out")
    assert [(s.path, s.reason) for s in scan.skipped] == [(s.path, s.reason) for s in report.skipped] == expected
    assert [w.slide for w in report.written] == ["ok"]


def test_read_source_refusals(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # opened without blocking, refused on its kind
    (tmp_path / "empty.jpg").write_bytes(b"")
    with open(tmp_path / "huge.jpg", "wb") as f:  # sparse: refused before a byte is read
        f.truncate(tile_inputs.MAX_SOURCE_BYTES + 1)
    for name, reason in [
        ("pipe.jpg", tile_inputs.NOT_REGULAR_REASON),
        ("empty.jpg", tile_inputs.ZERO_BYTE_REASON),
        ("huge.jpg", tile_inputs.too_big_reason(tile_inputs.MAX_SOURCE_BYTES + 1)),
        ("missing.jpg", "unreadable (No such file or directory)"),
    ]:
        with pytest.raises(SkipImage) as info:
            read_source(tmp_path / name)
        assert str(info.value) == reason
    (tmp_path / "t.jpg").write_bytes(b"bytes")
    assert read_source(tmp_path / "t.jpg") == b"bytes"


def test_scratch_files_append_exactly_and_refuse_a_wrong_size(tmp_path: Path) -> None:
    chunk = str(tmp_path / ".x.chunk")
    local_storage.write_scratch_file(chunk, [b"abc", b"", b"defg"])
    with open(tmp_path / "out", "wb") as out:
        out.write(b"head-")
        local_storage.append_scratch_file(out, chunk, 7)
        out.write(b"-tail")
    assert (tmp_path / "out").read_bytes() == b"head-abcdefg-tail"
    with open(tmp_path / "out2", "wb") as out, pytest.raises(OSError, match="holds 7 bytes, expected 8") as info:
        local_storage.append_scratch_file(out, chunk, 8)
    assert info.value.errno == errno.EIO
