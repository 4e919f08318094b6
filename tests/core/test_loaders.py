"""tfrecord_loader and multi_tfrecord_loader: shards, clip, description, weights, exhaustion."""

from __future__ import annotations

import collections
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import loaders
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import field_order, make_example, parse_example

from ..helpers import example_py, frame_py, make_jpeg, tile_record, write_tfrecord_py


def _file(tmp_path: Path, name: str, n: int, slide: str | None = None) -> tuple[str, np.ndarray]:
    path = tmp_path / f"{name}.tfrecords"
    write_tfrecord_py(path, [tile_record(i, slide or name) for i in range(n)])
    return str(path), create_index(path).offsets


def _small_file(tmp_path: Path, name: str, n: int) -> tuple[str, np.ndarray]:
    """Many tiny records, fast to write (the framing itself is cross-checked elsewhere)."""
    path = tmp_path / f"{name}.tfrecords"
    path.write_bytes(b"".join(frame_record(make_example({"slide": name, "loc_x": i})) for i in range(n)))
    return str(path), create_index(path).offsets


def _key(record: dict) -> tuple[str, int, int]:
    return bytes(record["slide"]).decode(), int(record["loc_x"][0]), int(record.get("loc_y", [0])[0])


def _expected(raw_values: list) -> object:
    """What Slideflow's loader returns for one raw field (parse_example output)."""
    if raw_values and isinstance(raw_values[0], bytes):
        arrays = [np.frombuffer(v, np.uint8) for v in raw_values]
        return arrays[0] if len(arrays) == 1 else arrays
    if raw_values and isinstance(raw_values[0], float):
        return np.array(raw_values, np.float32)
    return np.array(raw_values, np.int64)


def _assert_same(got: object, want: object) -> None:
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w)
        return
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_record_shape_like_slideflow(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "a", 3)
    record = next(iter(sf.tfrecord_loader(path, index)))
    first = Path(path).read_bytes()[: int(index[0, 1])]
    assert list(record) == field_order(first[12:-4])  # stored order
    assert record["image_raw"].dtype == np.uint8 and bytes(record["image_raw"]) == make_jpeg(seed=0)
    assert bytes(record["slide"]).decode() == "a"
    assert record["loc_x"].dtype == np.int64 and list(record["loc_x"]) == [0]
    assert [_key(r) for r in sf.tfrecord_loader(path, None)] == [("a", 0, 0), ("a", 64, 0), ("a", 128, 0)]


def test_fields_that_change_between_records(tmp_path: Path) -> None:
    """The fast path (field layout of the record before) agrees with a plain parse on every record."""
    records = [
        {"image_raw": b"\xff\xd8a", "slide": "s", "loc_x": 1, "loc_y": 2},
        {"image_raw": b"\xff\xd8b", "slide": "s", "loc_x": 3, "loc_y": 4},
        {"image_raw": [b"x", b"yz"], "slide": "s", "loc_x": [5, -(2**63)], "loc_y": 6},
        {"image_raw": b"", "slide": "s", "loc_x": 2**63 - 1, "other": [0.5, 1.5]},
        {"image_raw": b"c", "slide": "s", "loc_x": 7, "loc_y": 8},
        {"image_raw": b"d", "slide": "s", "loc_x": 9, "loc_z": 10},
        {"loc_x": [], "slide": "t", "probs": [0.25]},
        {},
    ]
    path = tmp_path / "mixed.tfrecords"
    payloads = write_tfrecord_py(path, records)
    got = list(sf.tfrecord_loader(path))
    assert len(got) == len(records)
    for record, payload in zip(got, payloads):
        raw = parse_example(payload)
        assert sorted(record) == sorted(raw)
        for name, values in raw.items():
            _assert_same(record[name], _expected(values))


