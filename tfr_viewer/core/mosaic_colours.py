"""Colours for tiles by the value of a record field, readable on a dark and a light background:
a categorical palette without black, grey or near-white, and a ramp whose low end is a light
violet rather than viridis' near-black."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Tableau 10 without its grey, then cyan and olive: distinct on black and on white
CATEGORY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (78, 121, 167),
    (242, 142, 43),
    (89, 161, 79),
    (225, 87, 89),
    (118, 183, 178),
    (237, 201, 72),
    (176, 122, 161),
    (255, 157, 167),
    (156, 117, 95),
    (23, 190, 207),
    (188, 189, 34),
)
# a viridis-like ramp (violet, blue, green, yellow) starting light enough to show on dark
RAMP_ANCHORS = np.array(
    [(120, 90, 200), (70, 130, 200), (35, 170, 150), (120, 200, 80), (250, 230, 40)], dtype=np.float64
)
MAX_CATEGORIES = 12  # an integer field with more distinct values than this is a number


def ramp(t: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 colours of the ramp at positions `t` in [0, 1] (clipped)."""
    t = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float64)), 0.0, 1.0)
    position = t * (len(RAMP_ANCHORS) - 1)
    low = np.minimum(position.astype(np.int64), len(RAMP_ANCHORS) - 2)
    frac = (position - low)[:, None]
    return np.rint(RAMP_ANCHORS[low] * (1 - frac) + RAMP_ANCHORS[low + 1] * frac).astype(np.uint8)


@dataclass
class ColourScheme:
    """How values map to colours: `kind` 'categories' (legend: value -> colour and count) or
    'numbers' (the ramp from `low` to `high`), or 'none' when no tile has a value."""

    kind: str
    legend: list[tuple[str, tuple[int, int, int], int]] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0

    def to_dict(self) -> dict:
        if self.kind == "numbers":
            return {"kind": "numbers", "low": self.low, "high": self.high}
        return {
            "kind": self.kind,
            "classes": [{"value": v, "colour": "#%02x%02x%02x" % c, "tiles": n} for v, c, n in self.legend],
        }


def colour_values(values: list) -> tuple[ColourScheme, np.ndarray, np.ndarray]:
    """The scheme for one field's values (None = no value), each value's colour as (n, 3) uint8
    and which values have one. Strings, and integers with few distinct values, are categories
    (in order of first appearance, with tile counts); other numbers go on the ramp."""
    n = len(values)
    colours = np.zeros((n, 3), np.uint8)
    present = np.array([v is not None for v in values], bool)
    given = [v for v in values if v is not None]
    if not given:
        return ColourScheme("none"), colours, present
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given)
    distinct = list(dict.fromkeys(given))
    if numeric and not (all(isinstance(v, int) for v in given) and len(distinct) <= MAX_CATEGORIES):
        numbers = np.array([float(v) if v is not None else np.nan for v in values])
        present &= np.isfinite(numbers)
        if not present.any():
            return ColourScheme("none"), colours, present
        low, high = float(numbers[present].min()), float(numbers[present].max())
        colours[present] = ramp((numbers[present] - low) / (high - low) if high > low else np.zeros(present.sum()))
        return ColourScheme("numbers", low=low, high=high), colours, present
    slot = {value: k for k, value in enumerate(distinct)}
    counts = [0] * len(distinct)
    for row, value in enumerate(values):
        if value is not None:
            k = slot[value]
            counts[k] += 1
            colours[row] = CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)]
    legend = [(str(v), CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)], counts[k]) for k, v in enumerate(distinct)]
    return ColourScheme("categories", legend), colours, present
