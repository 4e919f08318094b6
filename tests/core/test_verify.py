"""verify keeps going after damage and never writes; salvage copies exactly the good records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core.framing import iter_frames

from ..helpers import example_py, frame_py, read_frames_py, tile_record, write_tfrecord_py


def _damaged(tmp_path: Path, n: int = 12, flips: dict[int, int] | None = None) -> tuple[Path, list[bytes], list[int]]:
    path = tmp_path / "d.tfrecords"
    payloads = write_tfrecord_py(path, [tile_record(i) for i in range(n)])
    starts = np.cumsum([0] + [len(p) + 16 for p in payloads]).tolist()
    data = bytearray(path.read_bytes())
    for record, at in (flips or {}).items():
        data[starts[record] + at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path, payloads, starts


def test_clean_file(tmp_path: Path) -> None:
    path, _, _ = _damaged(tmp_path)
    report = sf.verify(path)
    assert report.ok and report.records_ok == 12 and report.first_bad is None


@pytest.mark.parametrize("at, reason", [(3, "length CRC"), (60, "data CRC"), (9, "length CRC")])
def test_corrupt_record_in_the_middle(tmp_path: Path, at: int, reason: str) -> None:
    path, _, starts = _damaged(tmp_path, flips={5: at})
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    report = sf.verify(path)
    assert not report.ok and report.records_ok == 11
    assert (report.first_bad.index, report.first_bad.offset) == (5, starts[5])
    assert reason in report.first_bad.reason
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_several_problems_and_semantic_ones(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tfrecords"
    good = [frame_py(example_py(tile_record(i))) for i in range(3)]
    no_image = frame_py(example_py({"slide": "s", "loc_x": 1, "loc_y": 1}))
    not_image = frame_py(example_py({"image_raw": b"nope", "slide": "s"}))
    two_images = frame_py(example_py({"image_raw": [tile_record(0)["image_raw"]] * 2, "slide": "s"}))
    path.write_bytes(good[0] + no_image + good[1] + not_image + good[2] + two_images)
    report = sf.verify(path)
    assert [(p.index, p.reason) for p in report.problems] == [
        (1, "missing required field 'image_raw'"), (5, "field 'image_raw' holds 2 values, not one")]
    with_images = sf.verify(path, check_images=True)
    assert [p.index for p in with_images.problems] == [1, 3, 5] and with_images.records_ok == 3


def test_truncated_tail_and_garbage_and_empty(tmp_path: Path) -> None:
    path, _, starts = _damaged(tmp_path)
    path.write_bytes(path.read_bytes()[: starts[7] + 20])
    report = sf.verify(path)
    assert report.records_ok == 7 and report.first_bad.index == 7
    junk = tmp_path / "junk.tfrecords"
    junk.write_bytes(bytes(range(256)) * 40)
    assert sf.verify(junk).records_ok == 0 and not sf.verify(junk).ok
    empty = tmp_path / "empty.tfrecords"
    empty.write_bytes(b"")
    assert "holds no records" in sf.verify(empty).first_bad.reason


def test_gzip_fixture(tmp_path: Path, data_dir: Path) -> None:
    report = sf.verify(data_dir / "tf_extra" / "gzip.tfrecords")
    assert report.ok and report.records_ok == 6


def test_salvage_contains_exactly_the_good_records(tmp_path: Path) -> None:
    path, payloads, _ = _damaged(tmp_path, flips={2: 70, 8: 4})
    dest = tmp_path / "saved.tfrecords"
    report = sf.salvage(path, dest)
    assert report.records_ok == 10
    assert read_frames_py(dest) == [p for i, p in enumerate(payloads) if i not in (2, 8)]
    assert sf.verify(dest).ok
    assert len(sf.TFRecord(dest).locations) == 10
    with pytest.raises(FileExistsError):
        sf.salvage(path, dest)
    with pytest.raises(ValueError, match="cannot be the source"):
        sf.salvage(path, path, overwrite=True)


def test_resync_over_a_long_damaged_stretch(tmp_path: Path) -> None:
    path = tmp_path / "long.tfrecords"
    records = [frame_py(example_py(tile_record(i))) for i in range(4)]
    filler = np.random.default_rng(3).bytes(300_000)
    path.write_bytes(records[0] + filler + records[1] + records[2])
    report = sf.verify(path)
    assert report.records_ok == 3 and len(report.problems) == 1
    with open(path, "rb") as f:
        assert sum(1 for _ in iter_frames(f, path, start=len(records[0]) + len(filler))) == 2


@pytest.mark.parametrize("payload_size", [None, 256])  # 256: the record's first length byte is zero
def test_resync_jumps_over_runs_of_zero_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload_size) -> None:
    """A zero-filled tail (crash, preallocation) is skipped at C speed, not byte by byte: no
    header inside a zero run can be valid, so none is CRC-checked."""
    from tfr_viewer.core import verify as verify_mod

    if payload_size is None:
        records = [frame_py(example_py(tile_record(i))) for i in range(3)]
    else:
        payload = next(
            p for k in range(payload_size) if len(p := example_py({"image_raw": b"x" * k, "slide": "s"})) == payload_size
        )
        records = [frame_py(payload)] * 3
        assert records[1][0] == 0  # length 256: the header starts with a zero byte
    path = tmp_path / "zeros.tfrecords"
    path.write_bytes(records[0] + bytes(3 << 20) + records[1] + records[2] + bytes(1 << 20))
    checked = []
    real = verify_mod.masked_crc32c
    monkeypatch.setattr(verify_mod, "masked_crc32c", lambda data: checked.append(1) or real(data))
    report = sf.verify(path)
    assert len(checked) < 1000  # byte by byte it was one check per zero byte: millions
    assert [p.offset for p in report.problems][:1] == [len(records[0])]
    good = [o for o, _ in report.good_offsets]
    assert good[:3] == [0, len(records[0]) + (3 << 20), len(records[0]) + (3 << 20) + len(records[1])]


def test_an_unreadable_file_is_a_problem_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Permissions cannot be relied on here: tests may run as root, so the refusal is simulated.)"""
    from tfr_viewer.core import verify as verify_mod

    good, _, _ = _damaged(tmp_path)
    locked = tmp_path / "locked.tfrecords"
    locked.write_bytes(good.read_bytes())
    real = verify_mod.open_source

    def refuse(path, storage=None):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, storage)

    monkeypatch.setattr(verify_mod, "open_source", refuse)
    reports = [sf.verify(p) for p in (good, locked)]
    assert reports[0].ok and reports[0].records_ok == 12
    assert not reports[1].ok and reports[1].first_bad.reason == "cannot read the file (Permission denied)"
