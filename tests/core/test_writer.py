"""write_tfrecords_single/multi: bit-exact round trips, reports, atomicity, determinism."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tfr_viewer as sf
from tfr_viewer.core import writer
from tfr_viewer.core.index import create_index
from tfr_viewer.core.naming import natural_key, parse_location
from tfr_viewer.core.progress import CancelToken, Cancelled
from tfr_viewer.core.records import field_order, parse_example

from ..helpers import make_jpeg, make_png, read_frames_py


def _folder(root: Path, names: list[str]) -> dict[str, bytes]:
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(names):
        data = make_png(seed=i) if name.lower().endswith(".png") else make_jpeg(seed=i)
        (root / name).write_bytes(data)
        written[name] = data
    return written


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_single_round_trip_bit_exact(tmp_path: Path) -> None:
    names = ["t_10_256-0.jpg", "t_2_0-256.JPG", "t_1_0-0.Png", "t_3_512-512.jpeg"]
    originals = _folder(tmp_path / "src", names)
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "case", "slide_é")
    out = tmp_path / "out" / "case.tfrecords"
    assert [w.path for w in report.written] == [str(out)] and report.written[0].tiles == 4
    order = sorted(names, key=natural_key)
    assert order == ["t_1_0-0.Png", "t_2_0-256.JPG", "t_3_512-512.jpeg", "t_10_256-0.jpg"]
    payloads = read_frames_py(out)  # independent CRC check of every record
    for payload, name in zip(payloads, order, strict=True):
        raw = parse_example(payload)
        assert field_order(payload) == ["image_raw", "slide", "loc_x", "loc_y"]
        assert raw["image_raw"] == [originals[name]]
        assert raw["slide"] == ["slide_é".encode()]
        assert (raw["loc_x"][0], raw["loc_y"][0]) == parse_location(name)
    ours = np.load(tmp_path / "out" / "case.index.npz")
    fresh = create_index(out, index_file=tmp_path / "fresh.index.npz")
    np.testing.assert_array_equal(ours["arr_0"], fresh.offsets)
    np.testing.assert_array_equal(ours["locations"], fresh.locations)
    assert _leftovers(tmp_path / "out") == []


def test_junk_is_skipped_with_reasons(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _folder(src, ["a_0-0.jpg"])
    (src / "notes.txt").write_text("hello")
    (src / "empty.jpg").write_bytes(b"")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (src / "sub").mkdir()
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "x", "x")
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["notes.txt"].startswith("not an image")
    assert reasons["empty.jpg"] == "zero-byte file"
    assert reasons["broken.png"].startswith("not a decodable image")
    assert report.written[0].tiles == 1


def test_other_formats_become_png_and_reencode_to_jpeg(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(src / "t_0-0.bmp")
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "bmp", "s")
    stored = sf.TFRecord(report.written[0].path)[0]["image_raw"]
    assert stored.startswith(b"\x89PNG")
    np.testing.assert_array_equal(sf.io.decode_image(stored), pixels)  # lossless
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "jpg", "s", reencode=80)
    stored = sf.TFRecord(report.written[0].path)[0]["image_raw"]
    assert stored.startswith(b"\xff\xd8\xff")
    assert Image.open(io.BytesIO(stored)).size == (16, 16)


def test_names_without_location_warn_and_store_zero(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["plain.jpg", "t_64-128.jpg"])
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "w", "w")
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (64, 128)]
    assert any("1 file name(s) did not match" in w for w in report.warnings)
    report = sf.io.write_tfrecords_single(
        tmp_path / "src", tmp_path / "out2", "w", "w", locations=r"t_(?P<y>\d+)-(?P<x>\d+)"
    )
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (128, 64)]
    with pytest.raises(ValueError, match="groups named x and y"):
        sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out3", "w", "w", locations=r"(\d+)")
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out4", "w", "w", locations=None)
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (0, 0)] and not report.warnings


def test_never_overwrites_unless_asked(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["a_0-0.jpg"])
    out = tmp_path / "out"
    sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s")
    before = (out / "same.tfrecords").read_bytes()
    _folder(tmp_path / "src", ["b_0-64.jpg"])
    with pytest.raises(FileExistsError, match="same.tfrecords"):
        sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s")
    assert (out / "same.tfrecords").read_bytes() == before
    sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s", overwrite=True)
    assert len(sf.TFRecord(out / "same.tfrecords")) == 2


def test_multi_one_file_per_folder_and_policies(tmp_path: Path) -> None:
    src = tmp_path / "nested"
    _folder(src / "slide_B", ["t_0-0.jpg", "t_0-64.jpg"])
    _folder(src / "slide_A", ["t_0-0.png"])
    (src / "loose.jpg").write_bytes(make_jpeg())
    report = sf.io.write_tfrecords_multi(src, tmp_path / "out")
    assert [(Path(w.path).name, w.slide, w.tiles) for w in report.written] == [
        ("slide_A.tfrecords", "slide_A", 1),
        ("slide_B.tfrecords", "slide_B", 2),
    ]
    assert sf.TFRecord(tmp_path / "out" / "slide_B.tfrecords")[1]["slide"] == "slide_B"
    assert any(s.reason == "not inside a slide folder" for s in report.skipped)
    with pytest.raises(FileExistsError):
        sf.io.write_tfrecords_multi(src, tmp_path / "out")
    skipped = sf.io.write_tfrecords_multi(src, tmp_path / "out", existing="skip")
    assert skipped.written == [] and sum("already exists" in s.reason for s in skipped.skipped) == 2


def test_cancel_leaves_nothing(tmp_path: Path) -> None:
    _folder(tmp_path / "src", [f"t_{i}-0.jpg" for i in range(300)])
    out = tmp_path / "out"
    token = CancelToken()
    job = writer.iter_write_tfrecords_single(tmp_path / "src", out, "c", "c", cancel=token)
    next(job)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        for _ in job:
            pass
    assert list(out.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folder(tmp_path / "src", [f"t_{i}-0.jpg" for i in range(10)])
    out = tmp_path / "out"
    real = writer.frame_record
    calls = {"n": 0}

    def disk_full(payload: bytes) -> bytes:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        return real(payload)

    monkeypatch.setattr(writer, "frame_record", disk_full)
    with pytest.raises(OSError, match="No space left"):
        sf.io.write_tfrecords_single(tmp_path / "src", out, "f", "f")
    assert list(out.iterdir()) == []
    monkeypatch.setattr(writer, "frame_record", real)

    def rename_fails(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(writer.os, "replace", rename_fails)
    with pytest.raises(PermissionError):
        sf.io.write_tfrecords_single(tmp_path / "src", out, "f", "f")
    assert list(out.iterdir()) == []


def test_output_bytes_do_not_depend_on_workers(tmp_path: Path) -> None:
    _folder(tmp_path / "src" / "s1", [f"t_{i}-{i}.jpg" for i in range(150)])
    _folder(tmp_path / "src" / "s2", [f"t_{i}-0.png" for i in range(140)])
    one = sf.io.write_tfrecords_multi(tmp_path / "src", tmp_path / "w1", workers=1)
    two = sf.io.write_tfrecords_multi(tmp_path / "src", tmp_path / "w2", workers=2)
    assert [w.tiles for w in one.written] == [w.tiles for w in two.written] == [150, 140]
    for name in ("s1.tfrecords", "s2.tfrecords"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_empty_folder_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "e", "e")
    assert report.written == [] and report.warnings
    assert not any((tmp_path / "out").iterdir())


def test_unreadable_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot read folder"):
        sf.io.write_tfrecords_single(tmp_path / "missing", tmp_path / "out", "e", "e")


def test_report_is_json_ready(tmp_path: Path) -> None:
    import json

    _folder(tmp_path / "src", ["t_0-0.jpg"])
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "j", "j")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["tiles"] == 1 and data["written"][0]["slide"] == "j"
    assert os.path.basename(data["written"][0]["index_path"]) == "j.index.npz"