@pytest.mark.parametrize("n_shards", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n_records", [1, 7, 23])
def test_shards_are_disjoint_and_cover_everything(tmp_path: Path, n_shards: int, n_records: int) -> None:
    path, index = _file(tmp_path, "s", n_records)
    every = [_key(r) for r in sf.tfrecord_loader(path, index)]
    shards = [[_key(r) for r in sf.tfrecord_loader(path, index, shard=(i, n_shards))] for i in range(n_shards)]
    assert [k for shard in shards for k in shard] == every  # contiguous chunks, in order
    assert len(every) == len(set(every)) == n_records
    expected_sizes = [len(chunk) for chunk in np.array_split(np.arange(n_records), n_shards)]
    assert [len(s) for s in shards] == expected_sizes  # Slideflow's split


def test_shard_needs_index_and_valid_ids(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "s", 4)
    with pytest.raises(ValueError, match="shard needs an index"):
        sf.tfrecord_loader(path, None, shard=(0, 2))
    for bad in [(2, 2), (-1, 2), (0, 0), (0.5, 2), (1,), "ab"]:
        with pytest.raises(ValueError):
            sf.tfrecord_loader(path, index, shard=bad)
    for bad_clip in [-1, 1.5, "3"]:
        with pytest.raises(ValueError):
            sf.tfrecord_loader(path, index, clip=bad_clip)


def test_clip_takes_the_first_records(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "c", 10)
    assert [_key(r)[1:] for r in sf.tfrecord_loader(path, index, clip=3)] == [(0, 0), (64, 0), (128, 0)]
    assert [_key(r) for r in sf.tfrecord_loader(path, None, clip=3)] == [_key(r) for r in sf.tfrecord_loader(path, index, clip=3)]
    assert list(sf.tfrecord_loader(path, index, clip=0)) == []
    assert len(list(sf.tfrecord_loader(path, index, clip=50))) == 10
    shards = [[_key(r) for r in sf.tfrecord_loader(path, index, shard=(i, 2), clip=5)] for i in range(2)]
    assert shards[0] + shards[1] == [_key(r) for r in sf.tfrecord_loader(path, index, clip=5)]


def test_one_record_index_may_be_one_dimensional(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "one", 1)
    assert len(list(sf.tfrecord_loader(path, index[0], shard=(0, 1)))) == 1
    with pytest.raises(sf.TFRecordError, match=r"one.tfrecords.*\(n, 2\)"):
        sf.tfrecord_loader(path, np.zeros((2, 3), np.int64))


def test_description_list_and_dict(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "d", 2)
    record = next(iter(sf.tfrecord_loader(path, index, description=["image_raw", "loc_x"])))
    assert list(record) == ["image_raw", "loc_x"]
    typed = next(iter(sf.tfrecord_loader(path, index, description={"slide": "byte", "loc_y": "int"})))
    assert list(typed) == ["slide", "loc_y"] and typed["loc_y"].tolist() == [0]
    for empty in ([], {}):  # Slideflow: an empty description means every field
        assert len(next(iter(sf.tfrecord_loader(path, index, description=empty)))) == 4
    with pytest.raises(sf.TFRecordError, match=r"d.tfrecords, record 0.*'loc_x' is int, description says float"):
        next(iter(sf.tfrecord_loader(path, index, description={"loc_x": "float"})))
    with pytest.raises(sf.TFRecordError, match=r"d.tfrecords, record 0, byte offset 0: record has no field 'label'"):
        next(iter(sf.tfrecord_loader(path, index, description=["label"])))
    with pytest.raises(ValueError, match="'byte', 'int' or 'float'"):
        sf.tfrecord_loader(path, index, description={"slide": "string"})
    with pytest.raises(TypeError):
        sf.tfrecord_loader(path, index, description="slide")


def test_description_checks_every_record(tmp_path: Path) -> None:
    path = tmp_path / "typed.tfrecords"
    write_tfrecord_py(path, [{"v": 1}, {"v": 2}, {"v": 0.5}])
    got = []
    with pytest.raises(sf.TFRecordError, match=r"record 2.*'v' is float, description says int"):
        for record in sf.tfrecord_loader(path, description={"v": "int"}):
            got.append(int(record["v"][0]))
    assert got == [1, 2]
    with pytest.raises(sf.TFRecordError, match=r"record 0.*'v' is int, description says float"):
        list(sf.tfrecord_loader(path, description={"v": "float"}))
    assert [r["v"].tolist() for r in sf.tfrecord_loader(path, description=["v"])] == [[1], [2], [0.5]]


def test_every_tensorflow_fixture_reads_back_as_ground_truth(tmp_path: Path, data_dir: Path, ground_truth: dict) -> None:
    for name, expected_records in ground_truth.items():
        path = tmp_path / name.replace("/", "_")
        shutil.copy(data_dir / name, path)
        index = sf.TFRecord(path).offsets
        for loaded in (sf.tfrecord_loader(path, index), sf.tfrecord_loader(path)):
            records = list(loaded)
            assert len(records) == len(expected_records), name
            for record, expected in zip(records, expected_records):
                assert sorted(record) == sorted(expected), name
                for field, value in expected.items():
                    got = record[field]
                    if "bytes_sha256" in value:
                        arrays = got if isinstance(got, list) else [got]
                        assert [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays] == value["bytes_sha256"]
                    elif "int64" in value:
                        assert got.dtype == np.int64 and got.tolist() == value["int64"]
                    else:
                        assert got.dtype == np.float32 and got.tolist() == pytest.approx(value["float"])


def test_bad_record_mid_file_after_good_ones(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "bad", 5)
    data = bytearray(Path(path).read_bytes())
    data[int(index[3, 0]) + 40] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    for idx in (index, None):
        got = []
        with pytest.raises(sf.TFRecordError, match=rf"bad.tfrecords, record 3, byte offset {index[3, 0]}: data CRC"):
            for record in sf.tfrecord_loader(path, idx):
                got.append(_key(record))
        assert len(got) == 3
    # the shard after the damage starts at its own record number
    with pytest.raises(sf.TFRecordError, match="record 3"):
        list(sf.tfrecord_loader(path, index, shard=(1, 2)))


def test_payload_that_is_not_an_example(tmp_path: Path) -> None:
    path = tmp_path / "junk.tfrecords"
    good = example_py({"slide": "s", "loc_x": 1})
    path.write_bytes(frame_py(good) + frame_py(b"\xff\xff\xff\xff"))
    got = []
    with pytest.raises(sf.TFRecordError, match=r"junk.tfrecords, record 1, byte offset \d+: payload is not"):
        for record in sf.tfrecord_loader(path):
            got.append(record)
    assert len(got) == 1


def test_stale_index_is_refused(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "stale", 5)
    with pytest.raises(sf.TFRecordError, match="stale index"):
        list(sf.tfrecord_loader(path, index[:3]))


def test_multi_finite_yields_every_record_once(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"m{i}", n) for i, n in enumerate([5, 1, 12, 3])]
    paths, indices = zip(*files)
    every = sorted(_key(r) for p, i in files for r in sf.tfrecord_loader(p, i))
    keys = [_key(r) for r in sf.multi_tfrecord_loader(list(paths), list(indices), infinite=False, seed=1)]
    assert sorted(keys) == every and len(keys) == 21
    weighted = list(sf.multi_tfrecord_loader(paths, indices, weights=[5, 1, 1, 1], infinite=False, seed=2))
    assert sorted(map(_key, weighted)) == every
    no_index = list(sf.multi_tfrecord_loader(paths, [None, indices[1], None, None], infinite=False, seed=3))
    assert sorted(map(_key, no_index)) == every
    assert sorted(map(_key, sf.multi_tfrecord_loader(paths, None, infinite=False))) == every


