"""Locations from tile file names and natural sort order."""

from __future__ import annotations

import random

import pytest

from tfr_viewer.core.naming import (
    LOCATION_PRESETS,
    compile_location_pattern,
    location_parser,
    natural_key,
    parse_location,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tile_1024-2048.jpg", (1024, 2048)),
        ("SLIDE-1_12_256-512.jpeg", (256, 512)),
        ("tile_-256--512.png", (-256, -512)),
        ("slide_x123_y456.png", (123, 456)),
        ("slide_X123_Y456_extra.png", (123, 456)),
        ("x123-y456.tif", (123, 456)),
        ("x123y456.tif", (123, 456)),
        ("x-5_y7.JPG", (-5, 7)),
        ("dir/tile_1-2.jpg", (1, 2)),
        ("tile_1-2", (1, 2)),
        ("plain.jpg", None),
        ("tile_12.jpg", None),
        ("tile_1-2-extra.jpg", None),
        ("", None),
    ],
)
def test_auto_presets(name: str, expected: tuple[int, int] | None) -> None:
    assert parse_location(name) == expected
    assert location_parser()(name) == expected


def test_explicit_preset_custom_regex_and_none() -> None:
    assert parse_location("a_1-2.jpg", "*_X-Y.ext") == (1, 2)
    assert parse_location("a_x1_y2.jpg", "*_X-Y.ext") is None
    assert parse_location("a_1-2.jpg", "*x123_y456*") is None
    assert parse_location("r5c9.png", r"r(?P<y>\d+)c(?P<x>\d+)") == (9, 5)
    assert parse_location("a_1-2.jpg", None) is None
    assert set(LOCATION_PRESETS) == {"*_X-Y.ext", "*x123_y456*"}
    for regex in LOCATION_PRESETS.values():  # the wizard shows and reuses these as plain regexes
        assert {"x", "y"} <= set(compile_location_pattern(regex).groupindex)


@pytest.mark.parametrize("bad", [r"(\d+)", r"(?P<x>\d+", r"(?P<x>\d+)"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        compile_location_pattern(bad)
    with pytest.raises(ValueError):
        location_parser(bad)


def test_natural_sort() -> None:
    names = ["tile_10.jpg", "tile_2.jpg", "Tile_1.jpg", "tile_2b.jpg", "tile_02.jpg", "tile_1b", "tile_1b2"]
    expected = ["Tile_1.jpg", "tile_1b", "tile_1b2", "tile_02.jpg", "tile_2.jpg", "tile_2b.jpg", "tile_10.jpg"]
    for seed in range(5):  # the order never depends on the input order
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled, key=natural_key) == expected


def test_natural_key_never_compares_numbers_with_text() -> None:
    names = ["a1b", "a1b2", "a", "1", "a1", "", "b", "1a", "01", "a01b"]
    sorted(names, key=natural_key)  # would raise TypeError if an int met a str
    assert sorted(["x9", "x10", "x9y"], key=natural_key) == ["x9", "x9y", "x10"]


def test_natural_key_with_digit_like_characters() -> None:
    """'²' and '①' are str.isdigit() but not int(): they sort as text, never raise."""
    names = ["slide1²", "slide10", "slide2", "slide①3", "s²1"]
    assert sorted(names, key=natural_key) == ["slide1²", "slide2", "slide10", "slide①3", "s²1"]


def test_a_custom_pattern_that_matches_text_or_huge_numbers_gives_no_location() -> None:
    """`tile_a-b.jpg` under `_(?P<x>\\w+)-(?P<y>\\w+)$`: that one name has no location (stored
    as (0, 0) with a warning by the writer); the conversion goes on."""
    pattern = r"_(?P<x>\w+)-(?P<y>\w+)$"
    assert parse_location("tile_12-34.jpg", pattern) == (12, 34)
    assert parse_location("tile_a-b.jpg", pattern) is None
    assert parse_location(f"tile_{2**63}-1.jpg", pattern) is None  # beyond a TFRecord's int64
    assert parse_location("tile_1-2.jpg", r"_(?P<x>\d+)?-(?P<y>\d+)$") == (1, 2)
    assert parse_location("tile_-2.jpg", r"_(?P<x>\d+)?-(?P<y>\d+)$") is None  # x did not take part


def test_writer_goes_on_past_a_name_the_custom_pattern_cannot_read(tmp_path) -> None:
    import tfr_viewer as sf

    from ..helpers import make_jpeg

    src = tmp_path / "src"
    src.mkdir()
    for name in ("tile_1-2.jpg", "tile_a-b.jpg"):
        (src / name).write_bytes(make_jpeg())
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "x", "x", locations=r"_(?P<x>\w+)-(?P<y>\w+)$")
    assert sf.TFRecord(report.written[0].path).locations == [(1, 2), (0, 0)]
    assert report.warnings == ["x: 1 file name(s) did not match the location pattern; stored location (0, 0)"]
