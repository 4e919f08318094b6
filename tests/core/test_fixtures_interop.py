"""Files written by real TensorFlow and Slideflow read back exactly as TensorFlow parsed them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core.framing import iter_frames
from tfr_viewer.core.records import parse_example
from tfr_viewer.core.source import open_source

DATA = Path(__file__).resolve().parents[1] / "data"
GROUND_TRUTH = json.loads((DATA / "ground_truth.json").read_text())


def _expected(feature: dict):
    if "bytes_sha256" in feature:
        return "bytes", feature["bytes_sha256"]
    if "float" in feature:
        return "float", feature["float"]
    return "int", feature["int64"]


def _actual(values: list):
    if values and isinstance(values[0], bytes):
        return "bytes", [hashlib.sha256(v).hexdigest() for v in values]
    if values and isinstance(values[0], float):
        return "float", values
    return "int", values


@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_every_record_matches_tensorflow(name: str, tmp_path: Path) -> None:
    src = tmp_path / Path(name).name
    shutil.copy(DATA / name, src)
    expected = GROUND_TRUTH[name]
    with open_source(src) as f:
        raws = [parse_example(p) for _, _, p in iter_frames(f, src)]
    assert len(raws) == len(expected)
    for raw, truth in zip(raws, expected):
        assert sorted(raw) == sorted(truth)
        for field, feature in truth.items():
            kind, values = _expected(feature)
            got_kind, got = _actual(raw[field])
            if kind == "float":
                assert got == pytest.approx(values, rel=1e-6)
            else:
                assert (got_kind, got) == (kind, values)


@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_tfrecord_class_reads_every_fixture(name: str, tmp_path: Path) -> None:
    src = tmp_path / Path(name).name
    shutil.copy(DATA / name, src)
    tfr = sf.TFRecord(src)
    truth = GROUND_TRUTH[name]
    assert len(tfr) == tfr.length == len(truth)
    for i, record in enumerate(tfr):
        digest = hashlib.sha256(record["image_raw"]).hexdigest()
        assert digest == truth[i]["image_raw"]["bytes_sha256"][0]
        assert tfr[i]["image_raw"] == record["image_raw"]
        slide_sha = hashlib.sha256(tfr[i]["slide"].encode("utf-8")).hexdigest()
        assert slide_sha == truth[i]["slide"]["bytes_sha256"][0]
        if "loc_x" in truth[i]:
            assert record["loc_x"] == truth[i]["loc_x"]["int64"][0]
            assert record["loc_y"] == truth[i]["loc_y"]["int64"][0]
    has_loc = "loc_x" in truth[0]
    assert (tfr.locations is None) == (not has_loc)
    assert tfr.img_format == ("png" if "png" in name else "jpeg")


@pytest.mark.parametrize("stem", ["slide_000", "slide_001"])
def test_index_equals_slideflow_index(stem: str, tmp_path: Path) -> None:
    shutil.copy(DATA / "tf_jpeg" / f"{stem}.tfrecords", tmp_path)
    made = tmp_path / f"{stem}.tfrecords"
    sf.io.tfrecord2idx.create_index(str(made))
    ours = np.load(tmp_path / f"{stem}.index.npz")
    theirs = np.load(DATA / "tf_jpeg" / f"{stem}.index.npz")
    assert sorted(ours.files) == sorted(theirs.files) == ["arr_0", "locations"]
    for key in theirs.files:
        assert ours[key].dtype == theirs[key].dtype == np.int64
        np.testing.assert_array_equal(ours[key], theirs[key])


def test_slideflow_index_is_used_not_rewritten(tmp_path: Path) -> None:
    for suffix in (".tfrecords", ".index.npz"):
        shutil.copy(DATA / "tf_jpeg" / f"slide_000{suffix}", tmp_path)
    index_file = tmp_path / "slide_000.index.npz"
    before = index_file.read_bytes()
    mtime = index_file.stat().st_mtime_ns
    tfr = sf.TFRecord(tmp_path / "slide_000.tfrecords")
    assert tfr.index_info.path == index_file
    assert index_file.read_bytes() == before and index_file.stat().st_mtime_ns == mtime
    assert sf.io.tfrecord2idx.load_index(str(tmp_path / "slide_000.tfrecords")).shape == (24, 2)


def test_fields_in_file_order_and_extra_features(tmp_path: Path) -> None:
    shutil.copy(DATA / "tf_extra" / "extra.tfrecords", tmp_path)
    tfr = sf.TFRecord(tmp_path / "extra.tfrecords")
    assert set(tfr.fields) == {"image_raw", "slide", "loc_x", "loc_y", "label", "probs", "tile_ids"}
    record = tfr[0]
    assert record["tile_ids"] == [0, 0, 2**40]
    assert record["probs"] == [0.0, 1.0]
    assert isinstance(record["label"], bytes)
    assert any(y < 0 for _, y in tfr.locations)


def test_gzip_and_non_ascii_slide(tmp_path: Path) -> None:
    shutil.copy(DATA / "tf_extra" / "gzip.tfrecords", tmp_path)
    shutil.copy(DATA / "tf_extra" / "noloc.tfrecords", tmp_path)
    gz = sf.TFRecord(tmp_path / "gzip.tfrecords")
    assert len(gz) == 6 and gz[-1]["image_raw"] == list(gz)[-1]["image_raw"]
    assert not (tmp_path / "gzip.index.npz").exists()  # offsets of a gzip stream help nobody
    noloc = sf.TFRecord(tmp_path / "noloc.tfrecords")
    assert noloc.locations is None
    assert not noloc[0]["slide"].isascii()
    with pytest.raises(KeyError, match="no tile locations"):
        noloc.get_record_by_xy(0, 0)
