"""tfrecord_loader and multi_tfrecord_loader: shards, clip, description, weights, exhaustion."""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core.index import create_index

from ..helpers import make_jpeg, tile_record, write_tfrecord_py

DATA = Path(__file__).resolve().parents[1] / "data"


def _file(tmp_path: Path, name: str, n: int, slide: str | None = None) -> tuple[str, np.ndarray]:
    path = tmp_path / f"{name}.tfrecords"
    write_tfrecord_py(path, [tile_record(i, slide or name) for i in range(n)])
    return str(path), create_index(path).offsets


def _key(record: dict) -> tuple[str, int, int]:
    return bytes(record["slide"]).decode(), int(record["loc_x"][0]), int(record["loc_y"][0])


def test_record_shape_like_slideflow(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "a", 3)
    record = next(iter(sf.tfrecord_loader(path, index)))
    assert record["image_raw"].dtype == np.uint8 and bytes(record["image_raw"]) == make_jpeg(seed=0)
    assert bytes(record["slide"]).decode() == "a"
    assert record["loc_x"].dtype == np.int64 and list(record["loc_x"]) == [0]
    assert len(list(sf.tfrecord_loader(path, None))) == 3  # no index: sequential read


@pytest.mark.parametrize("n_shards", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n_records", [1, 7, 23])
def test_shards_are_disjoint_and_cover_everything(tmp_path: Path, n_shards: int, n_records: int) -> None:
    path, index = _file(tmp_path, "s", n_records)
    seen = []
    for i in range(n_shards):
        seen.extend(_key(r) for r in sf.tfrecord_loader(path, index, shard=(i, n_shards)))
    assert sorted(seen) == sorted(_key(r) for r in sf.tfrecord_loader(path, index))
    assert len(seen) == len(set(seen)) == n_records


def test_shard_needs_index_and_valid_ids(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "s", 4)
    with pytest.raises(ValueError, match="index"):
        list(sf.tfrecord_loader(path, None, shard=(0, 2)))
    for bad in [(2, 2), (-1, 2), (0, 0)]:
        with pytest.raises(ValueError):
            sf.tfrecord_loader(path, index, shard=bad)


def test_clip_takes_the_first_records(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "c", 10)
    assert [_key(r)[1:] for r in sf.tfrecord_loader(path, index, clip=3)] == [(0, 0), (64, 0), (128, 0)]
    clipped_shards = [list(sf.tfrecord_loader(path, index, shard=(i, 2), clip=5)) for i in range(2)]
    assert sum(len(s) for s in clipped_shards) == 5


def test_description_list_and_dict(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "d", 2)
    record = next(iter(sf.tfrecord_loader(path, index, description=["image_raw", "loc_x"])))
    assert sorted(record) == ["image_raw", "loc_x"]
    typed = next(iter(sf.tfrecord_loader(path, index, description={"slide": "byte", "loc_y": "int"})))
    assert sorted(typed) == ["loc_y", "slide"]
    with pytest.raises(sf.TFRecordError, match=r"record 0.*'loc_x' is int, description says float"):
        next(iter(sf.tfrecord_loader(path, index, description={"loc_x": "float"})))
    with pytest.raises(sf.TFRecordError, match="no field 'label'"):
        next(iter(sf.tfrecord_loader(path, index, description=["label"])))
    with pytest.raises(ValueError, match="'byte', 'int' or 'float'"):
        sf.tfrecord_loader(path, index, description={"slide": "string"})


def test_fixtures_through_the_loader(tmp_path: Path) -> None:
    truth = json.loads((DATA / "ground_truth.json").read_text())
    for name in ["tf_extra/extra.tfrecords", "tf_extra/gzip.tfrecords", "tf_png/slide_000.tfrecords"]:
        shutil.copy(DATA / name, tmp_path / Path(name).name)
        path = tmp_path / Path(name).name
        index = sf.TFRecord(path).offsets
        for record, expected in zip(sf.tfrecord_loader(str(path), index), truth[name], strict=True):
            digest = hashlib.sha256(bytes(record["image_raw"])).hexdigest()
            assert digest == expected["image_raw"]["bytes_sha256"][0]
            if "tile_ids" in expected:
                assert record["tile_ids"].tolist() == expected["tile_ids"]["int64"]
                assert record["probs"].tolist() == pytest.approx(expected["probs"]["float"])


def test_bad_record_mid_file_after_good_ones(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "bad", 5)
    data = bytearray(Path(path).read_bytes())
    data[int(index[3, 0]) + 40] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    got = []
    with pytest.raises(sf.TFRecordError, match=r"bad.tfrecords, record 3, byte offset \d+: data CRC"):
        for record in sf.tfrecord_loader(path, index):
            got.append(_key(record))
    assert len(got) == 3


def test_stale_index_is_refused(tmp_path: Path) -> None:
    path, index = _file(tmp_path, "stale", 5)
    with pytest.raises(sf.TFRecordError, match="stale index"):
        list(sf.tfrecord_loader(path, index[:3]))


def test_multi_finite_yields_every_record_once(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"m{i}", n) for i, n in enumerate([5, 1, 12, 0 + 3])]
    paths, indices = zip(*files)
    records = list(sf.multi_tfrecord_loader(list(paths), list(indices), infinite=False, seed=1))
    keys = [_key(r) for r in records]
    assert len(keys) == len(set(keys)) == 21
    weighted = list(sf.multi_tfrecord_loader(paths, indices, weights=[5, 1, 1, 1], infinite=False, seed=2))
    assert sorted(map(_key, weighted)) == sorted(keys)


def test_multi_shard_and_clip_per_file(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"p{i}", 10) for i in range(2)]
    paths, indices = zip(*files)
    halves = [
        [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, shard=(i, 2), infinite=False, seed=0)]
        for i in range(2)
    ]
    assert len(halves[0]) == len(halves[1]) == 10 and not set(halves[0]) & set(halves[1])
    clipped = list(sf.multi_tfrecord_loader(paths, indices, clip=2, infinite=False, seed=0))
    assert len(clipped) == 4


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


def test_same_seed_same_order(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"r{i}", 8) for i in range(3)]
    paths, indices = zip(*files)
    a = [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, seed=7, infinite=False)]
    b = [_key(r) for r in sf.multi_tfrecord_loader(paths, indices, seed=7, infinite=False)]
    assert a == b


@pytest.mark.parametrize("weights", [[1, 0], [1, -1], [1], [1, float("nan")], [1, 2, 3]])
def test_bad_weights_are_rejected(tmp_path: Path, weights: list) -> None:
    files = [_file(tmp_path, f"b{i}", 2) for i in range(2)]
    paths, indices = zip(*files)
    with pytest.raises(ValueError):
        sf.multi_tfrecord_loader(paths, indices, weights=weights)


def test_infinite_restarts_exhausted_files(tmp_path: Path) -> None:
    files = [_file(tmp_path, f"i{i}", 2) for i in range(2)]
    paths, indices = zip(*files)
    loader = sf.multi_tfrecord_loader(paths, indices, seed=3)
    counts = collections.Counter(_key(next(loader)) for _ in range(400))
    assert len(counts) == 4 and min(counts.values()) > 50
