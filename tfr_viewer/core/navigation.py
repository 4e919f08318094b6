"""Finding a tile by its place on the slide: the record nearest to a location."""

from __future__ import annotations

import numpy as np


def nearest_record(locations: np.ndarray, x: float, y: float) -> tuple[int, bool]:
    """(record index, exact) of the tile whose (loc_x, loc_y) is nearest to (x, y); the first
    one at the smallest distance. `locations` is the index's (n, 2) array, n > 0."""
    if len(locations) == 0:
        raise ValueError("no tile locations")
    d = np.square(locations[:, 0].astype(np.float64) - x) + np.square(locations[:, 1].astype(np.float64) - y)
    i = int(np.argmin(d))
    return i, bool(d[i] == 0)
