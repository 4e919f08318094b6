"""Several slides side by side: small multiples in a grid, never overlapped.

Each slide keeps its own coordinates (y down, 1:1) moved by an offset into its cell of the grid;
the first slide is not moved, so one slide alone is drawn at its own `loc_x, loc_y`. Cells are
framed by each slide's robust bounds, so one tile at `loc_y = 1e9` neither squeezes its slide
nor pushes the others away (it is drawn where it is, outside the framing: "Show outliers").
Plain numpy: runs in a worker for big selections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.mosaic_layout import STEP_TOLERANCE, grid_step, outlier_mask, robust_bounds

GAP_SHARE = 0.12  # space between cells, as a share of the larger cell side (room for the title)
STEP_PATCH = 256  # tiles around the slide's middle among which neighbours are looked for
STEP_PROBES = 64  # the innermost of them, whose nearest neighbour is measured


def patch_step(xy: np.ndarray) -> float:
    """The grid step by `core.mosaic_layout.grid_step`'s rule (the most common nearest-neighbour
    spacing, spacings within STEP_TOLERANCE counted as one), measured for the STEP_PROBES tiles
    nearest the slide's middle against the STEP_PATCH around them, all pairs at once: the same
    answer on a tile grid in well under a millisecond whatever the tile count (`grid_step` over
    a whole file took ~40 ms: two seconds before fifty slides could be drawn)."""
    points = np.asarray(xy, np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 2:
        return grid_step(points, default=1.0)
    distance = np.abs(points - np.median(points, axis=0)).max(axis=1)
    if len(points) > STEP_PATCH:
        keep = np.argpartition(distance, STEP_PATCH)[:STEP_PATCH]
        points, distance = points[keep], distance[keep]
    probes = points[np.argpartition(distance, STEP_PROBES)[:STEP_PROBES]] if len(points) > STEP_PROBES else points
    gaps = np.hypot(probes[:, None, 0] - points[None, :, 0], probes[:, None, 1] - points[None, :, 1])
    gaps[gaps == 0] = np.inf  # a tile and its repeats are no neighbours
    nearest = np.sort(gaps.min(axis=1))
    nearest = nearest[np.isfinite(nearest)]
    if not len(nearest):
        return 1.0
    upper = np.searchsorted(nearest, nearest * (1 + STEP_TOLERANCE), side="right")
    first = int(np.argmax(upper - np.arange(len(nearest))))
    return float(np.median(nearest[first : upper[first]]))


@dataclass(frozen=True)
class SlideFrame:
    """Where one slide is drawn: its points are `first .. first + count` of the map's arrays."""

    group: int  # the caller's number for the slide (a file id)
    title: str
    first: int
    count: int
    step: float  # tile footprint in slide pixels
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1 in slide pixels, strays left out
    offset: tuple[float, float]  # added to slide coordinates to place the slide in the map

    @property
    def placed_bounds(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.bounds
        dx, dy = self.offset
        return x0 + dx, y0 + dy, x1 + dx, y1 + dy


@dataclass(frozen=True)
class SlideLayout:
    """The placed points of every slide, each slide's frame, and which points are strays."""

    xy: np.ndarray  # (n, 2) float64 map coordinates (slide coordinates + the slide's offset)
    frames: tuple[SlideFrame, ...]
    outliers: np.ndarray  # (n,) bool: outside their slide's framing
    step: float  # the footprint dots are drawn with (the median of the slides' steps)

    def framing(self, with_outliers: bool = False) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) that shows every slide (and the strays too, if asked)."""
        if not self.frames:
            return 0.0, 0.0, 1.0, 1.0
        boxes = np.array([f.placed_bounds for f in self.frames])
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
        if with_outliers and len(self.xy):
            finite = self.xy[np.isfinite(self.xy).all(axis=1)]
            if len(finite):
                half = self.step / 2
                x0, y0 = min(x0, finite[:, 0].min() - half), min(y0, finite[:, 1].min() - half)
                x1, y1 = max(x1, finite[:, 0].max() + half), max(y1, finite[:, 1].max() + half)
        return float(x0), float(y0), float(x1), float(y1)


def layout_slides(slides: list[tuple[int, str, np.ndarray]], step: float | None = None) -> SlideLayout:
    """Place (group, title, locations) slides in a grid of equal cells, row by row, about as
    many columns as rows. `step` overrides every slide's grid step."""
    frames, placed, strays, steps = [], [], [], []
    cells = []
    for group, title, locations in slides:
        xy = np.asarray(locations, np.float64).reshape(-1, 2)
        slide_step = float(step) if step else patch_step(xy)
        bounds = robust_bounds(xy, slide_step)
        cells.append((group, title, xy, slide_step, bounds))
        steps.append(slide_step)
    if not cells:
        return SlideLayout(np.zeros((0, 2)), (), np.zeros(0, bool), 1.0)
    width = max(b[2] - b[0] for *_, b in cells)
    height = max(b[3] - b[1] for *_, b in cells)
    gap = GAP_SHARE * max(width, height)
    columns = math.ceil(math.sqrt(len(cells)))
    origin_x, origin_y = cells[0][4][0], cells[0][4][1]
    first = 0
    for k, (group, title, xy, slide_step, bounds) in enumerate(cells):
        column, row = k % columns, k // columns
        offset = (origin_x + column * (width + gap) - bounds[0], origin_y + row * (height + gap) - bounds[1])
        frames.append(SlideFrame(group, title, first, len(xy), slide_step, bounds, offset))
        placed.append(xy + np.array(offset))
        strays.append(outlier_mask(xy, slide_step))
        first += len(xy)
    return SlideLayout(np.concatenate(placed), tuple(frames), np.concatenate(strays), float(np.median(steps)))
