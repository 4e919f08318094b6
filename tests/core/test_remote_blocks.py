"""The block cache of remote reads: a range inside a kept block is answered, the least recently
read files go first when it is full, a file's blocks are forgotten on a refresh."""

from __future__ import annotations

from tfr_viewer.core.remote_blocks import BlockCache


def test_ranges_inside_a_kept_block_are_answered_and_others_not() -> None:
    cache = BlockCache(max_bytes=1000)
    data = bytes(range(200))
    cache.put(("u", "v1"), 100, data)
    assert cache.get(("u", "v1"), 150, 20) == data[50:70]
    assert cache.get(("u", "v1"), 100, 200) == data
    assert cache.get(("u", "v1"), 90, 20) is None  # begins before the block
    assert cache.get(("u", "v1"), 290, 20) is None  # runs past its end
    assert cache.get(("u", "v2"), 150, 20) is None  # another version of the object


def test_the_least_recently_read_file_goes_first() -> None:
    cache = BlockCache(max_bytes=300)
    cache.put(("a", "1"), 0, b"a" * 100)
    cache.put(("b", "1"), 0, b"b" * 100)
    cache.put(("c", "1"), 0, b"c" * 100)
    assert cache.get(("a", "1"), 0, 10) == b"a" * 10  # a is now the most recent
    cache.put(("d", "1"), 0, b"d" * 100)
    assert cache.get(("b", "1"), 0, 10) is None
    assert [cache.get((k, "1"), 0, 1) for k in "acd"] == [b"a", b"c", b"d"]
    assert cache.size == 300
    cache.put(("d", "1"), 100, b"e" * 250)  # one file over the budget keeps only its newest block
    assert cache.get(("d", "1"), 100, 250) == b"e" * 250 and cache.get(("d", "1"), 0, 1) is None
    assert cache.size == 250
    cache.put(("x", "1"), 0, b"x" * 301)  # bigger than the whole cache: not kept
    assert cache.get(("x", "1"), 0, 1) is None


def test_forget_drops_every_version_of_a_file() -> None:
    cache = BlockCache(max_bytes=1000)
    cache.put(("u", "1"), 0, b"old")
    cache.put(("u", "2"), 0, b"new")
    cache.put(("w", "1"), 0, b"other")
    cache.forget("u")
    assert cache.get(("u", "1"), 0, 3) is None and cache.get(("u", "2"), 0, 3) is None
    assert cache.get(("w", "1"), 0, 5) == b"other" and cache.size == 5
