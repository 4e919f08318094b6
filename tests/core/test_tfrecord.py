"""The TFRecord class on files written by the independent test writer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import index as index_mod
from tfr_viewer.core.storage import LocalStorage

from ..helpers import make_jpeg, tile_record, write_tfrecord_py


@pytest.fixture
def tfr_path(tmp_path: Path) -> Path:
    path = tmp_path / "slide_a.tfrecords"
    write_tfrecord_py(path, [tile_record(i) for i in range(30)])
    return path


def test_attributes_like_slideflow(tfr_path: Path) -> None:
    tfr = sf.TFRecord(tfr_path)
    assert sorted(tfr.fields) == ["image_raw", "loc_x", "loc_y", "slide"]
    assert tfr.img_format == "jpeg"
    assert tfr.length == len(tfr) == 30
    assert tfr.locations[:3] == [(0, 0), (64, 0), (128, 0)]
    assert tfr[0] == {"image_raw": make_jpeg(seed=0), "slide": "slide_a", "loc_x": 0, "loc_y": 0}
    assert tfr[-1] == tfr[29]
    assert (tfr_path.parent / "slide_a.index.npz").is_file()


def test_out_of_range_and_bad_index_type(tfr_path: Path) -> None:
    tfr = sf.TFRecord(tfr_path)
    for bad in (30, -31, 10**12):
        with pytest.raises(IndexError):
            tfr[bad]
    with pytest.raises(TypeError):
        tfr["0"]  # type: ignore[index]


def test_get_record_by_xy(tfr_path: Path) -> None:
    tfr = sf.TFRecord(tfr_path)
    slide, image = tfr.get_record_by_xy(128, 64)
    assert (slide, image) == ("slide_a", make_jpeg(seed=12))
    with pytest.raises(KeyError, match=r"\(5, 5\)"):
        tfr.get_record_by_xy(5, 5)
    assert tfr.get_record_by_xy(np.int64(128), 64.0) == (slide, image)  # whole numbers of any type
    with pytest.raises(KeyError, match=r"\(128.5, 64\)"):  # not the tile at 128: no tile is there
        tfr.get_record_by_xy(128.5, 64)
    with pytest.raises(TypeError):
        tfr.get_record_by_xy("128", "64")


def test_index_without_locations_has_them_read_from_the_records(tfr_path: Path) -> None:
    """Slideflow's `.index.npy` and text `.index` hold offsets only; the tiles still have places."""
    offsets = sf.TFRecord(tfr_path, create_index=False).index_info.offsets
    expected = sf.TFRecord(tfr_path, create_index=False).locations
    stem = str(tfr_path)[: -len(".tfrecords")]
    np.save(stem + ".index.npy", offsets)
    tfr = sf.TFRecord(tfr_path)
    assert tfr.index_info.path == Path(stem + ".index.npy") and tfr.index_info.locations is None
    assert tfr.locations == expected and tfr.locations[12] == (128, 64)
    assert tfr.get_record_by_xy(128, 64) == ("slide_a", make_jpeg(seed=12))
    assert not Path(stem + ".index.npz").exists()  # found index kept as it is, nothing written


def test_locations_of_a_damaged_file_are_none_not_an_error(tmp_path: Path) -> None:
    """The records are read for locations only when a file's index lacks them; a damaged record
    then means no locations (its own error comes when it is read), never an error here."""
    from ..helpers import example_py, frame_py

    path = tmp_path / "bad.tfrecords"
    good = [example_py(tile_record(i)) for i in range(3)]
    path.write_bytes(frame_py(good[0]) + frame_py(b"\xff\xff") + frame_py(good[2]))
    offsets = np.array([[0, len(good[0]) + 16], [len(good[0]) + 16, 18], [len(good[0]) + 34, len(good[2]) + 16]])
    np.save(tmp_path / "bad.index.npy", offsets)
    tfr = sf.TFRecord(path)
    assert tfr.index_info.path == tmp_path / "bad.index.npy"
    assert tfr.locations is None
    with pytest.raises(KeyError):
        tfr.get_record_by_xy(0, 0)
    with pytest.raises(sf.TFRecordError, match="record 1"):
        tfr[1]