def test_multi_keeps_few_files_open_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_OPEN_FILES", 2)
    files = [_small_file(tmp_path, f"f{i}", 30 + i) for i in range(6)]
    paths, indices = zip(*files)
    every = sorted(_key(r) for p, i in files for r in sf.tfrecord_loader(p, i))
    for idx in (indices, None):
        got = [_key(r) for r in sf.multi_tfrecord_loader(paths, idx, infinite=False, seed=4)]
        assert sorted(got) == every
        per_file = collections.defaultdict(list)
        for slide, x, _ in got:
            per_file[slide].append(x)
        assert all(xs == sorted(xs) for xs in per_file.values())  # each file still in order


def test_multi_shard_and_clip_per_file(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"p{i}", 10) for i in range(2)]
    paths, indices = zip(*files)
    halves = [
        [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, shard=(i, 2), infinite=False, seed=0)]
        for i in range(2)
    ]
    assert len(halves[0]) == len(halves[1]) == 10 and not set(halves[0]) & set(halves[1])
    assert len(list(sf.multi_tfrecord_loader(paths, indices, clip=2, infinite=False, seed=0))) == 4
    per_file = list(sf.multi_tfrecord_loader(paths, indices, clip=[3, 1], infinite=False, seed=0))
    assert collections.Counter(_key(r)[0] for r in per_file) == {"p0": 3, "p1": 1}
    by_path = list(sf.multi_tfrecord_loader(paths, indices, clip={paths[1]: 2}, infinite=False, seed=0))
    assert collections.Counter(_key(r)[0] for r in by_path) == {"p0": 10, "p1": 2}
    with pytest.raises(ValueError):
        sf.multi_tfrecord_loader(paths, indices, clip=[1])
    with pytest.raises(ValueError, match="shard needs an index"):
        sf.multi_tfrecord_loader(paths, [indices[0], None], shard=(0, 2))


