"""`sf.io.TFRecordWriter` and `sf.io.serialized_record` against files TensorFlow wrote."""

from __future__ import annotations

import gc
import gzip
import zlib
from pathlib import Path

import pytest

import tfr_viewer as sf

from ..helpers import make_jpeg, read_frames_py

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = ["tf_jpeg/slide_000.tfrecords", "tf_jpeg/slide_001.tfrecords", "tf_png/slide_000.tfrecords",
            "tf_extra/extra.tfrecords", "tf_extra/noloc.tfrecords"]


def _payloads(path: Path) -> list[bytes]:
    with sf.TFRecord(str(path), create_index=False) as tfr:
        return [tfr.read_payload(i) for i in range(len(tfr))]


@pytest.mark.parametrize("name", FIXTURES)
def test_rewriting_tensorflows_records_gives_its_bytes(tmp_path: Path, name: str) -> None:
    out = tmp_path / "copy.tfrecords"
    with sf.io.TFRecordWriter(str(out)) as writer:
        for payload in _payloads(DATA / name):
            writer.write(payload)
    assert out.read_bytes() == (DATA / name).read_bytes()


def test_gzip_output_is_byte_identical_to_tensorflows(tmp_path: Path) -> None:
    source = DATA / "tf_extra/gzip.tfrecords"  # written by tf.io.TFRecordWriter(..., options="GZIP")
    out = tmp_path / "copy.tfrecords"
    with sf.io.TFRecordWriter(out, options="GZIP") as writer:
        for payload in _payloads(source):
            writer.write(payload)
    assert out.read_bytes() == source.read_bytes()


def test_zlib_output_is_one_zlib_stream_of_tensorflows_framing(tmp_path: Path) -> None:
    payloads = _payloads(DATA / "tf_jpeg/slide_000.tfrecords")
    out = tmp_path / "z.tfrecords"

    class Options:  # what tf.io.TFRecordOptions carries
        compression_type = "ZLIB"

    with sf.io.TFRecordWriter(out, Options()) as writer:
        for payload in payloads:
            writer.write(payload)
    raw = tmp_path / "raw.tfrecords"
    raw.write_bytes(zlib.decompress(out.read_bytes()))
    assert raw.read_bytes() == (DATA / "tf_jpeg/slide_000.tfrecords").read_bytes()
    assert read_frames_py(raw) == payloads
    assert _payloads(out) == payloads  # and our reader inflates it


@pytest.mark.parametrize("name", ["tf_jpeg/slide_000.tfrecords", "tf_png/slide_000.tfrecords", "tf_extra/noloc.tfrecords"])
def test_serialized_record_equals_tensorflows_example_bytes(tmp_path: Path, name: str) -> None:
    out = tmp_path / "again.tfrecords"
    with sf.TFRecord(str(DATA / name), create_index=False) as tfr, sf.io.TFRecordWriter(out) as writer:
        for i in range(len(tfr)):
            record = tfr[i]
            payload = sf.io.serialized_record(record["slide"].encode(), record["image_raw"],
                                              record.get("loc_x"), record.get("loc_y"))
            assert payload == tfr.read_payload(i)
            writer.write(payload)
    assert out.read_bytes() == (DATA / name).read_bytes()


def test_serialized_record_takes_slide_first_as_slideflow_does(tmp_path: Path) -> None:
    image = make_jpeg(seed=4)
    out = tmp_path / "t.tfrecords"
    with sf.io.TFRecordWriter(out) as writer:
        writer.write(sf.io.serialized_record(b"slide_x", image, 10, 20))
        writer.write(sf.io.serialized_record("slide_y", image))  # str slide; location (0, 0)
    tfr = sf.TFRecord(str(out))
    assert tfr[0] == {"image_raw": image, "loc_x": 10, "loc_y": 20, "slide": "slide_x"}
    assert (tfr[1]["slide"], tfr[1]["loc_x"], tfr[1]["loc_y"]) == ("slide_y", 0, 0)
    assert tfr.fields == ["image_raw", "loc_x", "loc_y", "slide"]


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_nothing_appears_before_close_and_a_failure_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "t.tfrecords"
    writer = sf.io.TFRecordWriter(out)
    writer.write(b"one")
    writer.flush()
    assert not out.exists()  # flushed to the temporary file only
    writer.close()
    assert read_frames_py(out) == [b"one"]
    writer.close()  # twice: nothing happens
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"two")

    with pytest.raises(RuntimeError, match="boom"):
        with sf.io.TFRecordWriter(out) as failing:
            failing.write(b"replacement")
            raise RuntimeError("boom")
    assert read_frames_py(out) == [b"one"] and _left(tmp_path) == ["t.tfrecords"]  # the old file untouched

    new = tmp_path / "never_closed.tfrecords"
    dropped = sf.io.TFRecordWriter(new)
    dropped.write(b"lost")
    del dropped
    gc.collect()
    assert _left(tmp_path) == ["t.tfrecords"]  # no file, no temporary left


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression_type"):
        sf.io.TFRecordWriter(tmp_path / "x.tfrecords", options="bz2")
    assert _left(tmp_path) == []
    with sf.io.TFRecordWriter(tmp_path / "g.tfrecords", options="") as writer:
        writer.write(b"plain")
    assert read_frames_py(tmp_path / "g.tfrecords") == [b"plain"]
    with sf.io.TFRecordWriter(tmp_path / "h.tfrecords", options="gzip") as writer:
        writer.write(b"packed")
    raw = tmp_path / "h.raw"
    raw.write_bytes(gzip.decompress((tmp_path / "h.tfrecords").read_bytes()))
    assert read_frames_py(raw) == [b"packed"]


def test_str_records_are_written_as_utf8(tmp_path: Path) -> None:
    out = tmp_path / "s.tfrecords"
    with sf.io.TFRecordWriter(out) as writer:
        writer.write("héllo")
    assert read_frames_py(out) == ["héllo".encode()]
