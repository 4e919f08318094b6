"""Slideflow's `sf.io` names: get_tfrecord_parser, read_and_return_record, extract_tiles,
write_tfrecords_merge, and `Dataset.build_index`, used as Slideflow scripts use them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf

from ..helpers import make_jpeg, make_png, read_frames_py, tile_record, write_tfrecord_py

DATA = Path(__file__).resolve().parents[1] / "data"


def _tiles(path: Path, n: int = 4, slide: str = "slide_a") -> Path:
    write_tfrecord_py(path, [tile_record(i, slide=slide) for i in range(n)])
    return path


def test_parser_with_a_list_returns_values_in_that_order(tmp_path: Path) -> None:
    path = _tiles(tmp_path / "a.tfrecords")
    parser = sf.io.get_tfrecord_parser(str(path), ("slide", "image_raw", "loc_x", "loc_y"))
    tfr = sf.TFRecord(str(path))
    slide, image, x, y = parser(tfr.read_payload(2))
    assert slide == "slide_a" and (x, y) == (128, 0)
    assert isinstance(image, np.ndarray) and image.shape == (64, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, sf.io.decode_image(make_jpeg(seed=2)))
    # the records tfrecord_loader yields parse the same
    loaded = list(sf.tfrecord_loader(str(path)))
    slide, image, x, y = parser(loaded[2])
    assert slide == "slide_a" and (x, y) == (128, 0) and image.shape == (64, 64, 3)


def test_parser_with_a_dict_or_none_returns_a_dict(tmp_path: Path) -> None:
    path = _tiles(tmp_path / "a.tfrecords")
    payload = sf.TFRecord(str(path)).read_payload(1)
    labelled = sf.io.get_tfrecord_parser(path, {"name": "slide", "img": "image_raw"}, decode_images=False)
    assert labelled(payload) == {"name": "slide_a", "img": make_jpeg(seed=1)}
    everything = sf.io.get_tfrecord_parser(path, decode_images=False)
    assert everything(payload) == {"image_raw": make_jpeg(seed=1), "loc_x": 64, "loc_y": 0, "slide": "slide_a"}


def test_parser_names_what_the_file_lacks_and_locations_may_be_missing() -> None:
    noloc = DATA / "tf_extra/noloc.tfrecords"  # written by TensorFlow: image_raw and slide only
    with pytest.raises(sf.TFRecordError, match="label"):
        sf.io.get_tfrecord_parser(str(noloc), ["slide", "label"])
    parser = sf.io.get_tfrecord_parser(str(noloc), ["slide", "loc_x", "loc_y"])
    payload = sf.TFRecord(str(noloc), create_index=False).read_payload(0)
    slide, x, y = parser(payload)
    assert isinstance(slide, str) and x is None and y is None
    with pytest.raises(ValueError, match="not provided"):
        sf.io.get_tfrecord_parser(str(noloc), augment="xyr")
    sized = sf.io.get_tfrecord_parser(str(noloc), ["image_raw"], img_size=3)
    with pytest.raises(sf.TFRecordError, match="not 3x3"):
        sized(payload)


def test_read_and_return_record_reassigns_the_slide_and_writes_again(tmp_path: Path) -> None:
    source = DATA / "tf_jpeg/slide_000.tfrecords"
    parser = sf.io.get_tfrecord_parser(str(source), decode_images=False)
    out = tmp_path / "renamed.tfrecords"
    same = tmp_path / "same.tfrecords"
    with sf.TFRecord(str(source), create_index=False) as tfr, sf.io.TFRecordWriter(out) as writer, \
            sf.io.TFRecordWriter(same) as copy:
        for i in range(len(tfr)):
            writer.write(sf.io.read_and_return_record(tfr.read_payload(i), parser, assign_slide="renamed"))
            copy.write(sf.io.read_and_return_record(tfr.read_payload(i), parser))
    assert same.read_bytes() == source.read_bytes()  # parsed and written again: TensorFlow's bytes
    renamed = sf.TFRecord(str(out))
    original = sf.TFRecord(str(source), create_index=False)
    assert len(renamed) == len(original)
    assert renamed[3] == {**original[3], "slide": "renamed"}
    decoding = sf.io.get_tfrecord_parser(str(source))
    with pytest.raises(ValueError, match="decode_images=False"):
        sf.io.read_and_return_record(original.read_payload(0), decoding)


def test_extract_tiles_writes_each_slides_images_into_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tfrecords"
    write_tfrecord_py(path, [tile_record(0, "s1"), tile_record(1, "s2"), tile_record(2, "../escape"),
                             tile_record(3, "s1", png=True)])
    report = sf.io.extract_tiles(str(path), tmp_path / "out")
    assert report.skipped == []
    got = sorted(os.path.relpath(p, tmp_path / "out") for p in report.written)
    assert got == ["_escape/_escape_128-0.jpg", "s1/s1_0-0.jpg", "s1/s1_192-0.png", "s2/s2_64-0.jpg"]
    assert (tmp_path / "out/s1/s1_192-0.png").read_bytes() == make_png(seed=3)
    assert (tmp_path / "out/s2/s2_64-0.jpg").read_bytes() == make_jpeg(seed=1)
    assert not (tmp_path / "escape").exists()


def test_write_tfrecords_merge_labels_each_folders_tiles(tmp_path: Path) -> None:
    src = tmp_path / "tiles"
    for slide, count in (("b_slide", 2), ("a_slide", 3)):
        (src / slide).mkdir(parents=True)
        for i in range(count):
            (src / slide / f"t_{i}-{10 * i}.jpg").write_bytes(make_jpeg(8, 8, seed=i))
    report = sf.io.write_tfrecords_merge(str(src), str(tmp_path / "out"), "merged.tfrecords")
    assert report.tiles == 5 and [w.path for w in report.written] == [str(tmp_path / "out/merged.tfrecords")]
    assert len(read_frames_py(tmp_path / "out/merged.tfrecords")) == 5
    tfr = sf.TFRecord(str(tmp_path / "out/merged.tfrecords"))
    assert [(r["slide"], r["loc_x"], r["loc_y"]) for r in tfr] == [
        ("a_slide", 0, 0), ("a_slide", 1, 10), ("a_slide", 2, 20), ("b_slide", 0, 0), ("b_slide", 1, 10)]
    assert tfr[4]["image_raw"] == make_jpeg(8, 8, seed=1)
    with pytest.raises(FileExistsError):
        sf.io.write_tfrecords_merge(str(src), str(tmp_path / "out"), "merged.tfrecords")


def test_dataset_build_index_is_rebuild_index_and_can_build_only_what_is_missing(tmp_path: Path) -> None:
    a, b = _tiles(tmp_path / "a.tfrecords", 3), _tiles(tmp_path / "b.tfrecords", 5)
    sf.io.tfrecord2idx.create_index(str(a))
    before = (tmp_path / "a.index.npz").stat().st_mtime_ns
    dataset = sf.Dataset(str(tmp_path))
    assert dataset.build_index(force=False) == []
    assert (tmp_path / "b.index.npz").exists() and (tmp_path / "a.index.npz").stat().st_mtime_ns == before
    np.savez(tmp_path / "a.index.npz", arr_0=np.array([[0, 10]], dtype=np.int64))  # stale
    assert dataset.build_index() == []  # force=True by default, as Slideflow
    assert len(np.load(tmp_path / "a.index.npz")["arr_0"]) == 3
    assert sf.io.tfrecord2idx.load_index(str(b)).shape == (5, 2)


def test_a_parser_is_made_from_the_first_record_alone(tmp_path: Path) -> None:
    """Slideflow reads one record to learn the fields: a file damaged further on still gives a
    parser (its records read until the damage), and no index is written to make one."""
    path = _tiles(tmp_path / "a.tfrecords", 3)
    path.write_bytes(path.read_bytes() + b"\x01\x02\x03")  # a cut header after the last record
    parser = sf.io.get_tfrecord_parser(str(path), ["slide", "loc_x"], decode_images=False)
    assert not (tmp_path / "a.index.npz").exists()
    records = []
    with pytest.raises(sf.TFRecordError, match="truncated record header"):
        for record in sf.tfrecord_loader(str(path)):
            records.append(parser(record))
    assert records == [["slide_a", 0], ["slide_a", 64], ["slide_a", 128]]
    empty = tmp_path / "empty.tfrecords"
    empty.write_bytes(b"")
    with pytest.raises(sf.TFRecordError, match="empty file"):
        sf.io.get_tfrecord_parser(str(empty))
