"""The persistent thumbnail cache: pixels back as stored, a changed file misses, two processes
writing at once leave a readable cache, a damaged database is replaced, size is bounded."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from tfr_viewer.core.thumbnail_cache import ThumbnailCache, file_identity

from ..helpers import make_jpeg


def solid(value: int, side: int = 48) -> np.ndarray:
    """A thumbnail of one grey level with a bright corner (so orientation shows too)."""
    pixels = np.full((side, side, 3), value, np.uint8)
    pixels[:8, :8] = 255
    return pixels


def close_to(a: np.ndarray, b: np.ndarray) -> bool:
    """JPEG at quality 90: within a few levels on flat areas."""
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) < 3


def test_thumbnails_come_back_for_the_same_identity_only(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs.sqlite3")
    cache.put("/data/a.tfrecords", "100:1:7", [(0, solid(40)), (5, solid(200))], 96)
    found = cache.get("/data/a.tfrecords", "100:1:7", [0, 5, 9], 96)
    assert sorted(found) == [0, 5]
    assert close_to(found[0], solid(40)) and close_to(found[5], solid(200))
    assert cache.get("/data/a.tfrecords", "100:2:7", [0, 5], 96) == {}  # the file changed: nothing old
    assert cache.get("/data/a.tfrecords", "100:1:7", [0, 5], 64) == {}  # another size
    assert cache.get("/data/b.tfrecords", "100:1:7", [0, 5], 96) == {}
    cache.close()
    again = ThumbnailCache(tmp_path / "thumbs.sqlite3")  # persistent: a new window finds them
    assert sorted(again.get("/data/a.tfrecords", "100:1:7", [0, 5], 96)) == [0, 5]
    again.put("/data/a.tfrecords", "100:2:7", [(1, solid(90))], 96)  # the new identity replaces the old
    assert again.get("/data/a.tfrecords", "100:1:7", [0, 5], 96) == {}
    assert sorted(again.get("/data/a.tfrecords", "100:2:7", [0, 1], 96)) == [1]
    again.close()


def test_file_identity_changes_when_the_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "a.tfrecords"
    path.write_bytes(b"x" * 100)
    first = file_identity(str(path))
    path.write_bytes(b"y" * 101)
    assert first is not None and file_identity(str(path)) not in (None, first)
    assert file_identity(str(tmp_path / "missing.tfrecords")) is None


@pytest.mark.parametrize("junk", [b"", b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_damaged_cache_is_replaced_not_a_crash(tmp_path: Path, junk: bytes) -> None:
    db = tmp_path / "thumbs.sqlite3"
    db.write_bytes(junk)
    cache = ThumbnailCache(db)
    assert cache.get("/data/a.tfrecords", "1:1:1", [0], 96) == {}
    cache.put("/data/a.tfrecords", "1:1:1", [(0, solid(120))], 96)
    assert close_to(cache.get("/data/a.tfrecords", "1:1:1", [0], 96)[0], solid(120))
    cache.close()


def test_rows_that_do_not_decode_are_misses(tmp_path: Path) -> None:
    import sqlite3

    cache = ThumbnailCache(tmp_path / "thumbs.sqlite3")
    cache.put("/data/a.tfrecords", "1:1:1", [(0, solid(10)), (1, solid(20))], 96)
    cache.close()
    with sqlite3.connect(tmp_path / "thumbs.sqlite3") as db:  # another program scribbles on a row
        db.execute("UPDATE thumbs SET data = ? WHERE record = 0", (b"\xff\xd8\xff garbage",))
        db.execute("INSERT INTO thumbs (path, identity, record, size, data) VALUES (?, ?, ?, ?, ?)",
                   ("/data/a.tfrecords", "1:1:1", 2, 96, make_jpeg(300, 300)))  # bigger than any thumbnail of 96
    cache = ThumbnailCache(tmp_path / "thumbs.sqlite3")
    found = cache.get("/data/a.tfrecords", "1:1:1", [0, 1, 2], 96)
    assert sorted(found) == [1] and close_to(found[1], solid(20))
    cache.close()


def test_the_cache_stays_within_its_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cache = ThumbnailCache(tmp_path / "thumbs.sqlite3", max_bytes=400_000)
    for start in range(0, 2000, 100):  # noisy thumbnails: ~5 KB each as JPEG, ~10 MB in all
        cache.put("/data/a.tfrecords", "1:1:1",
                  [(r, rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)) for r in range(start, start + 100)], 96)
    assert 0 < cache.total_bytes() <= 400_000 + 100 * 8_000  # trimmed at the latest every TRIM_EVERY rows
    newest = cache.get("/data/a.tfrecords", "1:1:1", list(range(1900, 2000)), 96)
    oldest = cache.get("/data/a.tfrecords", "1:1:1", list(range(0, 100)), 96)
    assert len(newest) == 100 and not oldest  # the oldest written went first
    cache.close()


def _writer(db: str, worker: int, rounds: int) -> None:
    cache = ThumbnailCache(db)
    for r in range(rounds):
        records = [(worker * 1000 + r * 10 + i, solid((worker * 50 + i * 7) % 250)) for i in range(10)]
        cache.put(f"/data/file_{r % 3}.tfrecords", "1:1:1", records, 96)
        cache.get(f"/data/file_{(r + 1) % 3}.tfrecords", "1:1:1", list(range(0, 5000, 7)), 96)
    cache.close()


def test_two_processes_writing_at_once_leave_every_thumbnail_readable(tmp_path: Path) -> None:
    db = str(tmp_path / "thumbs.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, worker, 30)) for worker in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = ThumbnailCache(db)
    for worker in (1, 2):
        for r in range(30):
            records = [worker * 1000 + r * 10 + i for i in range(10)]
            found = cache.get(f"/data/file_{r % 3}.tfrecords", "1:1:1", records, 96)
            assert sorted(found) == records
            for i, record in enumerate(records):
                assert close_to(found[record], solid((worker * 50 + i * 7) % 250))
    cache.close()
