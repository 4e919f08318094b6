"""`iter_frames` reads blocks into a reused region and carries a record cut by the end of a
block into the room before the next block. These tests shrink the blocks so that small files
cross many block edges, and check every path (records cut by an edge, records longer than the
carry room or than a block, ranges that start and end anywhere, damage near an edge) against
an independent pure-Python reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import framing
from tfr_viewer.core.errors import TFRecordError
from tfr_viewer.core.framing import iter_frames

from ..helpers import example_py, frame_py, read_frames_py

BLOCK = 4096
CARRY = 1024
MIXED_SIZES = [10, 900, 3000, 5000, 50, 1100, 9000, 17000, 7, 4080, 4070, 2000, 300] * 3


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "BLOCK_SIZE", BLOCK)
    monkeypatch.setattr(framing, "CARRY_SIZE", CARRY)


def write_records(path: Path, sizes: list[int], seed: int = 0) -> list[bytes]:
    """Examples whose image sizes are `sizes`: payloads in file order."""
    rng = np.random.default_rng(seed)
    payloads = [
        example_py({"image_raw": rng.bytes(n), "slide": "s", "loc_x": i, "loc_y": 2 * i})
        for i, n in enumerate(sizes)
    ]
    path.write_bytes(b"".join(frame_py(p) for p in payloads))
    return payloads


def frames(path: Path, **kwargs) -> list[tuple[int, int, bytes]]:
    with open(path, "rb") as f:
        return [(o, n, bytes(p)) for o, n, p in iter_frames(f, path, **kwargs)]


def test_records_across_block_edges_read_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tfrecords"
    payloads = write_records(path, MIXED_SIZES)
    assert read_frames_py(path) == payloads
    got = frames(path)
    assert [p for _, _, p in got] == payloads
    assert [n for _, n, _ in got] == [len(p) + 16 for p in payloads]
    assert [o for o, _, _ in got] == list(np.cumsum([0] + [len(p) + 16 for p in payloads[:-1]]))
    assert frames(path, views=True) == got


def test_ranges_that_start_and_end_at_any_record(tmp_path: Path) -> None:
    path = tmp_path / "ranges.tfrecords"
    write_records(path, MIXED_SIZES, seed=1)
    whole = frames(path)
    for first in range(0, len(whole), 5):
        for last in range(first + 1, len(whole) + 1, 7):
            end = whole[last - 1][0] + whole[last - 1][1]
            assert frames(path, start=whole[first][0], end=end, first_index=first) == whole[first:last]


def test_a_range_that_ends_inside_a_record_yields_that_record_whole(tmp_path: Path) -> None:
    path = tmp_path / "cut.tfrecords"
    write_records(path, [3000] * 12 + [20000] + [3000] * 3, seed=2)
    whole = frames(path)
    assert frames(path, end=whole[12][0] + 100) == whole[:13]


def test_the_loader_index_and_random_access_agree(tmp_path: Path) -> None:
    path = tmp_path / "loader.tfrecords"
    payloads = write_records(path, MIXED_SIZES, seed=3)
    sf.io.tfrecord2idx.create_index(str(path))
    index = sf.io.tfrecord2idx.load_index(str(path))
    assert np.array_equal(index[:, 1], [len(p) + 16 for p in payloads])
    records = list(sf.tfrecord_loader(str(path), index))
    assert [int(r["loc_x"][0]) for r in records] == list(range(len(payloads)))
    with sf.TFRecord(str(path)) as tfr:
        images = [tfr[i]["image_raw"] for i in range(len(tfr))]
        assert [bytes(r["image_raw"]) for r in records] == images
        assert [r["image_raw"] for r in tfr] == images
    for n in (2, 3):
        shards = [list(sf.tfrecord_loader(str(path), index, shard=(k, n))) for k in range(n)]
        assert [int(r["loc_x"][0]) for s in shards for r in s] == list(range(len(payloads)))


@pytest.mark.parametrize("cut", [5, 2000, 9000])
def test_a_truncated_file_yields_the_whole_records_then_names_the_cut_one(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "truncated.tfrecords"
    payloads = write_records(path, MIXED_SIZES, seed=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    ends = np.cumsum([len(p) + 16 for p in payloads])
    whole = int(np.searchsorted(ends, len(data) - cut, side="right"))
    seen = []
    with pytest.raises(TFRecordError, match="truncated") as error:
        with open(path, "rb") as f:
            for _, _, payload in iter_frames(f, path):
                seen.append(payload)
    assert seen == payloads[:whole]
    assert error.value.index == whole


def test_a_corrupt_record_past_many_edges_is_named(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.tfrecords"
    write_records(path, MIXED_SIZES, seed=5)
    whole = frames(path)
    offset = whole[20][0]
    data = bytearray(path.read_bytes())
    data[offset + 40] ^= 0xFF
    path.write_bytes(bytes(data))
    seen = []
    with pytest.raises(TFRecordError, match="data CRC mismatch") as error:
        with open(path, "rb") as f:
            for item in iter_frames(f, path):
                seen.append(item[0])
    assert seen == [o for o, _, _ in whole[:20]]
    assert error.value.index == 20 and error.value.offset == offset


def test_kept_regions_of_another_size_are_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions kept from readers that ran with other sizes are dropped, and at most two are kept."""
    monkeypatch.setattr(framing, "_spare_regions", [memoryview(bytearray(10)) for _ in range(2)])
    path = tmp_path / "sizes.tfrecords"
    payloads = write_records(path, MIXED_SIZES, seed=9)
    assert [p for _, _, p in frames(path)] == payloads
    assert [len(r) for r in framing._spare_regions] == [BLOCK + CARRY]