def test_index_given_as_array_or_path_is_checked_not_trusted(tfr_path: Path, tmp_path: Path) -> None:
    sf.io.tfrecord2idx.create_index(tfr_path)
    arr = sf.io.tfrecord2idx.load_index(tfr_path)
    index_file = tfr_path.parent / "slide_a.index.npz"
    assert len(sf.TFRecord(tfr_path, index=arr)) == len(sf.TFRecord(tfr_path, index=str(index_file))) == 30
    assert sf.TFRecord(tfr_path, index=index_file).locations[12] == (128, 64)
    shifted = arr.copy()
    shifted[:, 0] += 1
    with pytest.raises(sf.TFRecordError, match="slide_a.tfrecords: the index given does not fit this file"):
        sf.TFRecord(tfr_path, index=shifted)
    with pytest.raises(sf.TFRecordError, match="slide_a.tfrecords: the index given does not fit"):
        sf.TFRecord(tfr_path, index=arr[:-1])
    with pytest.raises(sf.TFRecordError, match=r"\(n, 2\) integer array"):
        sf.TFRecord(tfr_path, index=np.zeros((3, 3)))
    with pytest.raises(sf.TFRecordError, match="cannot use the index given"):
        sf.TFRecord(tfr_path, index=tmp_path / "missing.index.npz")


def test_create_index_false_writes_nothing(tfr_path: Path) -> None:
    tfr = sf.TFRecord(tfr_path, create_index=False)
    assert len(tfr) == 30 and tfr.index_info.path is None
    assert not (tfr_path.parent / "slide_a.index.npz").exists()