def test_weighted_sampling_follows_the_weights(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"w{i}", 50) for i in range(3)]
    paths, indices = zip(*files)
    loader = sf.multi_tfrecord_loader(paths, indices, weights=[6, 3, 1], seed=1234)
    counts = collections.Counter(_key(next(loader))[0] for _ in range(6000))
    expected = {"w0": 0.6, "w1": 0.3, "w2": 0.1}
    chi2 = sum((counts[k] - 6000 * p) ** 2 / (6000 * p) for k, p in expected.items())
    assert chi2 < 13.8  # 99.9th percentile of chi-square with 2 degrees of freedom
    uniform = sf.multi_tfrecord_loader(paths, indices, seed=5)
    counts = collections.Counter(_key(next(uniform))[0] for _ in range(3000))
    assert sum((c - 1000) ** 2 / 1000 for c in counts.values()) < 13.8


def test_weights_three_to_one_before_any_file_runs_out(tmp_path: Path) -> None:
    files = [_small_file(tmp_path, name, 7000) for name in ("big_a", "big_b")]
    paths, indices = zip(*files)
    loader = iter(sf.multi_tfrecord_loader(paths, indices, weights=[3, 1], infinite=False, seed=99))
    counts = collections.Counter(_key(next(loader))[0] for _ in range(6000))
    assert abs(counts["big_a"] / 6000 - 0.75) < 0.02  # sd of the share is 0.0056
    chi2 = (counts["big_a"] - 4500) ** 2 / 4500 + (counts["big_b"] - 1500) ** 2 / 1500
    assert chi2 < 10.8  # 99.9th percentile, 1 degree of freedom
    rest = list(loader)  # then every remaining record of this pass, each exactly once
    assert len(rest) == 14000 - 6000


