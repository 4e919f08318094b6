"""Offsets past 4 GiB, and two processes indexing the same file at once."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import index as index_mod
from tfr_viewer.core.framing import iter_frames, read_frame
from tfr_viewer.core.index import IndexInfo
from tfr_viewer.core.index_files import index_bytes, read_index_file

from ..helpers import example_py, frame_py, make_jpeg, tile_record, write_tfrecord_py

FOUR_GIB = 4 * 1024**3


def _sparse_file_with_record_at(path: Path, offset: int, payload: bytes) -> bool:
    """A file whose first bytes are a hole and that holds one record at `offset` (>= 4 GiB)."""
    try:
        with open(path, "wb") as f:
            f.seek(offset)
            f.write(frame_py(payload))
    except OSError:
        return False
    return os.stat(path).st_blocks * 512 < 64 * 1024**2  # really sparse, not 4 GiB of disk


def test_offsets_beyond_32_bits(tmp_path: Path) -> None:
    offset = FOUR_GIB + 12345
    payload = example_py(tile_record(7))
    path = tmp_path / "big.tfrecords"
    if not _sparse_file_with_record_at(path, offset, payload):
        pytest.skip("this file system cannot hold a sparse file over 4 GiB")
    length = len(payload) + 16
    with open(path, "rb") as f:
        assert read_frame(f, offset, length, path) == payload
        assert [o for o, _, _ in iter_frames(f, path, start=offset)] == [offset]
    # the index keeps int64 offsets through save and load
    npz = tmp_path / "big.index.npz"
    npz.write_bytes(index_bytes(np.array([[offset, length]]), np.array([[1, 2]])))
    offsets, locations = read_index_file(npz)
    assert offsets.dtype == np.int64 and int(offsets[0, 0]) == offset > 2**32
    tfr = sf.TFRecord(path, index=IndexInfo(offsets, locations))
    assert tfr[0]["image_raw"] == make_jpeg(seed=7)
    assert tfr.record_info(0) == (offset, length)


def _index_in_process(path: str, barrier) -> None:
    barrier.wait()
    index_mod.create_index(path)


def test_two_processes_indexing_at_once_leave_one_good_index(tmp_path: Path) -> None:
    path = tmp_path / "shared.tfrecords"
    write_tfrecord_py(path, [tile_record(i) for i in range(400)])
    expected = sf.TFRecord(path, create_index=False).index_info
    ctx = multiprocessing.get_context("spawn")
    for _ in range(3):
        for leftover in tmp_path.glob("shared.index*"):
            leftover.unlink()
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_index_in_process, args=(str(path), barrier)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        found = index_mod.find_index(path)
        assert found is not None and found.path == tmp_path / "shared.index.npz"
        np.testing.assert_array_equal(found.offsets, expected.offsets)
        np.testing.assert_array_equal(found.locations, expected.locations)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.index.npz", "shared.tfrecords"]


def test_reading_never_writes_into_the_tfrecord(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "data" / "tf_extra" / "extra.tfrecords"
    path = tmp_path / "extra.tfrecords"
    shutil.copy(src, path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    tfr = sf.TFRecord(path)
    list(tfr)
    [tfr[i] for i in range(len(tfr))]
    tfr.close()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