def test_one_handle_reused(tfr_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tfr = sf.TFRecord(tfr_path)
    opened: list[str] = []
    real_open = open

    def counting_open(*args, **kwargs):
        opened.append(str(args[0]))
        return real_open(*args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    for i in range(30):
        tfr[i]
    assert opened == []


def test_stale_index_is_rebuilt_not_trusted(tfr_path: Path) -> None:
    sf.TFRecord(tfr_path).close()
    index_file = tfr_path.parent / "slide_a.index.npz"
    with open(tfr_path, "ab") as f:  # a job appended records after the index was made
        from ..helpers import example_py, frame_py

        f.write(frame_py(example_py(tile_record(30))))
    assert index_mod.find_index(tfr_path) is None
    tfr = sf.TFRecord(tfr_path)
    assert len(tfr) == 31
    assert np.load(index_file)["arr_0"].shape == (31, 2)


def test_corrupt_index_is_rebuilt(tfr_path: Path) -> None:
    index_file = tfr_path.parent / "slide_a.index.npz"
    index_file.write_bytes(b"PK\x03\x04 definitely not a zip")
    tfr = sf.TFRecord(tfr_path)
    assert len(tfr) == 30
    assert np.load(index_file)["arr_0"].shape == (30, 2)


def test_stale_index_with_wrong_lengths_raises_on_read(tfr_path: Path) -> None:
    """An index whose lengths sum right but cut records wrongly is caught at read time."""
    sf.TFRecord(tfr_path).close()
    info = index_mod.find_index(tfr_path)
    bad = info.offsets.copy()
    bad[0, 1] += 1
    bad[1, 0] += 1
    bad[1, 1] -= 1
    tfr = sf.TFRecord(tfr_path, index=index_mod.IndexInfo(bad, None))
    with pytest.raises(sf.TFRecordError, match=r"record 1, byte offset"):
        tfr.read_payload(1)
    with pytest.raises(sf.TFRecordError, match="stale index"):
        tfr[1]


def test_older_index_forms(tfr_path: Path) -> None:
    offsets = index_mod.iter_scan  # noqa: F841  (just checking the import name is stable)
    info = sf.TFRecord(tfr_path, create_index=False).index_info
    stem = str(tfr_path)[: -len(".tfrecords")]
    np.savetxt(stem + ".index", info.offsets, fmt="%d")
    assert index_mod.find_index(tfr_path).path == Path(stem + ".index")
    os.remove(stem + ".index")
    np.save(stem + ".index.npy", info.offsets)
    found = index_mod.find_index(tfr_path)
    assert found.path == Path(stem + ".index.npy") and found.locations is None
    np.testing.assert_array_equal(found.offsets, info.offsets)


def test_index_is_named_after_the_name_without_its_last_extension(tmp_path: Path) -> None:
    """As Slideflow names it (its path_to_name): `a.tfrecord` -> `a.index.npz`, both ways."""
    single = tmp_path / "a.tfrecord"
    write_tfrecord_py(single, [tile_record(i) for i in range(3)])
    written = sf.io.tfrecord2idx.create_index(single)
    assert written == str(tmp_path / "a.index.npz") and os.path.isfile(written)
    assert not (tmp_path / "a.tfrecord.index.npz").exists()
    assert sf.TFRecord(single).index_info.path == Path(written)
    dotted = tmp_path / "case.v2.tfrecords"
    write_tfrecord_py(dotted, [tile_record(i) for i in range(2)])
    np.savetxt(tmp_path / "case.v2.index", sf.TFRecord(dotted, create_index=False).index_info.offsets, fmt="%d")
    assert index_mod.find_index(dotted).path == tmp_path / "case.v2.index"  # another tool's index is found
    bare = tmp_path / "noext"
    write_tfrecord_py(bare, [tile_record(0)])
    assert sf.io.tfrecord2idx.create_index(bare) == str(tmp_path / "noext.index.npz")


def test_index_of_records_without_locations_stores_an_empty_locations_array(tmp_path: Path) -> None:
    path = tmp_path / "noloc.tfrecords"
    write_tfrecord_py(path, [{"image_raw": make_jpeg(seed=i), "slide": "s"} for i in range(3)])
    sf.io.tfrecord2idx.create_index(path)
    with np.load(tmp_path / "noloc.index.npz") as archive:
        assert sorted(archive.files) == ["arr_0", "locations"] and archive["locations"].size == 0
        assert archive["arr_0"].shape == (3, 2)
    assert sf.TFRecord(path).locations is None


def test_index_whose_locations_do_not_pair_up_is_kept_and_read_as_no_locations(tmp_path: Path) -> None:
    """Records with loc_x only: another tool stores (n, 1) locations. The offsets are right, so
    the index is used as it is and never rewritten."""
    path = tmp_path / "onlyx.tfrecords"
    write_tfrecord_py(path, [{"image_raw": make_jpeg(seed=i), "slide": "s", "loc_x": i} for i in range(3)])
    offsets = sf.TFRecord(path, create_index=False).index_info.offsets
    index_file = tmp_path / "onlyx.index.npz"
    np.savez(index_file, offsets, locations=np.array([[0], [1], [2]]))
    before = index_file.read_bytes()
    tfr = sf.TFRecord(path)
    assert tfr.index_info.path == index_file and tfr.locations is None
    np.testing.assert_array_equal(sf.io.tfrecord2idx.load_index(path), offsets)
    sf.io.tfrecord2idx.create_index(path)
    assert index_file.read_bytes() == before


def test_zero_byte_index_means_no_records(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tfrecords"
    empty.write_bytes(b"")
    (tmp_path / "empty.index").write_bytes(b"")
    assert index_mod.find_index(empty).offsets.shape == (0, 2)
    with pytest.raises(sf.TFRecordError, match="empty.tfrecords: empty file"):
        sf.TFRecord(empty)


def test_read_only_folder_uses_cache(tfr_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(cache))
    real = LocalStorage.atomic_output

    def refuse_user_folder(self, dest, overwrite=True):
        if Path(dest).parent == tfr_path.parent:
            raise PermissionError(13, "Permission denied", str(dest))
        return real(self, dest, overwrite)

    monkeypatch.setattr(LocalStorage, "atomic_output", refuse_user_folder)
    tfr = sf.TFRecord(tfr_path)
    assert not (tfr_path.parent / "slide_a.index.npz").exists()
    assert tfr.index_info.path is not None and cache in tfr.index_info.path.parents
    assert index_mod.find_index(tfr_path).path == tfr.index_info.path


def test_threads_share_one_object(tfr_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tfr = sf.TFRecord(tfr_path)
    expected = [make_jpeg(seed=i) for i in range(30)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: tfr[i % 30]["image_raw"], range(600)))
    assert got == [expected[i % 30] for i in range(600)]


def test_fields_follow_the_stored_order(tmp_path: Path) -> None:
    from tfr_viewer.core.framing import write_record
    from tfr_viewer.core.records import make_example

    path = tmp_path / "ordered.tfrecords"
    with open(path, "wb") as f:
        write_record(f, make_example({"image_raw": make_jpeg(), "slide": "s", "loc_x": 1, "loc_y": 2}))
    assert sf.TFRecord(path).fields == ["image_raw", "slide", "loc_x", "loc_y"]
    assert list(sf.TFRecord(path)[0]) == ["image_raw", "slide", "loc_x", "loc_y"]


def test_create_index_never_rewrites_a_valid_index(tfr_path: Path) -> None:
    sf.io.tfrecord2idx.create_index(str(tfr_path))
    index_file = tfr_path.parent / "slide_a.index.npz"
    before = (index_file.read_bytes(), index_file.stat().st_mtime_ns)
    sf.io.tfrecord2idx.create_index(str(tfr_path))
    sf.Dataset(tfr_path.parent).rebuild_index()
    assert (index_file.read_bytes(), index_file.stat().st_mtime_ns) == before


def test_index_of_another_file_of_the_same_size_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "replaced.tfrecords"
    image = make_jpeg(seed=1)
    write_tfrecord_py(path, [{"image_raw": image, "slide": "a", "loc_x": i, "loc_y": 0} for i in range(4)])
    size = path.stat().st_size
    assert len(sf.TFRecord(path)) == 4  # writes the index beside
    # the same total size in two records: the old index's last offset falls inside the second
    second = [{"image_raw": image, "slide": "b", "loc_x": 0, "loc_y": 0}, {"image_raw": image, "slide": "b"}]
    for _ in range(3):  # the padding changes a varint length now and then: settle it
        write_tfrecord_py(path, second)
        second[1]["image_raw"] += b"\0" * (size - path.stat().st_size)
    write_tfrecord_py(path, second)
    assert path.stat().st_size == size
    tfr = sf.TFRecord(path)
    assert len(tfr) == 2
    assert [tfr[i]["image_raw"] for i in range(2)] == [r["image_raw"] for r in second]


def test_index_of_a_file_with_the_same_size_count_and_end_records_is_rebuilt(tmp_path: Path) -> None:
    """Same size, same count, same first and last record lengths: the headers sampled between
    them do not match the old index, so it is rebuilt instead of reading records at wrong offsets."""
    small, big = make_jpeg(16, 16, seed=1), make_jpeg(64, 64, seed=2)
    a = tmp_path / "a.tfrecords"
    b = tmp_path / "b.tfrecords"
    images_a = [small, big, small, big, small, big, small]
    images_b = [small, small, big, big, small, big, small]  # the same tiles in another order
    write_tfrecord_py(a, [{"image_raw": im, "slide": "s", "loc_x": 0, "loc_y": 0} for im in images_a])
    write_tfrecord_py(b, [{"image_raw": im, "slide": "s", "loc_x": 0, "loc_y": 0} for im in images_b])
    assert a.stat().st_size == b.stat().st_size
    sf.io.tfrecord2idx.create_index(str(a))
    (tmp_path / "b.index.npz").write_bytes((tmp_path / "a.index.npz").read_bytes())
    with sf.TFRecord(b) as tfr:
        assert [tfr[i]["image_raw"] for i in range(len(tfr))] == images_b
    with np.load(tmp_path / "b.index.npz") as rebuilt, np.load(tmp_path / "a.index.npz") as original:
        assert rebuilt["arr_0"][:, 1].tolist() != original["arr_0"][:, 1].tolist()
