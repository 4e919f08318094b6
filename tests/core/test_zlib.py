"""ZLIB-compressed TFRecords (TensorFlow's other compression) read, indexed and verified like
gzip, `compression_type=` as TensorFlow and the `tfrecord` package spell it, and compressed
output from `convert --compress`."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer import cli
from tfr_viewer.core.index import index_file
from tfr_viewer.core.source import sniff_compression
from tfr_viewer.core.verify import verify

from ..helpers import frame_py, make_jpeg, read_frames_py, tile_record, write_tfrecord_py

N = 12


def _plain(tmp_path: Path, name: str = "plain.tfrecords") -> tuple[Path, list[bytes]]:
    path = tmp_path / name
    payloads = write_tfrecord_py(path, [tile_record(i) for i in range(N)])
    return path, payloads


def _deflated(data: bytes, level: int) -> bytes:
    """What TensorFlow's ZLIB writer produces: one zlib stream (zlib header, window bits 15)."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, 15)
    return deflater.compress(data) + deflater.flush()


@pytest.mark.parametrize("level", [0, 1, 6, 9])  # headers 78 01, 78 01, 78 9c, 78 da
def test_zlib_tfrecords_read_index_and_verify_like_plain_ones(tmp_path: Path, level: int) -> None:
    plain, payloads = _plain(tmp_path)
    path = tmp_path / "z.tfrecords"
    path.write_bytes(_deflated(plain.read_bytes(), level))
    assert sniff_compression(path.read_bytes()[:12]) == "zlib"
    tfr = sf.TFRecord(str(path))
    assert len(tfr) == N
    assert [tfr.read_payload(i) for i in range(N)] == payloads
    assert tfr[3]["image_raw"] == make_jpeg(seed=3) and (tfr[3]["loc_x"], tfr[3]["loc_y"]) == (192, 0)
    assert [bytes(r["image_raw"]) for r in sf.tfrecord_loader(str(path))] == [make_jpeg(seed=i) for i in range(N)]
    result = index_file(path)
    assert result.state == "indexed" and result.records == N and result.index_path is None  # in memory only
    report = verify(path)
    assert report.ok and report.records_ok == N


def test_a_truncated_zlib_stream_keeps_the_records_before_the_damage(tmp_path: Path) -> None:
    plain, _ = _plain(tmp_path)
    data = _deflated(plain.read_bytes(), 6)
    path = tmp_path / "cut.tfrecords"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = verify(path)
    assert not report.ok and 0 < report.records_ok < N
    assert any("zlib stream is truncated" in p.reason for p in report.problems)


def test_compression_type_is_accepted_as_tensorflow_and_tfrecord_spell_it(tmp_path: Path) -> None:
    plain, payloads = _plain(tmp_path)
    zpath, gpath = tmp_path / "z.tfrecords", tmp_path / "g.tfrecords"
    zpath.write_bytes(_deflated(plain.read_bytes(), 6))
    gpath.write_bytes(gzip.compress(plain.read_bytes()))
    for path, names in ((zpath, ["zlib", "ZLIB", None, ""]), (gpath, ["gzip", "GZIP", None, ""]),
                        (plain, [None, ""])):
        for name in names:
            records = list(sf.tfrecord_loader(str(path), compression_type=name))
            assert len(records) == N, (path, name)
            assert len(sf.TFRecord(str(path), compression_type=name)) == N
    loader = sf.multi_tfrecord_loader([str(zpath), str(zpath)], None, infinite=False, compression_type="zlib")
    assert len(list(loader)) == 2 * N
    with pytest.raises(sf.TFRecordError, match="not a gzip-compressed TFRecord"):
        list(sf.tfrecord_loader(str(zpath), compression_type="gzip"))
    with pytest.raises(sf.TFRecordError, match="not a zlib-compressed TFRecord"):
        sf.TFRecord(str(plain), compression_type="zlib")
    with pytest.raises(ValueError, match="compression_type must be"):
        sf.tfrecord_loader(str(plain), compression_type="bz2")


def test_a_plain_record_whose_length_looks_like_a_zlib_header_reads_as_plain(tmp_path: Path) -> None:
    payload = b"\x0a" + b"x" * (0x5E78 - 1)  # a 24,184-byte payload: its length starts 78 5e
    path = tmp_path / "plain.tfrecords"
    path.write_bytes(frame_py(payload) * 2)
    assert path.read_bytes()[:2] == b"\x78\x5e"
    assert sniff_compression(path.read_bytes()[:12]) is None
    with sf.TFRecord(str(path), create_index=False) as tfr:
        assert len(tfr) == 2 and tfr.read_payload(1) == payload


@pytest.mark.parametrize("compress", ["gzip", "zlib"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_convert_compress_writes_what_tensorflow_reads(tmp_path: Path, capsys, compress: str, workers: str) -> None:
    src = tmp_path / "tiles"
    src.mkdir()
    count = 300 if workers == "2" else 7  # a pool starts at 256 images
    for i in range(count):
        (src / f"t_{i * 64}-{i}.jpg").write_bytes(make_jpeg(16, 16, seed=i))
    dest = tmp_path / "out"
    code = cli.main(["convert", str(src), str(dest), "--compress", compress, "--workers", workers, "--json"])
    assert code == 0
    written = json.loads(capsys.readouterr().out)["written"]
    out = dest / "tiles.tfrecords"
    data = out.read_bytes()
    assert written[0]["bytes"] == len(data) and not (dest / "tiles.index.npz").exists()
    inflated = gzip.decompress(data) if compress == "gzip" else zlib.decompress(data)  # one stream, as TF's
    raw = tmp_path / "inflated.tfrecords"
    raw.write_bytes(inflated)
    payloads = read_frames_py(raw)  # framing checked by the independent implementation
    assert len(payloads) == count
    tfr = sf.TFRecord(str(out))
    assert tfr[5]["image_raw"] == make_jpeg(16, 16, seed=5) and tfr[5]["loc_x"] == 320
    assert verify(out).ok



def test_index_and_verify_commands_on_a_zlib_file(tmp_path: Path, capsys) -> None:
    plain, _ = _plain(tmp_path)
    path = tmp_path / "z.tfrecords"
    path.write_bytes(_deflated(plain.read_bytes(), 9))
    assert cli.main(["index", str(path), "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry == {"path": str(path), "status": "no index", "records": N,
                     "note": "zlib-compressed: read sequentially, no index written"}
    assert cli.main(["verify", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["records_ok"] == N


def test_a_zlib_bomb_is_refused_before_taking_the_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfr_viewer.core import source

    monkeypatch.setattr(source, "MIN_GZIP_ALLOWANCE", 1 << 20)
    path = tmp_path / "bomb.tfrecords"
    path.write_bytes(_deflated(b"\0" * (20 << 20), 9))  # 20 MiB of zeros in ~20 KB
    with pytest.raises(sf.TFRecordError, match="zlib stream inflates to more than"):
        sf.TFRecord(str(path))
    assert "decompression bomb" in verify(path).problems[0].reason
