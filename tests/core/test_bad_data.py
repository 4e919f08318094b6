"""Damaged files raise TFRecordError naming the file and the record or byte offset; nothing hangs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import framing
from tfr_viewer.core.index import IndexInfo

from ..helpers import example_py, frame_py, make_jpeg, tile_record, write_tfrecord_py

N = 6


def _good(tmp_path: Path, name: str = "t.tfrecords") -> tuple[Path, bytes, list[int]]:
    path = tmp_path / name
    payloads = write_tfrecord_py(path, [tile_record(i) for i in range(N)])
    starts = np.cumsum([0] + [len(p) + 16 for p in payloads]).tolist()
    return path, path.read_bytes(), starts


def _expect(path: Path, pattern: str) -> sf.TFRecordError:
    with pytest.raises(sf.TFRecordError, match=pattern) as info:
        tfr = sf.TFRecord(path)
        for i in range(len(tfr)):
            tfr[i]
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    return info.value


def test_truncated_header(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    path.write_bytes(data[: starts[3] + 5])
    err = _expect(path, "record 3.*truncated record header")
    assert err.offset == starts[3]


def test_truncated_payload(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    path.write_bytes(data[: starts[4] + 100])
    err = _expect(path, "record 4.*exceeds")
    assert err.offset == starts[4]


def test_flipped_payload_byte_is_data_crc_error(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    buf = bytearray(data)
    buf[starts[2] + 40] ^= 0x01
    path.write_bytes(bytes(buf))
    err = _expect(path, "record 2.*data CRC")
    assert err.index == 2 and err.offset == starts[2]


def test_flipped_length_byte_is_length_crc_error(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    buf = bytearray(data)
    buf[starts[1] + 6] ^= 0xFF  # a huge claimed length: must not allocate it
    path.write_bytes(bytes(buf))
    _expect(path, "record 1.*length CRC")
    with open(path, "rb") as f:  # without CRC checks the size guard still refuses it
        with pytest.raises(sf.TFRecordError, match="exceeds"):
            list(framing.iter_frames(f, path, verify_crc=False))


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.tfrecords"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    err = _expect(path, "record 0")
    assert err.offset == 0


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tfrecords"
    path.write_bytes(b"")
    _expect(path, "empty file")


def test_payload_that_is_not_a_protobuf(tmp_path: Path) -> None:
    path = tmp_path / "notproto.tfrecords"
    good = frame_py(example_py(tile_record(0)))
    path.write_bytes(good + frame_py(b"\xff\xff\xff\xff not a protobuf"))
    _expect(path, "record 1.*not a tf.train.Example")


def test_missing_image_raw(tmp_path: Path) -> None:
    path = tmp_path / "noimage.tfrecords"
    write_tfrecord_py(path, [{"slide": "s", "loc_x": 1, "loc_y": 2}])
    _expect(path, "record 0.*no image_raw")


def test_several_image_raw_values_are_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "two.tfrecords"
    write_tfrecord_py(path, [{"image_raw": [make_jpeg(seed=0), make_jpeg(seed=1)], "slide": "s"}])
    _expect(path, "two.tfrecords, record 0.*image_raw holds 2 values, not one image")
    with pytest.raises(sf.TFRecordError, match="record 0.*image_raw holds 2 values"):
        list(sf.TFRecord(path))


def test_image_raw_that_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notimage.tfrecords"
    write_tfrecord_py(path, [{"image_raw": b"hello", "slide": "s", "loc_x": 1, "loc_y": 2}])
    tfr = sf.TFRecord(path)
    with pytest.raises(sf.TFRecordError, match="record 0.*neither JPEG nor PNG"):
        tfr.img_format
    with pytest.raises(sf.TFRecordError, match="do not decode"):
        sf.io.decode_image(tfr[0]["image_raw"])
    with pytest.raises(sf.TFRecordError, match="do not decode"):
        sf.io.decode_image(make_jpeg()[:100])


def test_stale_index_array_given_to_reader(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    offsets = np.array([[s, e - s] for s, e in zip(starts, starts[1:])], dtype=np.int64)
    offsets[3] = [starts[3] + 8, offsets[3][1]]  # points into the middle of a record
    tfr = sf.TFRecord(path, index=IndexInfo(offsets, None))
    with pytest.raises(sf.TFRecordError, match="record 3") as info:
        tfr[3]
    assert str(path) in str(info.value)


def test_corrupt_index_file_is_not_trusted(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    np.savez(tmp_path / "t.index.npz", np.array([[0, 10], [10, 10]]))
    tfr = sf.TFRecord(path)  # detected as not matching the file, rebuilt
    assert len(tfr) == N and tfr[N - 1]["image_raw"] == make_jpeg(seed=N - 1)


@pytest.mark.parametrize("length", [2**63 - 1, 2**40, 10**9])
def test_huge_claimed_length_is_refused_before_allocating(tmp_path: Path, length: int) -> None:
    path = tmp_path / "huge.tfrecords"
    header = struct.pack("<Q", length)
    path.write_bytes(header + struct.pack("<I", framing.masked_crc32c(header)) + b"x" * 100)
    _expect(path, "exceeds")


def test_errors_name_record_when_reading_good_records_first(tmp_path: Path) -> None:
    path, data, starts = _good(tmp_path)
    buf = bytearray(data)
    buf[starts[5] + 30] ^= 0x10
    path.write_bytes(bytes(buf))
    seen = []
    with pytest.raises(sf.TFRecordError, match="record 5"):
        with open(path, "rb") as f:
            for offset, _, _ in framing.iter_frames(f, path):
                seen.append(offset)
    assert seen == starts[:5]


def _gzip_file(tmp_path: Path, name: str, n: int = N) -> tuple[Path, list[bytes]]:
    import gzip

    plain = tmp_path / "plain.tfrecords"
    payloads = write_tfrecord_py(plain, [tile_record(i) for i in range(n)])
    path = tmp_path / name
    path.write_bytes(gzip.compress(plain.read_bytes()))
    return path, payloads


def test_truncated_gzip_yields_the_records_before_the_cut_then_names_it(tmp_path: Path) -> None:
    path, payloads = _gzip_file(tmp_path, "cut.tfrecords")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])  # an interrupted copy
    got = []
    with pytest.raises(sf.TFRecordError, match=r"cut.tfrecords, record \d+, byte offset \d+: .*gzip stream is truncated"):
        for record in sf.tfrecord_loader(path):
            got.append(bytes(record["image_raw"]))
    assert 0 < len(got) < N and got == [tile_record(i)["image_raw"] for i in range(len(got))]
    report = sf.verify(path)
    assert report.records_ok == len(got) and not report.ok
    assert any("gzip stream is truncated" in p.reason for p in report.problems)
    assert path.read_bytes() == data[: int(len(data) * 0.7)]  # never written to


def test_gzip_members_and_zero_padding_read_as_one_stream(tmp_path: Path) -> None:
    import gzip

    path, _ = _gzip_file(tmp_path, "whole.tfrecords")
    plain = (tmp_path / "plain.tfrecords").read_bytes()
    half = len(frame_py(example_py(tile_record(0)))) * 2
    joined = tmp_path / "joined.tfrecords"
    joined.write_bytes(gzip.compress(plain[:half]) + gzip.compress(plain[half:]) + bytes(512))
    assert [r["image_raw"] for r in sf.TFRecord(joined)] == [tile_record(i)["image_raw"] for i in range(N)]
    assert sf.verify(joined).ok


def test_gzip_bomb_is_refused_before_it_takes_the_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from tfr_viewer.core import source

    monkeypatch.setattr(source, "MIN_GZIP_ALLOWANCE", 1 << 20)
    bomb = tmp_path / "bomb.tfrecords"
    bomb.write_bytes(gzip.compress(bytes(8 << 20)))  # 8 MiB of zeros in ~8 KB: over 64x
    with pytest.raises(sf.TFRecordError, match="bomb.tfrecords: gzip stream inflates to more than"):
        sf.TFRecord(bomb)
    assert not sf.verify(bomb).ok
    garbage = tmp_path / "garbage.tfrecords"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    with pytest.raises(sf.TFRecordError, match="garbage.tfrecords: corrupt gzip stream"):
        list(sf.tfrecord_loader(garbage))


def test_scan_of_a_damaged_file_keeps_the_records_after_a_bad_payload(tmp_path: Path) -> None:
    """Where the framing is sound (data CRC, not an Example), the tools show the rest of the file."""
    from tfr_viewer.core.index import iter_scan
    from tfr_viewer.core.progress import run_job

    path, data, starts = _good(tmp_path)
    damaged = bytearray(data)
    damaged[starts[2] + 100] ^= 0xFF  # inside record 2's image: the data CRC fails, it still parses
    path.write_bytes(bytes(damaged))
    info = run_job(iter_scan(path, tolerate_errors=True))
    assert len(info) == N and info.error.index == 2 and "data CRC mismatch" in info.error.reason
    assert info.locations is not None and len(info.locations) == N
    with pytest.raises(sf.TFRecordError, match="record 2"):
        sf.TFRecord(path, create_index=False, index=info)[2]
    assert sf.TFRecord(path, create_index=False, index=info)[N - 1]["image_raw"] == make_jpeg(seed=N - 1)
    with pytest.raises(sf.TFRecordError, match="record 2.*data CRC mismatch"):
        run_job(iter_scan(path))  # strict: the first error is raised
    not_example = tmp_path / "notex.tfrecords"
    payloads = [example_py(tile_record(i)) for i in range(3)]
    not_example.write_bytes(frame_py(payloads[0]) + frame_py(b"\xff\xff\xff") + frame_py(payloads[2]))
    info = run_job(iter_scan(not_example, tolerate_errors=True))
    assert len(info) == 3 and info.error.index == 1 and info.locations is None
    assert sf.TFRecord(not_example, create_index=False, index=info)[2]["image_raw"] == make_jpeg(seed=2)


@pytest.mark.parametrize("size", [1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (2 << 20) + 7])
@pytest.mark.parametrize("kind", ["random", "zeros"])
def test_gzip_inflates_piece_by_piece_to_exactly_the_stream(tmp_path: Path, size: int, kind: str) -> None:
    """Around the piece size (1 MiB), in bytes that compress badly and very well."""
    import gzip

    from tfr_viewer.core.source import open_source, source_damage

    data = np.random.default_rng(size).bytes(size) if kind == "random" else bytes(size)
    path = tmp_path / "g.tfrecords"
    path.write_bytes(gzip.compress(data))
    with open_source(path) as f:
        assert f.read() == data and source_damage(f) is None


def test_corrupt_gzip_keeps_the_records_before_the_damage(tmp_path: Path) -> None:
    """zlib fails on the piece holding the damage; what that piece gave before it is kept."""
    path, _ = _gzip_file(tmp_path, "flip.tfrecords", n=N)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # the stream's own CRC: every byte inflates, then zlib refuses the end
    path.write_bytes(bytes(data))
    got = []
    with pytest.raises(sf.TFRecordError, match="corrupt gzip stream"):
        for record in sf.tfrecord_loader(path):
            got.append(bytes(record["image_raw"]))
    assert got == [tile_record(i)["image_raw"] for i in range(N)]
    report = sf.verify(path)
    assert report.records_ok == N and [p.reason.split(" (")[0] for p in report.problems] == ["corrupt gzip stream"]


def test_gzip_of_identical_tiles_is_not_taken_for_a_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Background tiles repeat: deflate brings them to ~70-100x, far from a bomb's ~1000x."""
    import gzip

    from tfr_viewer.core import source

    monkeypatch.setattr(source, "MIN_GZIP_ALLOWANCE", 1 << 20)
    white = make_jpeg(seed=0)
    path = tmp_path / "white.tfrecords"
    plain = b"".join(frame_py(example_py({"image_raw": white, "slide": "s", "loc_x": 0, "loc_y": 0})) for _ in range(3000))
    path.write_bytes(gzip.compress(plain))
    assert len(plain) / path.stat().st_size > 64  # the old limit refused it
    assert sum(1 for _ in sf.tfrecord_loader(path)) == 3000


def test_gzip_damage_is_named_once(tmp_path: Path) -> None:
    path, _ = _gzip_file(tmp_path, "notrailer.tfrecords")
    path.write_bytes(path.read_bytes()[:-8])  # the trailer (CRC and size) is gone, all data is there
    with pytest.raises(sf.TFRecordError) as info:
        list(sf.tfrecord_loader(path))
    assert str(info.value).count("gzip stream is truncated") == 1
