"""The slide mosaic: each tile drawn as its own image at its location, reconstructing the slide
without the whole-slide image.

The public face of three parts: the geometry (`grid_step`, `robust_bounds`, `outlier_mask`,
`cell_boxes` in `mosaic_layout`), the cached overview for the zoomed-out view (`Overview`,
`build_overview`, `load_or_build_overview` in `overview` and `overview_cache`), and here
`render_mosaic`, the slide at a chosen width as a Pillow image (the `mosaic` command).
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .errors import TFRecordError
from .index import IndexInfo
from .mosaic_colours import ColourScheme, colour_values
from .mosaic_layout import cell_boxes, grid_step, outlier_mask, robust_bounds
from .overview import (
    MAX_PROBLEMS,
    Overview,
    build_overview,
    decode_cell,
    decoded_chunks,
    iter_build_overview,
    mark_broken,
    slide_layout,
)
from .overview_cache import iter_load_or_build_overview, load_or_build_overview
from .progress import CancelToken, Job, Progress, run_job
from .records import parse_example
from .tfrecord import TFRecord

__all__ = [
    "MAX_MOSAIC_SIDE",
    "Mosaic",
    "Overview",
    "build_overview",
    "cell_boxes",
    "decode_cell",
    "file_locations",
    "grid_step",
    "iter_build_overview",
    "iter_load_or_build_overview",
    "iter_render_mosaic",
    "load_or_build_overview",
    "outlier_mask",
    "render_mosaic",
    "robust_bounds",
]

MAX_MOSAIC_SIDE = 16384
MAX_MOSAIC_PIXELS = 2**27  # 134 Mpx: 384 MiB of RGB, e.g. 16384 x 8192
BACKGROUND = (255, 255, 255)  # the glass of a slide
OVERLAY_ALPHA = 0.45


@dataclass
class Mosaic:
    """A rendered slide: the RGB `image` (white where no tile is), the colour legend when tiles
    were coloured by a field, and what could not be drawn."""

    image: Image.Image
    step: float
    tile_count: int
    drawn: int
    outlier_count: int
    broken: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scheme: ColourScheme | None = None

    def to_dict(self) -> dict:
        return {
            "width": self.image.width,
            "height": self.image.height,
            "step": self.step,
            "tiles": self.tile_count,
            "drawn": self.drawn,
            "outliers": self.outlier_count,
            "broken": self.broken,
            "problems": self.problems,
            "colours": self.scheme.to_dict() if self.scheme is not None else None,
        }


def file_locations(tfr: TFRecord) -> np.ndarray | None:
    """(n, 2) tile centres of every record (from the index, else read from the records), or None."""
    if tfr.locations_array is None:
        listed = tfr.locations
        return None if listed is None else np.asarray(listed, np.int64).reshape(-1, 2)
    return tfr.locations_array


def mosaic_size(bounds: tuple[float, float, float, float], width: int) -> tuple[int, int, float]:
    """(width, height, slide px per image px) of a mosaic `width` pixels wide; ValueError above
    the caps (`MAX_MOSAIC_SIDE` a side, `MAX_MOSAIC_PIXELS` in all)."""
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"mosaic width must be a positive number of pixels, not {width!r}")
    if width > MAX_MOSAIC_SIDE:
        raise ValueError(f"mosaic width {width} px is more than the {MAX_MOSAIC_SIDE} px allowed")
    x0, y0, x1, y1 = bounds
    scale = (x1 - x0) / width
    height = max(int(np.ceil((y1 - y0) / scale)), 1)
    if height > MAX_MOSAIC_SIDE or width * height > MAX_MOSAIC_PIXELS:
        raise ValueError(
            f"a mosaic {width} px wide would be {height} px high, more than the {MAX_MOSAIC_SIDE} px a side "
            f"and {MAX_MOSAIC_PIXELS:,} pixels allowed: ask for a smaller width"
        )
    return int(width), height, scale


def _field_value(raw: dict, name: str) -> str | int | float | None:
    """One record's single value of field `name` (text for bytes), None when absent or a list."""
    values = raw.get(name)
    if values is None or len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def iter_render_mosaic(
    path: str | os.PathLike,
    width: int,
    color_by: str | None = None,
    step: float | None = None,
    cancel: CancelToken | None = None,
    index: IndexInfo | None = None,
    threads: int | None = None,
) -> Job[Mosaic]:
    """Job: the slide reconstructed from its tiles, `width` pixels wide (height from the slide's
    aspect, strays left out of the framing). Each tile is decoded at the smallest JPEG DCT scale
    that still covers its cell; with `color_by`, a translucent colour per value of that field.
    ValueError: no locations, no such field, a size above the caps. A tile that does not read
    or decode is marked red and listed; the rest is drawn."""
    path = os.fspath(path)
    with TFRecord(path, create_index=False, index=index) as tfr:
        xy = file_locations(tfr)
        if xy is None or not len(xy):
            raise ValueError(f"{path} has no tile locations (loc_x, loc_y): there is no slide to draw")
        if color_by is not None and color_by not in tfr.fields:
            raise ValueError(f"{path} has no field {color_by!r} (fields: {', '.join(tfr.fields)})")
        xy = xy.astype(np.float64)
        step, strays, bounds, _ = slide_layout(tfr, xy, step)
        rows = np.flatnonzero(~strays)
        width, height, scale = mosaic_size(bounds, width)
        canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
        boxes = cell_boxes(xy[rows], step, bounds[0], bounds[1], scale)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        values: list = [None] * len(rows)
        broken: list[int] = []
        problems: list[str] = []
        with closing(decoded_chunks(tfr, rows, boxes, threads)) as chunks:  # a cancel stops its threads
            for start, cells in chunks:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                yield Progress(start, len(rows), path)
                end = start + len(cells)
                for k, i, box, cell in zip(range(start, end), rows[start:end].tolist(), boxes[start:end].tolist(), cells):
                    if color_by is not None and not isinstance(cell, TFRecordError):
                        try:
                            values[k] = _field_value(parse_example(tfr.read_payload(i), path, i), color_by)
                        except TFRecordError as exc:
                            cell = exc.located(path, i)
                    if isinstance(cell, np.ndarray):
                        left, top, right, bottom = box
                        canvas[top:bottom, left:right] = cell
                    elif isinstance(cell, TFRecordError):
                        broken.append(i)
                        if len(problems) < MAX_PROBLEMS:
                            problems.append(str(cell))
        yield Progress(len(rows), len(rows), path)
    scheme = None
    if color_by is not None:
        scheme, colours, present = colour_values(values)
        for box, colour in zip(boxes[present].tolist(), colours[present]):
            cell = canvas[box[1] : box[3], box[0] : box[2]]
            cell[...] = np.rint(cell * (1 - OVERLAY_ALPHA) + colour * OVERLAY_ALPHA).astype(np.uint8)
    for k in np.searchsorted(rows, broken).tolist():  # rows are sorted
        mark_broken(canvas, tuple(boxes[k].tolist()))
    image = Image.fromarray(canvas, "RGB")
    return Mosaic(image, step, len(xy), len(rows) - len(broken), int(strays.sum()), broken, problems, scheme)


def render_mosaic(
    path: str | os.PathLike, width: int, color_by: str | None = None, step: float | None = None
) -> Image.Image:
    """The slide reconstructed from its tiles as an RGB image `width` pixels wide (see
    `iter_render_mosaic`)."""
    return run_job(iter_render_mosaic(path, width, color_by, step)).image
