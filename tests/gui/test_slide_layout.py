"""Slides side by side: the first stays at its own coordinates, none overlaps another, strays
neither stretch a cell nor push the others away, and the grid step is measured fast."""

from __future__ import annotations

import numpy as np

from tfr_viewer.core.mosaic_layout import grid_step
from tfr_viewer.gui.widgets.slide_layout import STEP_PATCH, layout_slides, patch_step


def grid(columns: int, rows: int, step: float = 256.0, origin=(0.0, 0.0)) -> np.ndarray:
    c, r = np.meshgrid(np.arange(columns), np.arange(rows))
    return np.stack([origin[0] + step * c.ravel() + step / 2, origin[1] + step * r.ravel() + step / 2], axis=1)


def test_slides_sit_in_cells_that_never_overlap() -> None:
    slides = [(7, "a", grid(10, 4)), (3, "b", grid(3, 12, origin=(50_000, 90_000))), (9, "c", grid(6, 6, 128.0))]
    layout = layout_slides(slides)
    assert [f.group for f in layout.frames] == [7, 3, 9] and [f.title for f in layout.frames] == ["a", "b", "c"]
    assert layout.frames[0].offset == (0.0, 0.0)  # one slide alone keeps its own loc_x, loc_y
    assert np.array_equal(layout.xy[:40], slides[0][2])
    boxes = [f.placed_bounds for f in layout.frames]
    for a in range(3):
        for b in range(a + 1, 3):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (a, b)
    for frame in layout.frames:  # each slide's points lie in its cell
        x0, y0, x1, y1 = frame.placed_bounds
        xy = layout.xy[frame.first : frame.first + frame.count]
        assert (xy[:, 0] > x0).all() and (xy[:, 0] < x1).all() and (xy[:, 1] > y0).all() and (xy[:, 1] < y1).all()
    assert [f.step for f in layout.frames] == [256.0, 256.0, 128.0]


def test_a_stray_tile_is_left_out_of_the_framing() -> None:
    tiles = np.concatenate([grid(10, 10), [[128.0, 1e9]]])
    layout = layout_slides([(0, "s", tiles), (1, "t", grid(10, 10))])
    x0, y0, x1, y1 = layout.frames[0].bounds
    assert y1 - y0 == 2560 and x1 - x0 == 2560
    assert layout.outliers.tolist() == [False] * 100 + [True] + [False] * 100
    assert layout.frames[1].placed_bounds[0] < 4 * 2560  # the stray pushes the other slide nowhere
    assert layout.framing()[3] < 3 * 2560 and layout.framing(with_outliers=True)[3] > 1e9


def test_the_step_from_a_patch_is_the_whole_slides_step() -> None:
    rng = np.random.default_rng(4)
    for xy in (grid(80, 60), grid(80, 60, 299.0) + rng.integers(-3, 4, (4800, 2)), grid(5, 5, 64.0)):
        assert abs(patch_step(xy) - grid_step(xy)) <= 0.02 * grid_step(xy)
    holes = grid(80, 60)[rng.random(4800) < 0.6]  # tissue with holes: still the grid's pitch
    assert patch_step(holes) == 256.0 and STEP_PATCH < len(holes)