def test_loaders_are_iterables_whose_every_pass_starts_again(tmp_path: Path) -> None:
    """Slideflow's page reads `next(iter(loader))`, then loops over `loader` for all records."""
    path, index = _file(tmp_path, "again", 5)
    expected = [_key(r) for r in sf.tfrecord_loader(path, index)]
    assert len(set(expected)) == 5
    for idx in (index, None):
        loader = sf.tfrecord_loader(path, idx)
        assert _key(next(iter(loader))) == expected[0]
        assert [_key(r) for r in loader] == expected  # the loop reads the first record again
        assert [_key(r) for r in loader] == expected
        assert [_key(next(loader)) for _ in range(2)] == expected[:2]  # next() walks one pass
        assert _key(next(loader)) == expected[2]
        loader.close()
        assert _key(next(loader)) == expected[0]
    shard = sf.tfrecord_loader(path, index, shard=(1, 2))
    assert [_key(r) for r in shard] == [_key(r) for r in shard] == expected[3:]
    files = [_file(tmp_path, f"m{i}", 4) for i in range(3)]
    paths, indices = zip(*files)
    multi = sf.multi_tfrecord_loader(paths, indices, seed=11, infinite=False)
    first = [_key(r) for r in multi]
    assert len(first) == 12 and [_key(r) for r in multi] == first  # same seed: the same draw again
    assert _key(next(iter(multi))) == first[0]


def test_index_with_negative_offsets_or_short_lengths_is_refused_naming_the_file(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "badidx", 3)
    for bad in (index - [100, 0], index * [1, 0]):
        with pytest.raises(sf.TFRecordError, match="badidx.tfrecords: index holds a negative offset or a length"):
            sf.tfrecord_loader(path, bad)


def test_same_seed_same_order(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"r{i}", 8) for i in range(3)]
    paths, indices = zip(*files)
    a = [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, seed=7, infinite=False)]
    b = [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, seed=7, infinite=False)]
    c = [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, seed=8, infinite=False)]
    assert a == b and sorted(a) == sorted(c) and a != c


@pytest.mark.parametrize("weights", [[1, 0], [1, -1], [1], [1, float("nan")], [1, float("inf")], [1, 2, 3], ["a", 1]])
def test_bad_weights_are_rejected(tmp_path: Path, weights: list) -> None:
    files = [_file(tmp_path, f"b{i}", 2) for i in range(2)]
    paths, indices = zip(*files)
    with pytest.raises(ValueError):
        sf.multi_tfrecord_loader(paths, indices, weights=weights)


def test_infinite_restarts_exhausted_files_and_drops_empty_ones(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"i{i}", 2) for i in range(2)]
    empty = tmp_path / "empty.tfrecords"
    empty.write_bytes(b"")
    paths = [f[0] for f in files] + [str(empty)]
    loader = sf.multi_tfrecord_loader(paths, None, seed=3)
    counts = collections.Counter(_key(next(loader)) for _ in range(400))
    assert len(counts) == 4 and min(counts.values()) > 50
    only_empty = sf.multi_tfrecord_loader([str(empty)], None)
    assert list(only_empty) == []  # infinite, yet ends: a file with no record can never yield


def test_error_in_one_file_of_many_names_it(tmp_path: Path) -> None:
    good = _file(tmp_path, "good", 4)
    bad_path, bad_index = _file(tmp_path, "broken", 4)
    data = bytearray(Path(bad_path).read_bytes())
    data[int(bad_index[2, 0]) + 30] ^= 0x01
    Path(bad_path).write_bytes(bytes(data))
    with pytest.raises(sf.TFRecordError, match=r"broken.tfrecords, record 2"):
        list(sf.multi_tfrecord_loader([good[0], bad_path], [good[1], bad_index], infinite=False, seed=0))


def test_payload_of_unknown_fields_is_not_an_example(tmp_path: Path) -> None:
    path = tmp_path / "odd.tfrecords"
    path.write_bytes(frame_py(example_py({"a": 1})) + frame_py(b"") + frame_py(b"\x10\x01"))
    records = []
    with pytest.raises(sf.TFRecordError, match=r"odd.tfrecords, record 2, byte offset \d+: .*no features"):
        for record in sf.tfrecord_loader(path):
            records.append(record)
    assert [list(r) for r in records] == [["a"], []]  # an empty payload is an empty Example


def test_a_missing_file_is_reported_when_the_loader_is_made(tmp_path) -> None:
    import tfr_viewer as sf

    with pytest.raises(FileNotFoundError, match="no such TFRecord file"):
        sf.tfrecord_loader(str(tmp_path / "absent.tfrecords"))
