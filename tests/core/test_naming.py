"""Locations from tile file names and natural sort order."""

from __future__ import annotations

import pytest

from tfr_viewer.core.naming import LOCATION_PRESETS, compile_location_pattern, natural_key, parse_location


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tile_1024-2048.jpg", (1024, 2048)),
        ("SLIDE-1_12_256-512.jpeg", (256, 512)),
        ("slide_x123_y456.png", (123, 456)),
        ("slide_X123_Y456_extra.png", (123, 456)),
        ("x-5_y7.JPG", (-5, 7)),
        ("plain.jpg", None),
        ("tile_12.jpg", None),
    ],
)
def test_auto_presets(name: str, expected: tuple[int, int] | None) -> None:
    assert parse_location(name) == expected


def test_explicit_preset_custom_regex_and_none() -> None:
    assert parse_location("a_1-2.jpg", "*_X-Y.ext") == (1, 2)
    assert parse_location("a_x1_y2.jpg", "*_X-Y.ext") is None
    assert parse_location("r5c9.png", r"r(?P<y>\d+)c(?P<x>\d+)") == (9, 5)
    assert parse_location("a_1-2.jpg", None) is None
    assert set(LOCATION_PRESETS) == {"*_X-Y.ext", "*x123_y456*"}


@pytest.mark.parametrize("bad", [r"(\d+)", r"(?P<x>\d+", r"(?P<x>\d+)"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        compile_location_pattern(bad)


def test_natural_sort() -> None:
    names = ["tile_10.jpg", "tile_2.jpg", "Tile_1.jpg", "tile_2b.jpg"]
    assert sorted(names, key=natural_key) == ["Tile_1.jpg", "tile_2.jpg", "tile_2b.jpg", "tile_10.jpg"]
