"""Slides for the slide view's tests: tiles of known solid colours on a regular grid."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example

STEP = 256  # slide pixels between neighbouring tiles (Slideflow's tile_px at 1:1)


def solid_png(colour: tuple[int, int, int], px: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (px, px), colour).save(buffer, "PNG")
    return buffer.getvalue()


def tile_colour(slide: int, i: int) -> tuple[int, int, int]:
    """A colour unique to (slide, tile): tiles are told apart by their pixels."""
    return (40 + 70 * slide, 20 + (7 * i) % 200, 230 - (11 * i) % 180)


LABELS = ("tumor", "stroma", "<i>necrosis</i>")


def write_slide(path: Path, slide: int, columns: int, rows: int, stray_at: tuple[int, int] | None = None,
                broken: tuple[int, ...] = (), labelled: bool = False) -> list[tuple[int, int]]:
    """A slide of columns x rows tiles (tile i at column i % columns, row i // columns), each a
    solid colour `tile_colour(slide, i)`; a stray tile appended at `stray_at`; tiles in
    `broken` hold bytes that are no image; `labelled`: a `label` field, LABELS[i % 3]. Returns
    the locations."""
    locations = [(STEP * (i % columns) + STEP // 2, STEP * (i // columns) + STEP // 2) for i in range(columns * rows)]
    if stray_at is not None:
        locations.append(stray_at)
    with open(path, "wb") as f:
        for i, (x, y) in enumerate(locations):
            image = b"\x89PNG\r\n\x1a\n not really" if i in broken else solid_png(tile_colour(slide, i))
            fields = {"image_raw": image, "slide": path.stem, "loc_x": x, "loc_y": y}
            if labelled:
                fields["label"] = LABELS[i % 3]
            f.write(frame_record(make_example(fields)))
    create_index(path)
    return locations
