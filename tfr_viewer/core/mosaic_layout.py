"""Where tiles sit on their slide: the grid step (a tile's footprint), the slide's extent
without stray tiles, and each tile's cell in an image of the slide.

Locations are tile centres in slide pixels, y down, as Slideflow writes `loc_x`/`loc_y`. They
come from files nobody vetted: jitter of a few pixels, the same location twice, one tile at
`loc_y = 1e9`. Everything here is plain numpy, O(n log n), and fine at a million tiles.
"""

from __future__ import annotations

import numpy as np

STEP_SAMPLES = 1000  # tiles whose nearest neighbour is measured to find the grid step
STEP_TOLERANCE = 0.05  # spacings within 5% of each other count as the same step
OUTLIER_SHARE = 0.02  # a stray group holds at most 2% of the tiles...
OUTLIER_TOTAL = 0.05  # ...and all stray groups together at most 5%
OUTLIER_GAP_STEPS = 16  # a stray group is this many steps away from the rest (or more)


def _as_points(xy: np.ndarray) -> np.ndarray:
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return points[np.isfinite(points).all(axis=1)]


def grid_step(xy: np.ndarray, default: float = 1.0) -> float:
    """The tile footprint in slide pixels: the most common nearest-neighbour spacing of the
    locations. Duplicates are ignored, a few strays do not count (their spacing is rare) and
    jitter of a few percent only moves the answer by as much. `default` when fewer than two
    distinct locations (the caller knows better, e.g. the tile's pixel size)."""
    points = _distinct(_as_points(xy))
    if len(points) < 2:
        return float(default)
    rng = np.random.default_rng(0)  # the same answer every time for the same file
    chosen = points if len(points) <= STEP_SAMPLES else points[rng.choice(len(points), STEP_SAMPLES, replace=False)]
    spacings = _nearest_distances(points, chosen)
    spacings = spacings[spacings > 0]
    return _mode(spacings) if len(spacings) else float(default)


def _distinct(points: np.ndarray) -> np.ndarray:
    """The points without repeats (`np.unique(axis=0)`, five times faster through lexsort)."""
    ordered = points[np.lexsort((points[:, 1], points[:, 0]))]
    first = np.ones(len(ordered), bool)
    first[1:] = (np.diff(ordered, axis=0) != 0).any(axis=1)
    return ordered[first]


def _nearest_distances(points: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """For each of `chosen` (a subset of the distinct `points`), the distance to its nearest
    other point. Candidates are looked up in a box around it, through whichever axis gives the
    smaller window of the sorted coordinates; the box grows until it holds the true nearest."""
    by_x, by_y = np.sort(points[:, 0]), np.sort(points[:, 1])
    order_x, order_y = np.argsort(points[:, 0], kind="stable"), np.argsort(points[:, 1], kind="stable")
    spread = np.ptp(points, axis=0)
    radius0 = max(float(np.sqrt(max(spread[0], 1.0) * max(spread[1], 1.0) / len(points))), 1e-9)
    out = np.empty(len(chosen))
    for k, (px, py) in enumerate(chosen):
        radius = radius0
        while True:
            lo_x, hi_x = np.searchsorted(by_x, px - radius), np.searchsorted(by_x, px + radius, side="right")
            lo_y, hi_y = np.searchsorted(by_y, py - radius), np.searchsorted(by_y, py + radius, side="right")
            rows = order_x[lo_x:hi_x] if hi_x - lo_x <= hi_y - lo_y else order_y[lo_y:hi_y]
            near = points[rows]
            d = np.hypot(near[:, 0] - px, near[:, 1] - py)
            d = d[d > 0]
            best = float(d.min()) if len(d) else np.inf
            if best <= radius:
                out[k] = best
                break
            radius = best if np.isfinite(best) else radius * 2
    return out


def _mode(values: np.ndarray) -> float:
    """The most common value, where values within `STEP_TOLERANCE` of each other are one: the
    median of the densest such window (the smallest on a tie)."""
    values = np.sort(values)
    upper = np.searchsorted(values, values * (1 + STEP_TOLERANCE), side="right")
    counts = upper - np.arange(len(values))
    first = int(np.argmax(counts))
    return float(np.median(values[first : upper[first]]))


def _stray_values(values: np.ndarray, step: float) -> tuple[float, float]:
    """The range of one coordinate without stray groups: the sorted values are cut at gaps of
    more than `OUTLIER_GAP_STEPS` steps (or a tenth of the extent, if larger); the small groups
    (each <= `OUTLIER_SHARE`, together <= `OUTLIER_TOTAL` of the tiles) are left out."""
    values = np.sort(values)
    n = len(values)
    core = values[int(n * 0.05) : max(int(n * 0.95), int(n * 0.05) + 1)]
    gap = max(OUTLIER_GAP_STEPS * step, 0.1 * float(core[-1] - core[0]))
    cuts = np.flatnonzero(np.diff(values) > gap) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [n]])
    sizes = ends - starts
    keep = np.ones(len(sizes), bool)
    largest = int(np.argmax(sizes))
    dropped = 0
    for g in np.argsort(sizes, kind="stable"):
        if g == largest or sizes[g] > max(1, OUTLIER_SHARE * n) or dropped + sizes[g] > max(1, OUTLIER_TOTAL * n):
            continue
        keep[g] = False
        dropped += sizes[g]
    kept = [(values[s], values[e - 1]) for s, e, k in zip(starts, ends, keep) if k]
    return float(min(lo for lo, _ in kept)), float(max(hi for _, hi in kept))


def robust_bounds(xy: np.ndarray, step: float) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in slide pixels: the extent of the tiles, footprints included, leaving
    out small groups of tiles far from the rest (one tile at loc_y = 1e9 does not squeeze the
    slide into a dot). (0, 0, step, step) for no tiles."""
    points = _as_points(xy)
    half = step / 2
    if not len(points):
        return 0.0, 0.0, float(step), float(step)
    x_lo, x_hi = _stray_values(points[:, 0], step)
    y_lo, y_hi = _stray_values(points[:, 1], step)
    return x_lo - half, y_lo - half, x_hi + half, y_hi + half


def outlier_mask(xy: np.ndarray, step: float) -> np.ndarray:
    """True for the tiles whose centre lies outside `robust_bounds` (not drawn in the framing;
    a tile with a non-finite location is one)."""
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = robust_bounds(points, step)
    with np.errstate(invalid="ignore"):
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    return ~inside


def cell_boxes(xy: np.ndarray, step: float, x0: float, y0: float, scale: float) -> np.ndarray:
    """(n, 4) int64 [left, top, right, bottom) pixel boxes of each tile's cell in an image whose
    top-left is slide (x0, y0) at `scale` slide px per image px. Neighbouring cells share their
    edges exactly (no gap, no overlap) and every cell is at least one pixel."""
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    half = step / 2
    left = np.floor((points[:, 0] - half - x0) / scale)
    top = np.floor((points[:, 1] - half - y0) / scale)
    right = np.maximum(np.floor((points[:, 0] + half - x0) / scale), left + 1)
    bottom = np.maximum(np.floor((points[:, 1] + half - y0) / scale), top + 1)
    return np.stack([left, top, right, bottom], axis=1).astype(np.int64)
