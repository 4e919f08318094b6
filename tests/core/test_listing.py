"""Which files folder discovery lists, and how a file that is no TFRecord at all is named."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer import cli
from tfr_viewer.core.catalog import discover
from tfr_viewer.core.dataset import Dataset
from tfr_viewer.core.local_storage import find_tfrecords
from tfr_viewer.core.naming import is_tfrecord_name
from tfr_viewer.core.verify import verify

from ..helpers import frame_py, tile_record, write_tfrecord_py

LISTED = ["a.tfrecords", "b.TFRecord", "c.tfr", "d.tfrecords.gz", "e.TFR.GZ", "f.TFRECORDS"]
NOT_LISTED = ["notes.txt", "z.index.npz", "g.tfrecords.bak", "h.gz", "i.record"]


def _folder(root: Path) -> Path:
    """One TFRecord of i + 1 tiles under each listed name (gzip where the name says so)."""
    root.mkdir()
    for i, name in enumerate(LISTED):
        plain = root / "plain.tmp"
        write_tfrecord_py(plain, [tile_record(k, slide=f"s{i}") for k in range(i + 1)])
        data = plain.read_bytes()
        plain.unlink()
        (root / name).write_bytes(gzip.compress(data) if name.lower().endswith(".gz") else data)
    for name in NOT_LISTED:
        (root / name).write_bytes(b"not a tfrecord")
    return root


@pytest.mark.parametrize("name", LISTED + ["x.tfrecord.zlib", "y.Tfr.Gz"])
def test_tfrecord_names_in_any_case_and_compressed_are_tfrecords(name: str) -> None:
    assert is_tfrecord_name(name)


@pytest.mark.parametrize("name", NOT_LISTED + ["tfrecords", "a.tfrecords.index.npz", "a.gz.tfrecords.txt"])
def test_other_names_are_not(name: str) -> None:
    assert not is_tfrecord_name(name)


def test_discovery_lists_every_spelling_and_reads_each(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    files, unreadable = find_tfrecords(root)
    assert [Path(f).name for f in files] == LISTED and unreadable == []
    opened = discover([str(root)])
    assert [Path(e.path).name for e in opened.files] == LISTED
    dataset = Dataset(str(root))
    assert dataset.num_tiles == sum(range(1, len(LISTED) + 1))
    assert dataset.problems() == []
    for i, name in enumerate(LISTED):
        tfr = sf.TFRecord(str(root / name))
        assert len(tfr) == i + 1 and tfr[0]["slide"] == f"s{i}"


def test_a_compressed_file_names_its_slide_without_either_extension(tmp_path: Path) -> None:
    """`a.tfrecords.gz` is slide `a` in the catalog, as `a.tfrecords` is: one name in the filter,
    the tree and `Dataset.slides()`."""
    root = _folder(tmp_path / "d")
    slides = {Path(e.path).name: e.slide for e in discover([str(root)]).files}
    for name, slide in slides.items():
        assert "." not in slide, (name, slide)
    assert sorted(Dataset(str(root)).slides()) == sorted(slides.values())


def test_the_cli_lists_every_spelling(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = _folder(tmp_path / "d")
    assert cli.main(["summary", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["num_tiles"] == 21 and len(summary["tfrecords"]) == len(LISTED)
    assert cli.main(["index", str(root), "--json"]) == 0
    indexed = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in indexed] == LISTED
    assert [r["records"] for r in indexed] == [1, 2, 3, 4, 5, 6]
    assert cli.main(["verify", str(root), "--json"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in verified["files"]] == LISTED and verified["ok"]
    assert cli.main(["summary", str(root / "c.tfr")]) == 0  # a single file of another spelling
    capsys.readouterr()


@pytest.mark.parametrize("text", [b"abcdefgh", b"hello", b"hello world, this is text\n"])
def test_a_text_file_is_not_a_tfrecord_file(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "notes.tfrecords"
    path.write_bytes(text)
    report = verify(path)
    assert not report.ok and "not a TFRecord file" in report.problems[0].reason
    assert "truncated" not in report.problems[0].reason
    with pytest.raises(sf.TFRecordError, match="not a TFRecord file"):
        sf.TFRecord(str(path))


def test_a_real_file_cut_inside_a_header_is_still_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.tfrecords"
    write_tfrecord_py(path, [tile_record(i) for i in range(3)])
    whole = path.read_bytes()
    path.write_bytes(whole + frame_py(b"x" * 40)[:8])  # a fourth record cut after its length
    report = verify(path)
    assert report.records_ok == 3
    assert report.problems[0].reason.startswith("truncated record header (8 of 12 bytes)")
    path.write_bytes(frame_py(b"x" * 40)[:8])  # the first record of a file cut after 8 bytes
    assert verify(path).problems[0].reason.startswith("truncated record header")


def test_a_first_header_with_an_impossible_length_is_not_a_tfrecord(tmp_path: Path) -> None:
    path = tmp_path / "huge.tfrecords"
    length = struct.pack("<Q", 1 << 40)
    path.write_bytes(length + struct.pack("<I", 0) + b"\0" * 100)
    assert "not a TFRecord file" in verify(path).problems[0].reason


def test_without_crc_checks_a_text_file_is_still_not_a_tfrecord(tmp_path: Path) -> None:
    path = tmp_path / "notes.tfrecords"
    path.write_text("hello world, this is text\n")
    with pytest.raises(sf.TFRecordError, match="not a TFRecord file"):
        list(sf.tfrecord_loader(str(path), verify_crc=False))
