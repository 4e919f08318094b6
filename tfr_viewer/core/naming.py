"""File names: TFRecord extensions, tile locations parsed from names, and natural sort order."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

# name -> regular expression with named groups x and y, searched in the file name's stem.
LOCATION_PRESETS: dict[str, str] = {
    "*_X-Y.ext": r"_(?P<x>-?\d+)-(?P<y>-?\d+)$",
    "*x123_y456*": r"x(?P<x>-?\d+)[_-]?y(?P<y>-?\d+)",
}
AUTO = "auto"
_NUMBER = re.compile(r"([0-9]+)")
_INT64 = 2**63
# what TensorFlow, Slideflow and the `tfrecord` package users name their files, in any case
TFRECORD_EXTENSIONS = (".tfrecords", ".tfrecord", ".tfr")
COMPRESSED_EXTENSIONS = (".gz", ".zlib")  # compressed TFRecords: `a.tfrecords.gz`


def is_tfrecord_name(name: str) -> bool:
    """Whether folder discovery lists a file of this name: `.tfrecords`, `.tfrecord` or `.tfr`
    in any case, also with `.gz` or `.zlib` after it (the bytes decide how it is read)."""
    lower = name.lower()
    for compressed in COMPRESSED_EXTENSIONS:
        if lower.endswith(compressed):
            lower = lower[: -len(compressed)]
            break
    return lower.endswith(TFRECORD_EXTENSIONS)


@functools.lru_cache(maxsize=64)
def compile_location_pattern(pattern: str) -> re.Pattern[str]:
    """A preset name or a custom regex; custom ones must have groups named x and y."""
    regex = LOCATION_PRESETS.get(pattern, pattern)
    try:
        compiled = re.compile(regex, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid location pattern '{pattern}' (as typed): {exc}") from None
    if not {"x", "y"} <= set(compiled.groupindex):
        raise ValueError(f"location pattern '{pattern}' needs groups named x and y: (?P<x>...)")
    return compiled


def location_parser(pattern: str | None = AUTO) -> Callable[[str], tuple[int, int] | None]:
    """`parse_location` with the pattern compiled once, for loops over many file names.

    A bad pattern raises ValueError here, before any name is parsed.
    """
    if pattern is None:
        return lambda filename: None
    names = list(LOCATION_PRESETS) if pattern == AUTO else [pattern]
    searches = [compile_location_pattern(name).search for name in names]

    def parse(filename: str) -> tuple[int, int] | None:
        stem = filename.rsplit("/", 1)[-1]
        if "." in stem:
            stem = stem.rsplit(".", 1)[0]
        for search in searches:
            match = search(stem)
            if match:
                try:  # a custom pattern may match text ('tile_a-b'): that name has no location
                    x, y = int(match.group("x")), int(match.group("y"))
                except (TypeError, ValueError):
                    continue
                if -_INT64 <= x < _INT64 and -_INT64 <= y < _INT64:  # what a TFRecord int holds
                    return x, y
        return None

    return parse


def parse_location(filename: str, pattern: str | None = AUTO) -> tuple[int, int] | None:
    """(x, y) from a tile's file name, or None when the name does not carry one.

    `pattern`: 'auto' tries every preset in order, a preset name (a key of LOCATION_PRESETS)
    or a regex with groups named x and y, searched in the name without its extension;
    None means locations are not read from names.
    """
    return location_parser(pattern)(filename)


def natural_key(name: str) -> tuple[list, str]:
    """Sort key where 'tile_2' comes before 'tile_10' (case-insensitive; names that differ only
    in case or leading zeros keep a fixed order)."""
    # split() alternates text and the captured numbers: numbers sit at odd places, so '²' or
    # '①' (isdigit() but not int()) stay text, and text is only ever compared with text
    parts = [int(part) if i % 2 else part.lower() for i, part in enumerate(_NUMBER.split(name))]
    return parts, name
