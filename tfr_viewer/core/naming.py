"""Tile file names: locations parsed from names, and natural sort order."""

from __future__ import annotations

import re

# name -> regular expression with named groups x and y, searched in the file name's stem.
LOCATION_PRESETS: dict[str, str] = {
    "*_X-Y.ext": r"_(?P<x>-?\d+)-(?P<y>-?\d+)$",
    "*x123_y456*": r"x(?P<x>-?\d+)[_-]y(?P<y>-?\d+)",
}
AUTO = "auto"
_NUMBER = re.compile(r"(\d+)")


def compile_location_pattern(pattern: str) -> re.Pattern[str]:
    """A preset name or a custom regex; custom ones must have groups named x and y."""
    regex = LOCATION_PRESETS.get(pattern, pattern)
    try:
        compiled = re.compile(regex, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid location pattern {pattern!r}: {exc}") from None
    if not {"x", "y"} <= set(compiled.groupindex):
        raise ValueError(f"location pattern {pattern!r} needs groups named x and y: (?P<x>...)")
    return compiled


def parse_location(filename: str, pattern: str | None = AUTO) -> tuple[int, int] | None:
    """(x, y) from a tile's file name, or None when the name does not carry one.

    `pattern`: 'auto' tries every preset, a preset name or a regex with groups x and y;
    None means locations are not read from names.
    """
    if pattern is None:
        return None
    stem = filename.rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    patterns = list(LOCATION_PRESETS) if pattern == AUTO else [pattern]
    for name in patterns:
        match = compile_location_pattern(name).search(stem)
        if match:
            return int(match.group("x")), int(match.group("y"))
    return None


def natural_key(name: str) -> list:
    """Sort key where 'tile_2' comes before 'tile_10'."""
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name)]
